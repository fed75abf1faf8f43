/* test_machine.c: errors and the CPU count. */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

START_TEST(strerror_every_code)
{
    ck_assert_str_eq(mproc_strerror(0), "success");
    ck_assert_str_eq(mproc_strerror(-EINVAL), "Invalid argument");
    ck_assert_str_eq(mproc_strerror(MPROC_EWORKER), "the worker died while running the task");
    ck_assert_ptr_nonnull(strstr(mproc_strerror(MPROC_ETASK), "task"));
    ck_assert_ptr_nonnull(strstr(mproc_strerror(MPROC_ETASKTIMEOUT), "timeout"));
    ck_assert_ptr_nonnull(strstr(mproc_strerror(MPROC_EINIT), "initializer"));
    ck_assert_str_eq(mproc_strerror(12345), "unknown error");
    ck_assert_str_eq(mproc_strerror(-99999), "unknown error");
}
END_TEST

START_TEST(cpu_count_follows_affinity)
{
    int all = mproc_cpu_count();
    ck_assert_int_ge(all, 1);
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    ck_assert_int_le(all, CPU_COUNT(&set));
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &set))
            first = i;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    ck_assert_int_eq(mproc_cpu_count(), 1);
    ck_assert_int_eq(sched_setaffinity(0, sizeof set, &set), 0);
    ck_assert_int_eq(mproc_cpu_count(), all);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "machine", 10);
    tcase_add_test(tc, strerror_every_code);
    tcase_add_test(tc, cpu_count_follows_affinity);
}
