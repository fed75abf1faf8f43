/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_reap.c: mproc_fork and exits, zombies and orphans: wait_any,
 * spawn_detached, autoreap, subreaper.
 * ctest-label: threads
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool wait_no_children(void)
{
    for (int i = 0; i < 5000; i++) {
        if (mproc_test_children() == 0)
            return true;
        mproc_test_nap();
    }
    return false;
}

/* ---- fork and exit ---------------------------------------------------------------- */

START_TEST(fork_returns_twice_and_exit_status)
{
    pid_t pid = mproc_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        mproc_exit(7);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 7);
}
END_TEST

START_TEST(exit_msg_prints_and_exits_1)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = mproc_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        mproc_exit_msg("cannot open %s: %d", "input", 3);
    }
    close(fds[1]);
    char buf[128] = {0};
    ck_assert_int_gt(read(fds[0], buf, sizeof buf - 1), 0);
    close(fds[0]);
    ck_assert_str_eq(buf, "cannot open input: 3\n");
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 1);
}
END_TEST

START_TEST(fork_flushes_stdio_first)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    close(fds[1]);
    printf("once\n"); /* buffered: the pipe makes stdout fully buffered */
    pid_t pid = mproc_fork();
    if (pid == 0)
        mproc_exit(0); /* flushes: a copied buffer would print twice */
    ck_assert_int_gt(pid, 0);
    waitpid(pid, NULL, 0);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char buf[64] = {0};
    ck_assert_int_gt(read(fds[0], buf, sizeof buf - 1), 0);
    close(fds[0]);
    ck_assert_str_eq(buf, "once\n");
}
END_TEST

/* ---- zombies ------------------------------------------------------------------------ */

START_TEST(zombie_shows_z_until_reaped)
{
    pid_t pid = mproc_fork();
    if (pid == 0)
        mproc_exit(3);
    ck_assert_int_gt(pid, 0);
    ck_assert_msg(mproc_test_wait_state(pid, 'Z'), "child %d never showed Z", (int)pid);
    mproc_procinfo info;
    ASSERT_OK(mproc_procinfo_get(pid, &info));
    ck_assert_int_eq(info.ppid, getpid());
    ck_assert_int_eq(mproc_test_children(), 1);
    pid_t got = 0;
    int code = 0;
    ASSERT_OK(mproc_wait_any(-1, &got, &code));
    ck_assert_int_eq(got, pid);
    ck_assert_int_eq(code, 3);
    ck_assert_int_eq(mproc_procinfo_get(pid, &info), -ESRCH);
}
END_TEST

START_TEST(wait_any_no_children_echild)
{
    ck_assert_int_eq(mproc_wait_any(0, NULL, NULL), -ECHILD);
    ck_assert_int_eq(mproc_wait_any(-1, NULL, NULL), -ECHILD);
    ck_assert_int_eq(mproc_wait_any(NAN, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(wait_any_timeout_then_signal_code)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    pid_t pid = mproc_fork();
    if (pid == 0) {
        char c;
        (void)!read(g.rd, &c, 1);
        raise(SIGUSR2);
        mproc_exit(0);
    }
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(mproc_wait_any(0, NULL, NULL), -ETIMEDOUT);
    ck_assert_int_eq(mproc_wait_any(0.15, NULL, NULL), -ETIMEDOUT);
    mproc_test_gate_signal(&g);
    pid_t got;
    int code;
    ASSERT_OK(mproc_wait_any(10, &got, &code));
    ck_assert_int_eq(got, pid);
    ck_assert_int_eq(code, -SIGUSR2);
    mproc_test_gate_close(&g);
}
END_TEST

static int ret5(void *arg)
{
    (void)arg;
    return 5;
}

START_TEST(wait_any_never_takes_a_managed_child)
{
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret5, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ck_assert(mproc_test_wait_state(mproc_process_pid(p), 'Z'));
    ck_assert_int_eq(mproc_wait_any(0, NULL, NULL), -ECHILD);
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 5);
    mproc_process_free(p);
}
END_TEST

/* ---- the double fork ------------------------------------------------------------- */

static int report_parent(void *arg)
{
    int fd = (int)(intptr_t)arg;
    pid_t pp = getppid();
    return write(fd, &pp, sizeof pp) == sizeof pp ? 0 : 1;
}

START_TEST(spawn_detached_leaves_no_zombie)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    pid_t gc = mproc_spawn_detached(report_parent, (void *)(intptr_t)g.wr);
    ck_assert_int_gt(gc, 0);
    /* The intermediate child is already reaped; the grandchild is not ours. */
    pid_t pp = 0;
    ck_assert_int_eq(read(g.rd, &pp, sizeof pp), (ssize_t)sizeof pp);
    ck_assert_int_ne(pp, getpid());
    ck_assert_int_eq(mproc_wait_any(0, NULL, NULL), -ECHILD);
    ck_assert_int_eq(mproc_spawn_detached(NULL, NULL), -EINVAL);
    mproc_test_gate_close(&g);
}
END_TEST

