/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_procinfo.c: what mproc_procinfo_get and mproc_procinfo_children
 * report: parent, state letters as ps prints them, odd names, children. */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

START_TEST(procinfo_of_self)
{
    mproc_procinfo info;
    ASSERT_OK(mproc_procinfo_get(0, &info));
    ck_assert_int_eq(info.pid, getpid());
    ck_assert_int_eq(info.ppid, getppid());
    ck_assert_int_eq(info.pgrp, getpgrp());
    ck_assert_int_eq(info.state, 'R');
    char comm[64] = {0};
    prctl(PR_GET_NAME, comm);
    ck_assert_str_eq(info.name, comm);
    ck_assert_int_gt((long)info.rss, 0);
    ck_assert_int_ge(info.threads, 1);
    double now = (double)time(NULL);
    ck_assert_double_le(info.start_time, now + 1);
    ck_assert_double_gt(info.start_time, now - 3600);
}
END_TEST

START_TEST(procinfo_states_and_odd_names)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    pid_t pid = mproc_fork();
    if (pid == 0) {
        prctl(PR_SET_NAME, "a) b (c");
        mproc_test_gate_signal(&g);
        for (;;)
            pause();
    }
    ck_assert_int_gt(pid, 0);
    ck_assert(mproc_test_gate_wait(&g, 10));
    ck_assert(mproc_test_wait_state(pid, 'S'));
    mproc_procinfo info;
    ASSERT_OK(mproc_procinfo_get(pid, &info));
    ck_assert_str_eq(info.name, "a) b (c");
    ck_assert_int_eq(info.ppid, getpid());
    kill(pid, SIGSTOP);
    ck_assert(mproc_test_wait_state(pid, 'T'));
    kill(pid, SIGKILL);
    ck_assert(mproc_test_wait_state(pid, 'Z'));
    waitpid(pid, NULL, 0);
    mproc_test_gate_close(&g);
}
END_TEST

START_TEST(procinfo_children_listed_in_order)
{
    pid_t kids[3];
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    for (int i = 0; i < 3; i++) {
        kids[i] = mproc_fork();
        if (kids[i] == 0) {
            close(g.wr);
            char c;
            (void)!read(g.rd, &c, 1);
            mproc_exit(0);
        }
    }
    pid_t out[8];
    ck_assert_int_eq(mproc_procinfo_children(0, out, 8), 3);
    for (int i = 0; i < 3; i++) {
        bool found = false;
        for (int j = 0; j < 3; j++)
            found |= out[j] == kids[i];
        ck_assert(found);
    }
    ck_assert_int_lt(out[0], out[1]);
    ck_assert_int_lt(out[1], out[2]);
    ck_assert_int_eq(mproc_procinfo_children(getpid(), out, 1), 3); /* count beyond cap */
    close(g.wr);
    g.wr = -1;
    for (int i = 0; i < 3; i++)
        waitpid(kids[i], NULL, 0);
    mproc_test_gate_close(&g);
}
END_TEST

START_TEST(procinfo_bad_input)
{
    mproc_procinfo info;
    ck_assert_int_eq(mproc_procinfo_get(-1, &info), -EINVAL);
    ck_assert_int_eq(mproc_procinfo_get(0, NULL), -EINVAL);
    ck_assert_int_eq(mproc_procinfo_get(999999999, &info), -ESRCH);
    ck_assert_int_eq(mproc_procinfo_children(-5, NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_procinfo_children(0, NULL, 3), -EINVAL);
    ck_assert_int_eq(mproc_procinfo_children(999999999, NULL, 0), -ESRCH);
}
END_TEST

/* More children than fit a small buffer: every one listed, nothing made up. */
START_TEST(procinfo_many_children)
{
    enum { N = 3000 };
    static pid_t kids[N], out[N + 8];
    for (int i = 0; i < N; i++) {
        kids[i] = mproc_fork();
        if (kids[i] == 0)
            mproc_exit(0);
        ck_assert_int_gt(kids[i], 0);
    }
    int n = mproc_procinfo_children(0, out, N + 8);
    int missing = 0;
    for (int i = 0; i < N; i++) {
        bool found = false;
        for (int j = 0; j < n && !found; j++)
            found = out[j] == kids[i];
        missing += !found;
    }
    for (int i = 0; i < N; i++)
        waitpid(kids[i], NULL, 0);
    ck_assert_int_eq(n, N);
    ck_assert_int_eq(missing, 0);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "procinfo", 20);
    tcase_add_test(tc, procinfo_of_self);
    tcase_add_test(tc, procinfo_states_and_odd_names);
    tcase_add_test(tc, procinfo_children_listed_in_order);
    tcase_add_test(tc, procinfo_bad_input);
    tcase_add_test(tc, procinfo_many_children);
}
