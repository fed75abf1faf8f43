/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_process.c: Process objects: start, join, exit codes, names, daemons,
 * stdin, stdio, terminate/kill, bad input, fork failure.
 * ctest-label: threads
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static int raise_arg(void *arg)
{
    raise((int)(intptr_t)arg);
    return 0;
}

/* Writes one byte to the gate's write end, then blocks until killed. */
static int signal_then_pause(void *arg)
{
    mproc_test_gate *g = arg;
    mproc_test_gate_signal(g);
    for (;;)
        pause();
    return 0;
}

static int block_on_gate(void *arg)
{
    mproc_test_gate *g = arg;
    char c;
    return read(g->rd, &c, 1) == 1 ? 7 : 8;
}

START_TEST(start_join_exitcode)
{
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret_arg, (void *)(intptr_t)42, NULL));
    int code = 99;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 0);
    ck_assert_int_eq(code, 99);
    ck_assert(!mproc_process_is_alive(p));
    ck_assert_int_eq(mproc_process_pid(p), 0);
    ASSERT_OK(mproc_process_start(p));
    ck_assert_int_gt(mproc_process_pid(p), 0);
    ASSERT_OK(mproc_process_join(p, -1));
    ck_assert(!mproc_process_is_alive(p));
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 42);
    /* join again: the same answer, no error */
    ASSERT_OK(mproc_process_join(p, 0));
    mproc_process_free(p);
}
END_TEST

START_TEST(exit_status_kept_mod_256)
{
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret_arg, (void *)(intptr_t)257, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 1);
    mproc_process_free(p);
}
END_TEST

START_TEST(signal_gives_negative_code)
{
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, raise_arg, (void *)(intptr_t)SIGUSR1, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, -SIGUSR1);
    mproc_process_free(p);
}
END_TEST

START_TEST(join_timeout_then_terminate)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, signal_then_pause, &g, NULL));
    ASSERT_OK(mproc_process_start(p));
    ck_assert(mproc_test_gate_wait(&g, 10));
    ck_assert_int_eq(mproc_process_join(p, 0), -ETIMEDOUT);
    ck_assert_int_eq(mproc_process_join(p, 0.05), -ETIMEDOUT);
    ck_assert(mproc_process_is_alive(p));
    int code = 99;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 0);
    ASSERT_OK(mproc_process_terminate(p));
    ASSERT_OK(mproc_process_join(p, -1));
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, -SIGTERM);
    /* after the reap: no signal, no error (never a recycled PID) */
    ASSERT_OK(mproc_process_kill(p));
    ASSERT_OK(mproc_process_terminate(p));
    mproc_process_free(p);
    mproc_test_gate_close(&g);
}
END_TEST

START_TEST(kill_gives_minus_9)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, signal_then_pause, &g, NULL));
    ASSERT_OK(mproc_process_start(p));
    ck_assert(mproc_test_gate_wait(&g, 10));
    ASSERT_OK(mproc_process_kill(p));
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, -SIGKILL);
    mproc_process_free(p);
    mproc_test_gate_close(&g);
}
END_TEST

START_TEST(timeout_never_early)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, signal_then_pause, &g, NULL));
    ASSERT_OK(mproc_process_start(p));
    ck_assert(mproc_test_gate_wait(&g, 10));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert_int_eq(mproc_process_join(p, 0.2), -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    ck_assert_double_ge(took, 0.2);
    mproc_process_free(p);
    mproc_test_gate_close(&g);
}
END_TEST

START_TEST(free_running_kills_and_reaps)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, signal_then_pause, &g, NULL));
    ASSERT_OK(mproc_process_start(p));
    ck_assert(mproc_test_gate_wait(&g, 10));
    pid_t pid = mproc_process_pid(p);
    mproc_process_free(p);
    mproc_procinfo info;
    ck_assert_int_eq(mproc_procinfo_get(pid, &info), -ESRCH);
    ck_assert_int_eq(mproc_test_children(), 0);
    mproc_test_gate_close(&g);
}
END_TEST