/* ---- autoreap ------------------------------------------------------------------------- */

START_TEST(autoreap_reaps_strays_keeps_managed_status)
{
    ASSERT_OK(mproc_autoreap(true));
    ASSERT_OK(mproc_autoreap(true)); /* twice is fine */
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret5, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    pid_t stray = mproc_fork();
    if (stray == 0)
        mproc_exit(0);
    ck_assert_int_gt(stray, 0);
    /* The stray disappears without a wait; the managed child stays a zombie
       for its owner. */
    ck_assert_msg(mproc_test_wait_gone(stray, 10), "stray %d not gone", (int)stray);
    for (int i = 0; i < 5000; i++) {
        mproc_procinfo info;
        if (mproc_procinfo_get(stray, &info) == -ESRCH)
            break;
        mproc_test_nap();
    }
    mproc_procinfo info;
    ck_assert_int_eq(mproc_procinfo_get(stray, &info), -ESRCH);
    ck_assert(mproc_test_wait_state(mproc_process_pid(p), 'Z'));
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 5);
    mproc_process_free(p);
    ASSERT_OK(mproc_autoreap(false));
}
END_TEST

START_TEST(autoreap_many_strays)
{
    ASSERT_OK(mproc_autoreap(true));
    for (int i = 0; i < 50; i++) {
        pid_t pid = mproc_fork();
        if (pid == 0)
            mproc_exit(0);
        ck_assert_int_gt(pid, 0);
    }
    ck_assert_msg(wait_no_children(), "zombies left: %d", mproc_test_children());
    ASSERT_OK(mproc_autoreap(false));
}
END_TEST

/* ---- subreaper ----------------------------------------------------------------------- */

START_TEST(subreaper_adopts_orphans)
{
    ASSERT_OK(mproc_subreaper(true));
    mproc_test_gate g, release;
    mproc_test_gate_open(&g);
    mproc_test_gate_open(&release);
    pid_t child = mproc_fork();
    if (child == 0) {
        pid_t gc = fork();
        if (gc == 0) {
            char c;
            (void)!read(release.rd, &c, 1);
            _exit(9);
        }
        (void)!write(g.wr, &gc, sizeof gc);
        _exit(0); /* orphans the grandchild */
    }
    ck_assert_int_gt(child, 0);
    pid_t gc = 0;
    ck_assert_int_eq(read(g.rd, &gc, sizeof gc), (ssize_t)sizeof gc);
    pid_t got;
    int code;
    ASSERT_OK(mproc_wait_any(-1, &got, &code));
    ck_assert_int_eq(got, child);
    /* Adopted by us, not by init. */
    mproc_procinfo info;
    ASSERT_OK(mproc_procinfo_get(gc, &info));
    ck_assert_int_eq(info.ppid, getpid());
    mproc_test_gate_signal(&release);
    ASSERT_OK(mproc_wait_any(10, &got, &code));
    ck_assert_int_eq(got, gc);
    ck_assert_int_eq(code, 9);
    ASSERT_OK(mproc_subreaper(false));
    mproc_test_gate_close(&g);
    mproc_test_gate_close(&release);
}
END_TEST

/* ---- found in review ------------------------------------------------------------- */

/* Autoreap inside a child started by mproc_process: the child's copy of the
   fork bookkeeping must not make its autoreaper skip forever. */
static int autoreap_in_child(void *arg)
{
    (void)arg;
    if (mproc_autoreap(true) < 0)
        return 1;
    for (int i = 0; i < 5; i++) {
        pid_t pid = mproc_fork();
        if (pid == 0)
            mproc_exit(0);
        if (pid < 0)
            return 2;
    }
    for (int i = 0; i < 5000; i++) {
        if (mproc_procinfo_children(0, NULL, 0) == 0)
            return 0;
        mproc_test_nap();
    }
    return 3;
}

START_TEST(autoreap_works_in_a_process_child)
{
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, autoreap_in_child, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 0);
    mproc_process_free(p);
}
END_TEST

static atomic_bool stop_waiting;

static void *wait_any_loop(void *arg)
{
    int *stolen = arg;
    while (!atomic_load(&stop_waiting)) {
        int code;
        if (mproc_wait_any(0, NULL, &code) == 0 && code == 42)
            (*stolen)++;
    }
    return NULL;
}

static int ret42(void *arg)
{
    (void)arg;
    return 42;
}

/* A thread reaping strays with wait_any while another starts processes:
   no process object ever loses its status to it. */
