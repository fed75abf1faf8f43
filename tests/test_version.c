/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_version.c: the version in one place, and the name of every code. */
#include "harness.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

START_TEST(version_matches_headers)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MPROC_VERSION_MAJOR, MPROC_VERSION_MINOR,
             MPROC_VERSION_PATCH);
    ck_assert_str_eq(mproc_version(), want);
    ck_assert_str_eq(MPROC_VERSION_STRING, want);
    ck_assert_int_eq(MPROC_VERSION_NUMBER,
                     MPROC_VERSION_MAJOR * 10000 + MPROC_VERSION_MINOR * 100 + MPROC_VERSION_PATCH);
    ck_assert_int_ge(MPROC_VERSION_NUMBER, 200);
}
END_TEST

START_TEST(tool_prints_version)
{
    char cmd[4200], line[128] = "", want[64];
    snprintf(cmd, sizeof cmd, "'%s' --version", MPROC_TOOL);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_int_eq(pclose(f), 0);
    snprintf(want, sizeof want, "mproc %s\n", mproc_version());
    ck_assert_str_eq(line, want);
}
END_TEST

START_TEST(errname_library_codes)
{
    ck_assert_str_eq(mproc_errname(0), "OK");
    ck_assert_str_eq(mproc_errname(MPROC_ETASK), "MPROC_ETASK");
    ck_assert_str_eq(mproc_errname(MPROC_EWORKER), "MPROC_EWORKER");
    ck_assert_str_eq(mproc_errname(MPROC_ETASKTIMEOUT), "MPROC_ETASKTIMEOUT");
    ck_assert_str_eq(mproc_errname(MPROC_EINIT), "MPROC_EINIT");
    ck_assert_str_eq(mproc_errname(-10005), "MPROC_ERANKLOST");
    ck_assert_str_eq(mproc_errname(-10006), "UNKNOWN");
    ck_assert_str_eq(mproc_errname(-99999), "UNKNOWN");
    ck_assert_str_eq(mproc_errname(EINVAL), "UNKNOWN"); /* codes are negative */
    ck_assert_str_eq(mproc_errname(12345), "UNKNOWN");
}
END_TEST

START_TEST(errname_errno_values)
{
    ck_assert_str_eq(mproc_errname(-EINVAL), "EINVAL");
    ck_assert_str_eq(mproc_errname(-EPERM), "EPERM");
    ck_assert_str_eq(mproc_errname(-ETIMEDOUT), "ETIMEDOUT");
    ck_assert_str_eq(mproc_errname(-EOWNERDEAD), "EOWNERDEAD");
    ck_assert_str_eq(mproc_errname(-ENOTRECOVERABLE), "ENOTRECOVERABLE");
    ck_assert_str_eq(mproc_errname(-EPIPE), "EPIPE");
    ck_assert_str_eq(mproc_errname(-EWOULDBLOCK), "EAGAIN");
    ck_assert_str_eq(mproc_errname(-ENOTSUP), "EOPNOTSUPP");
    ck_assert_str_eq(mproc_errname(-EHWPOISON), "EHWPOISON");
    /* Every value from 1 to the highest Linux defines has a name, except the
       two numbers Linux leaves unused on most architectures (41, 58). */
    for (int e = 1; e <= EHWPOISON; e++) {
        if (e == 41 || e == 58)
            continue;
        const char *n = mproc_errname(-e);
        ck_assert_msg(n[0] == 'E' && strcmp(n, "UNKNOWN") != 0, "errno %d: expected a name, got %s",
                      e, n);
        /* A name belongs to its value, and the text is the system's. */
        ck_assert_str_eq(mproc_strerror(-e), e == ETIMEDOUT ? "timed out" : strerror(e));
    }
    ck_assert_str_eq(mproc_errname(-(EHWPOISON + 1)), "UNKNOWN");
    ck_assert_str_eq(mproc_strerror(-(EHWPOISON + 1)), "unknown error");
}
END_TEST

/* Option structs keep their size and field offsets from one release to the
   next: reserved_ comes last, and a new option takes a reserved slot. The
   sizes below are 0.2's on LP64; a change to one is an ABI change. */
#define OPTS_LAST(T)                                                           \
    ck_assert_uint_eq(sizeof(T), offsetof(T, reserved_) + sizeof(((T *)0)->reserved_))
#define OPTS_ZERO(T)                                                           \
    do {                                                                       \
        T o_ = { 0 };                                                          \
        for (size_t i_ = 0; i_ < sizeof o_.reserved_ / sizeof o_.reserved_[0]; i_++) \
            ck_assert_uint_eq(o_.reserved_[i_], 0);                            \
    } while (0)

START_TEST(option_structs_keep_their_layout)
{
    OPTS_LAST(mproc_process_opts);
    OPTS_LAST(mproc_pool_opts);
    OPTS_LAST(mproc_submit_opts);
    OPTS_LAST(mproc_pipe_opts);
    OPTS_LAST(mproc_shm_opts);
    OPTS_LAST(mproc_queue_opts);
    OPTS_ZERO(mproc_process_opts);
    OPTS_ZERO(mproc_pool_opts);
    OPTS_ZERO(mproc_submit_opts);
    OPTS_ZERO(mproc_queue_opts);
    if (sizeof(void *) == 8 && sizeof(long) == 8) {
        ck_assert_uint_eq(sizeof(mproc_process_opts), 48);
        ck_assert_uint_eq(sizeof(mproc_pool_opts), 72);
        ck_assert_uint_eq(sizeof(mproc_submit_opts), 64);
        ck_assert_uint_eq(sizeof(mproc_pipe_opts), 40);
        ck_assert_uint_eq(sizeof(mproc_shm_opts), 40);
        ck_assert_uint_eq(sizeof(mproc_queue_opts), 64);
        ck_assert_uint_eq(offsetof(mproc_pool_opts, task_timeout), 32);
        ck_assert_uint_eq(offsetof(mproc_queue_opts, attachers), 24);
    }
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "version", 30);
    tcase_add_test(tc, version_matches_headers);
    if (MPROC_TOOL[0]) /* empty where no tool is built */
        tcase_add_test(tc, tool_prints_version);
    tcase_add_test(tc, option_structs_keep_their_layout);
    tc = mproc_tcase(s, "errname", 30);
    tcase_add_test(tc, errname_library_codes);
    tcase_add_test(tc, errname_errno_values);
}