static char name_seen[64];
/* What a child may do with its own object: read it, never wait on it. */
static int use_self(void *arg)
{
    (void)arg;
    mproc_process *me = (mproc_process *)mproc_current_process();
    int code = 0;
    if (!mproc_process_is_alive(me) || mproc_process_exitcode(me, &code) != 0 ||
        mproc_process_join(me, 0) != -EINVAL || mproc_process_start(me) != -EINVAL ||
        mproc_process_terminate(me) != -EINVAL || mproc_process_pid(me) != getpid())
        return 1;
    mproc_process_free(me); /* ignored */
    return 0;
}

START_TEST(child_uses_its_own_object)
{
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, use_self, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, 10));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 0);
    mproc_process *main_obj = (mproc_process *)mproc_current_process();
    ck_assert_int_eq(mproc_process_join(main_obj, 0), -EINVAL);
    ck_assert(mproc_process_is_alive(main_obj));
    mproc_process_free(p);
}
END_TEST

static int report_name(void *arg)
{
    int fd = (int)(intptr_t)arg;
    const mproc_process *me = mproc_current_process();
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s %d", mproc_process_name(me),
                     mproc_process_pid(me) == getpid());
    return write(fd, buf, (size_t)n) == n ? 0 : 1;
}

START_TEST(names_and_current_process)
{
    ck_assert_str_eq(mproc_process_name(mproc_current_process()), "MainProcess");
    ck_assert_int_eq(mproc_process_pid(mproc_current_process()), getpid());
    mproc_process *a, *b;
    ASSERT_OK(mproc_process_new(&a, ret_arg, NULL, NULL));
    mproc_process_opts o = { .name = "worker" };
    ASSERT_OK(mproc_process_new(&b, ret_arg, NULL, &o));
    ck_assert_str_eq(mproc_process_name(b), "worker");
    ck_assert(strncmp(mproc_process_name(a), "Process-", 8) == 0);
    int na = atoi(mproc_process_name(a) + 8);
    ck_assert_int_ge(na, 1);
    mproc_process_free(a);
    mproc_process_free(b);

    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *c;
    ASSERT_OK(mproc_process_new(&c, report_name, (void *)(intptr_t)g.wr, NULL));
    ASSERT_OK(mproc_process_start(c));
    ASSERT_OK(mproc_process_join(c, -1));
    char buf[128] = {0};
    ck_assert_int_gt(read(g.rd, buf, sizeof buf - 1), 0);
    char expect[128];
    snprintf(expect, sizeof expect, "%s 1", mproc_process_name(c));
    ck_assert_str_eq(buf, expect);
    mproc_process_free(c);
    mproc_test_gate_close(&g);
    (void)name_seen;
}
END_TEST

/* A child that starts its own child reports that child's name. */
static int nested_parent(void *arg)
{
    mproc_process *k;
    if (mproc_process_new(&k, report_name, arg, NULL) < 0 || mproc_process_start(k) < 0)
        return 1;
    int rc = mproc_process_join(k, -1);
    int code = -1;
    mproc_process_exitcode(k, &code);
    mproc_process_free(k);
    return rc == 0 && code == 0 ? 0 : 2;
}

START_TEST(nested_children_named_n_k)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, nested_parent, (void *)(intptr_t)g.wr, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 0);
    char buf[128] = {0};
    ck_assert_int_gt(read(g.rd, buf, sizeof buf - 1), 0);
    char expect[128];
    snprintf(expect, sizeof expect, "%s:1 1", mproc_process_name(p));
    ck_assert_str_eq(buf, expect);
    mproc_process_free(p);
    mproc_test_gate_close(&g);
}
END_TEST

static int read_stdin(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = read(0, &c, 1);
    return n == 0 ? 0 : 3; /* /dev/null gives end of file at once */
}