START_TEST(wait_any_races_process_starts)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    pid_t stray = mproc_fork(); /* keeps wait_any busy scanning */
    if (stray == 0) {
        close(g.wr);
        char c;
        (void)!read(g.rd, &c, 1);
        mproc_exit(0);
    }
    int stolen = 0;
    pthread_t t;
    atomic_store(&stop_waiting, false);
    ck_assert_int_eq(pthread_create(&t, NULL, wait_any_loop, &stolen), 0);
    int wrong = 0;
    for (int i = 0; i < 500; i++) {
        mproc_process *p;
        ASSERT_OK(mproc_process_new(&p, ret42, NULL, NULL));
        ASSERT_OK(mproc_process_start(p));
        ASSERT_OK(mproc_process_join(p, -1));
        int code = -1;
        mproc_process_exitcode(p, &code);
        wrong += code != 42;
        mproc_process_free(p);
    }
    atomic_store(&stop_waiting, true);
    pthread_join(t, NULL);
    mproc_test_gate_close(&g); /* the stray ends */
    waitpid(stray, NULL, 0);
    ck_assert_int_eq(stolen, 0);
    ck_assert_int_eq(wrong, 0);
}
END_TEST

/* The one ended child among 300 is found, wherever it stands in the list. */
START_TEST(wait_any_finds_one_among_many)
{
    enum { N = 300 };
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    pid_t last = 0;
    for (int i = 0; i < N; i++) {
        pid_t pid = mproc_fork();
        if (pid == 0) {
            close(g.wr);
            if (i == N - 1)
                mproc_exit(7);
            char c;
            (void)!read(g.rd, &c, 1);
            mproc_exit(0);
        }
        ck_assert_int_gt(pid, 0);
        last = pid;
    }
    pid_t got = 0;
    int code = -1;
    ASSERT_OK(mproc_wait_any(10, &got, &code));
    ck_assert_int_eq(got, last);
    ck_assert_int_eq(code, 7);
    mproc_test_gate_close(&g);
    for (int i = 0; i < N - 1; i++)
        ASSERT_OK(mproc_wait_any(10, NULL, NULL));
    ck_assert_int_eq(mproc_wait_any(0, NULL, NULL), -ECHILD);
}
END_TEST

/* A raw fork's child frees its copy of the parent's process object: the
   child's own list stays empty. */
START_TEST(inherited_copy_freed_in_child)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *a, *b;
    ASSERT_OK(mproc_process_new(&a, ret42, NULL, NULL));
    ASSERT_OK(mproc_process_new(&b, ret42, NULL, NULL));
    ASSERT_OK(mproc_process_start(a));
    ASSERT_OK(mproc_process_start(b));
    pid_t pid = mproc_fork();
    if (pid == 0) {
        mproc_process_free(b); /* the parent's list head */
        mproc_exit(mproc_active_children(NULL, 0) == 0 ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    mproc_process_free(a);
    mproc_process_free(b);
    mproc_test_gate_close(&g);
}
END_TEST

/* A timeout too long for the kernel's timespec is a wait forever, not an
   error. */
START_TEST(huge_timeouts_wait)
{
    mproc_sem *sem;
    ASSERT_OK(mproc_sem_new(&sem, 0, 0));
    pid_t pid = mproc_fork();
    if (pid == 0) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        mproc_exit(mproc_sem_release(sem) == 0 ? 0 : 1);
    }
    ASSERT_OK(mproc_sem_acquire(sem, 1e19));
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret42, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, 1e300));
    mproc_process_free(p);
    ASSERT_OK(mproc_wait_any(1e300, NULL, NULL));
    mproc_sem_free(sem);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "reap", 20);
    tcase_add_test(tc, fork_returns_twice_and_exit_status);
    tcase_add_test(tc, exit_msg_prints_and_exits_1);
    tcase_add_test(tc, fork_flushes_stdio_first);
    tcase_add_test(tc, zombie_shows_z_until_reaped);
    tcase_add_test(tc, wait_any_no_children_echild);
    tcase_add_test(tc, wait_any_timeout_then_signal_code);
    tcase_add_test(tc, wait_any_never_takes_a_managed_child);
    tcase_add_test(tc, spawn_detached_leaves_no_zombie);
    tcase_add_test(tc, autoreap_reaps_strays_keeps_managed_status);
    tcase_add_test(tc, autoreap_many_strays);
    tcase_add_test(tc, subreaper_adopts_orphans);
    tcase_add_test(tc, autoreap_works_in_a_process_child);
    tcase_add_test(tc, wait_any_races_process_starts);
    tcase_add_test(tc, wait_any_finds_one_among_many);
    tcase_add_test(tc, inherited_copy_freed_in_child);
    tcase_add_test(tc, huge_timeouts_wait);
}