START_TEST(stdin_is_dev_null)
{
    /* Our stdin is a pipe that never ends: only /dev/null gives EOF. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    int saved = dup(0);
    dup2(fds[0], 0);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, read_stdin, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ck_assert_int_eq(mproc_process_join(p, 10), 0);
    int code;
    mproc_process_exitcode(p, &code);
    ck_assert_int_eq(code, 0);
    mproc_process_free(p);

    /* keep_stdin: the child reads the parent's stdin. */
    mproc_process_opts o = { .keep_stdin = true };
    ASSERT_OK(mproc_process_new(&p, read_stdin, NULL, &o));
    ASSERT_OK(mproc_process_start(p));
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    ASSERT_OK(mproc_process_join(p, 10));
    mproc_process_exitcode(p, &code);
    ck_assert_int_eq(code, 3);
    mproc_process_free(p);
    dup2(saved, 0);
    close(saved);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

static int print_child(void *arg)
{
    (void)arg;
    printf("child line\n"); /* left in the buffer: the exit path must flush it */
    return 0;
}

START_TEST(stdio_flushed_never_twice)
{
    /* stdout to a pipe (fully buffered) holding an unflushed parent line. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    close(fds[1]);
    printf("parent line\n");
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, print_child, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, -1));
    mproc_process_free(p);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char buf[256] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(buf, "parent line\nchild line\n");
}
END_TEST

static int atexit_fd = -1;
static void atexit_marker(void)
{
    (void)!write(atexit_fd, "A", 1);
}

START_TEST(parent_atexit_not_run_in_child)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    atexit_fd = g.wr;
    atexit(atexit_marker);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret_arg, NULL, NULL));
    ASSERT_OK(mproc_process_start(p));
    ASSERT_OK(mproc_process_join(p, -1));
    mproc_process_free(p);
    close(g.wr);
    char c;
    ck_assert_int_eq(read(g.rd, &c, 1), 0); /* nothing written: EOF */
    close(g.rd);
    atexit_fd = -1;
}
END_TEST

START_TEST(bad_input)
{
    mproc_process *p = NULL;
    ck_assert_int_eq(mproc_process_new(NULL, ret_arg, NULL, NULL), -EINVAL);
    ck_assert_int_eq(mproc_process_new(&p, NULL, NULL, NULL), -EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mproc_process_start(NULL), -EINVAL);
    ck_assert_int_eq(mproc_process_join(NULL, 1), -EINVAL);
    ck_assert_int_eq(mproc_process_terminate(NULL), -EINVAL);
    ck_assert_int_eq(mproc_process_kill(NULL), -EINVAL);
    ck_assert(!mproc_process_is_alive(NULL));
    int code;
    ck_assert_int_eq(mproc_process_exitcode(NULL, &code), -EINVAL);
    mproc_process_free(NULL);

    ASSERT_OK(mproc_process_new(&p, ret_arg, NULL, NULL));
    ck_assert_int_eq(mproc_process_join(p, 1), -EINVAL);   /* before start */
    ck_assert_int_eq(mproc_process_terminate(p), -EINVAL); /* before start */
    ck_assert_int_eq(mproc_process_kill(p), -EINVAL);
    ck_assert_int_eq(mproc_process_exitcode(p, NULL), -EINVAL);
    ASSERT_OK(mproc_process_start(p));
    ck_assert_int_eq(mproc_process_start(p), -EINVAL); /* twice */
    ck_assert_int_eq(mproc_process_join(p, NAN), -EINVAL);
    ASSERT_OK(mproc_process_join(p, -1));
    ck_assert_int_eq(mproc_process_start(p), -EINVAL); /* after the end */
    mproc_process_free(p);
}
END_TEST

START_TEST(fork_failure_eagain_nothing_leaked)
{
    mproc_test_drop_root();
    struct rlimit old, zero;
    ck_assert_int_eq(getrlimit(RLIMIT_NPROC, &old), 0);
    zero = (struct rlimit){ 0, old.rlim_max };
    ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &zero), 0);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, ret_arg, NULL, NULL));
    ck_assert_int_eq(mproc_process_start(p), -EAGAIN);
    ck_assert(!mproc_process_is_alive(p));
    ck_assert_int_eq(mproc_process_pid(p), 0);
    ck_assert_int_eq(mproc_process_join(p, 0), -EINVAL); /* still not started */
    ck_assert_int_eq(mproc_fork(), -EAGAIN);
    mproc_process_free(p);
    /* The sanitizers' exit checks need a thread of their own. */
    ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &old), 0);
}
END_TEST

/* ---- concurrency: several threads on one process ------------------------------ */

static void *join_thread(void *arg)
{
    return (void *)(intptr_t)mproc_process_join(arg, -1);
}

START_TEST(many_threads_join_one_process)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, block_on_gate, &g, NULL));
    ASSERT_OK(mproc_process_start(p));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, join_thread, p), 0);
    mproc_test_gate_signal(&g);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        ck_assert_int_eq((int)(intptr_t)r, 0);
    }
    int code;
    ck_assert_int_eq(mproc_process_exitcode(p, &code), 1);
    ck_assert_int_eq(code, 7);
    mproc_process_free(p);
    mproc_test_gate_close(&g);
}
END_TEST

/* ---- daemons ---------------------------------------------------------------------- */

typedef struct {
    int report_fd; /* the grandchild's pid is written here */
    bool from_thread;
} daemon_ctx;

static void *start_daemon_thread(void *arg)
{
    mproc_process *d = arg;
    return (void *)(intptr_t)mproc_process_start(d);
}

/* Runs in a child: starts a daemon (from a short-lived thread, optionally),
   reports the daemon's pid, then waits to be killed. */
static int daemon_owner(void *arg)
{
    daemon_ctx *ctx = arg;
    mproc_test_gate inner;
    mproc_test_gate_open(&inner);
    mproc_process_opts o = { .daemon = true };
    mproc_process *d;
    if (mproc_process_new(&d, signal_then_pause, &inner, &o) < 0)
        return 1;
    if (ctx->from_thread) {
        pthread_t t;
        void *r;
        if (pthread_create(&t, NULL, start_daemon_thread, d) != 0)
            return 2;
        pthread_join(t, &r); /* the starting thread is gone now */
        if ((intptr_t)r != 0)
            return 3;
    } else if (mproc_process_start(d) < 0) {
        return 3;
    }
    if (!mproc_test_gate_wait(&inner, 10))
        return 4;
    pid_t pid = mproc_process_pid(d);
    if (write(ctx->report_fd, &pid, sizeof pid) != sizeof pid)
        return 5;
    for (;;)
        pause();
}

static void daemon_dies_with_owner(bool from_thread)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    daemon_ctx ctx = { .report_fd = g.wr, .from_thread = from_thread };
    mproc_process *owner;
    ASSERT_OK(mproc_process_new(&owner, daemon_owner, &ctx, NULL));
    ASSERT_OK(mproc_process_start(owner));
    pid_t dpid = 0;
    ck_assert_int_eq(read(g.rd, &dpid, sizeof dpid), (ssize_t)sizeof dpid);
    ck_assert(mproc_test_alive(dpid));
    /* The starting thread has exited; the daemon must still be alive. */
    ck_assert(mproc_test_alive(dpid));
    ASSERT_OK(mproc_process_kill(owner));
    ASSERT_OK(mproc_process_join(owner, -1));
    ck_assert_msg(mproc_test_wait_gone(dpid, 5), "daemon %d outlived its owner", (int)dpid);
    mproc_process_free(owner);
    mproc_test_gate_close(&g);
}

START_TEST(daemon_dies_when_owner_killed)
{
    daemon_dies_with_owner(false);
}
END_TEST

START_TEST(daemon_from_exited_thread_lives_then_dies_with_owner)
{
    daemon_dies_with_owner(true);
}
END_TEST

/* In a child: starts a daemon that pauses and a non-daemon that blocks on
   a gate, then returns: the exit path must terminate the daemon and join the
   non-daemon (which the test releases). */
typedef struct {
    int report_fd;
    mproc_test_gate *release;
} exit_ctx;

static int exit_owner(void *arg)
{
    exit_ctx *ctx = arg;
    mproc_test_gate ready;
    mproc_test_gate_open(&ready);
    mproc_process_opts o = { .daemon = true };
    mproc_process *d, *n;
    if (mproc_process_new(&d, signal_then_pause, &ready, &o) < 0 || mproc_process_start(d) < 0)
        return 1;
    if (!mproc_test_gate_wait(&ready, 10))
        return 2;
    if (mproc_process_new(&n, block_on_gate, ctx->release, NULL) < 0 ||
        mproc_process_start(n) < 0)
        return 3;
    pid_t pids[2] = { mproc_process_pid(d), mproc_process_pid(n) };
    if (write(ctx->report_fd, pids, sizeof pids) != sizeof pids)
        return 4;
    return 0; /* leaves both objects to the exit path */
}

/* A daemon started from the main thread lives on when the main thread
   leaves by pthread_exit while the program goes on. */
static pid_t lone_daemon;
static mproc_process *lone_daemon_obj;

static bool main_thread_gone(void)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
    FILE *f = fopen(path, "re");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    return close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

static void *outlive_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (int i = 0; i < 5000 && !main_thread_gone(); i++)
        mproc_test_nap();
    char c = !main_thread_gone() ? '?' : mproc_test_wait_gone(lone_daemon, 0.3) ? 'D' : 'A';
    mproc_process_free(lone_daemon_obj); /* kills and reaps it */
    (void)!write(fd, &c, 1);
    mproc_exit(0);
}

static int start_daemon_then_leave_main(void *arg)
{
    mproc_test_gate ready;
    mproc_test_gate_open(&ready);
    mproc_process_opts o = { .daemon = true };
    mproc_process *d;
    if (mproc_process_new(&d, signal_then_pause, &ready, &o) < 0 || mproc_process_start(d) < 0)
        return 1;
    if (!mproc_test_gate_wait(&ready, 10))
        return 2;
    lone_daemon = mproc_process_pid(d);
    lone_daemon_obj = d;
    pthread_t t;
    if (pthread_create(&t, NULL, outlive_main, arg) != 0)
        return 3;
    pthread_exit(NULL);
}

START_TEST(daemon_survives_main_thread_exit)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, start_daemon_then_leave_main, (void *)(intptr_t)g.wr, NULL));
    ASSERT_OK(mproc_process_start(p));
    char c = 0;
    ck_assert_int_eq(read(g.rd, &c, 1), 1);
    ck_assert_msg(c == 'A', "expected the daemon alive after the main thread left, got %c", c);
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    mproc_process_exitcode(p, &code);
    ck_assert_int_eq(code, 0);
    mproc_process_free(p);
    mproc_test_gate_close(&g);
}
END_TEST

START_TEST(exit_terminates_daemons_joins_others)
{
    mproc_test_gate g, release;
    mproc_test_gate_open(&g);
    mproc_test_gate_open(&release);
    exit_ctx ctx = { g.wr, &release };
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, exit_owner, &ctx, NULL));
    ASSERT_OK(mproc_process_start(p));
    pid_t pids[2];
    ck_assert_int_eq(read(g.rd, pids, sizeof pids), (ssize_t)sizeof pids);
    /* The owner waits for its non-daemon child. */
    ck_assert_int_eq(mproc_process_join(p, 0.2), -ETIMEDOUT);
    ck_assert(mproc_test_alive(pids[1]));
    mproc_test_gate_signal(&release);
    ASSERT_OK(mproc_process_join(p, -1));
    int code;
    mproc_process_exitcode(p, &code);
    ck_assert_int_eq(code, 0);
    ck_assert(!mproc_test_alive(pids[0]));
    ck_assert(!mproc_test_alive(pids[1]));
    mproc_process_free(p);
    mproc_test_gate_close(&g);
    mproc_test_gate_close(&release);
}
END_TEST

START_TEST(active_children_lists_live_ones)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    mproc_process *a, *b;
    ASSERT_OK(mproc_process_new(&a, signal_then_pause, &g, NULL));
    ASSERT_OK(mproc_process_new(&b, ret_arg, NULL, NULL));
    ck_assert_int_eq(mproc_active_children(NULL, 0), 0);
    ASSERT_OK(mproc_process_start(a));
    ck_assert(mproc_test_gate_wait(&g, 10));
    ASSERT_OK(mproc_process_start(b));
    ASSERT_OK(mproc_process_join(b, -1));
    mproc_process *out[4];
    ck_assert_int_eq(mproc_active_children(out, 4), 1);
    ck_assert_ptr_eq(out[0], a);
    ck_assert_int_eq(mproc_active_children(NULL, 1), -EINVAL);
    mproc_process_free(a);
    ck_assert_int_eq(mproc_active_children(out, 4), 0);
    mproc_process_free(b);
    mproc_test_gate_close(&g);
}
END_TEST

/* The child runs the helper program with its stdout on a pipe. */
typedef struct {
    int out_fd;
    const char *mode;
} exec_ctx;

static int exec_helper(void *arg)
{
    exec_ctx *c = arg;
    if (dup2(c->out_fd, 1) < 0)
        return 126;
    execl(mproc_test_helper(), "helper", c->mode, (char *)NULL);
    return 127;
}

static void run_helper(const char *mode, char *out, size_t n, int *code)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    exec_ctx c = { fds[1], mode };
    mproc_process *p;
    ASSERT_OK(mproc_process_new(&p, exec_helper, &c, NULL));
    ASSERT_OK(mproc_process_start(p));
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got < n - 1 && (r = read(fds[0], out + got, n - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fds[0]);
    ASSERT_OK(mproc_process_join(p, -1));
    ck_assert_int_eq(mproc_process_exitcode(p, code), 1);
    mproc_process_free(p);
}

/* What the kernel says of the child: our child, the caller's signal mask
   (not the all-blocked mask used around the fork), no signal pending. */
START_TEST(child_state_seen_by_kernel)
{
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    char out[8192];
    int code;
    run_helper("status", out, sizeof out, &code);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_eq(code, 0);
    char want[64];
    snprintf(want, sizeof want, "\nPPid:\t%d\n", (int)getpid());
    ck_assert_msg(strstr(out, want), "expected %s in the child's status", want + 1);
    ck_assert_msg(strstr(out, "\nSigBlk:\t0000000000000200\n"),
                  "expected only SIGUSR1 blocked in the child, got status:\n%s", out);
    ck_assert_msg(strstr(out, "\nSigPnd:\t0000000000000000\n"), "signal pending in the child");

    /* stdin is /dev/null: echo ends at once with nothing to copy. */
    run_helper("echo", out, sizeof out, &code);
    ck_assert_int_eq(code, 0);
    ck_assert_str_eq(out, "");
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "process", 20);
    tcase_add_test(tc, start_join_exitcode);
    tcase_add_test(tc, exit_status_kept_mod_256);
    tcase_add_test(tc, signal_gives_negative_code);
    tcase_add_test(tc, join_timeout_then_terminate);
    tcase_add_test(tc, kill_gives_minus_9);
    tcase_add_test(tc, timeout_never_early);
    tcase_add_test(tc, free_running_kills_and_reaps);
    tcase_add_test(tc, names_and_current_process);
    tcase_add_test(tc, nested_children_named_n_k);
    tcase_add_test(tc, stdin_is_dev_null);
    tcase_add_test(tc, stdio_flushed_never_twice);
    tcase_add_test(tc, parent_atexit_not_run_in_child);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, fork_failure_eagain_nothing_leaked);
    tcase_add_test(tc, many_threads_join_one_process);
    tcase_add_test(tc, daemon_dies_when_owner_killed);
    tcase_add_test(tc, daemon_from_exited_thread_lives_then_dies_with_owner);
    tcase_add_test(tc, exit_terminates_daemons_joins_others);
    tcase_add_test(tc, daemon_survives_main_thread_exit);
    tcase_add_test(tc, active_children_lists_live_ones);
    tcase_add_test(tc, child_state_seen_by_kernel);
    tcase_add_test(tc, child_uses_its_own_object);
}
