/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool.c: the process pool: results, lifecycle, crashes, timeouts,
 * initializers, large payloads, and a pool that dies with its owner (map,
 * its iterators and callbacks: test_pool_map.c). */
#include "test_pool_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- tasks ------------------------------------------------------------------- */

/* Tasks run in workers: no ck_assert there (Check's messages would come
   from the wrong process); they report through their results. */

static int fail_with(const void *arg, size_t len, mproc_out *out)
{
    int v;
    if (len != sizeof v)
        return -1;
    memcpy(&v, arg, sizeof v);
    mproc_out_write(out, "partial", 7);
    return v;
}

static int my_pid(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    pid_t pid = getpid();
    return mproc_out_write(out, &pid, sizeof pid);
}

static int exit_seven(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    _exit(7);
}

static int do_abort(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    abort();
}

static int get_int(mproc_result *r)
{
    const void *d;
    size_t n;
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
    ck_assert_uint_eq(n, sizeof(int));
    int v;
    memcpy(&v, d, sizeof v);
    return v;
}

/* ---- results and lifecycle ------------------------------------------------------- */

START_TEST(apply_async_and_get)
{
    mproc_pool *p = pool_of(2);
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, echo, "hello", 5, &r));
    const void *d;
    size_t n;
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(d, "hello", 5), 0);
    /* The same answer again. */
    const void *d2;
    size_t n2;
    ck_assert_int_eq(mproc_result_get(r, 0, &d2, &n2), 0);
    ck_assert_ptr_eq(d, d2);
    ck_assert_uint_eq(n2, 5);
    ck_assert(mproc_result_ready(r));
    ck_assert_int_eq(mproc_result_code(r), 0);
    ck_assert_int_eq(mproc_result_signal(r), 0);
    mproc_result_free(r);

    /* The empty argument, and an empty result. */
    ASSERT_OK(mproc_pool_apply_async(p, echo, NULL, 0, &r));
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
    ck_assert_uint_eq(n, 0);
    mproc_result_free(r);

    /* A task's error code, with what it wrote. */
    int v = 42;
    ASSERT_OK(mproc_pool_apply_async(p, fail_with, &v, sizeof v, &r));
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), MPROC_ETASK);
    ck_assert_int_eq(mproc_result_code(r), 42);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(memcmp(d, "partial", 7), 0);
    mproc_result_free(r);

    /* Blocking apply gives a copy. */
    void *data = NULL;
    size_t len = 0;
    ck_assert_int_eq(mproc_pool_apply(p, echo, "abc", 3, &data, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(memcmp(data, "abc", 3), 0);
    free(data);
    ck_assert_int_eq(mproc_pool_apply(p, empty, NULL, 0, NULL, NULL), 0);

    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_join(p));
    mproc_pool_free(p);
}
END_TEST

START_TEST(many_results_in_order)
{
    mproc_pool *p = pool_of(2);
    enum { N = 10000 };
    static mproc_result *rs[N];
    for (int i = 0; i < N; i++)
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &rs[i]));
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(get_int(rs[i]), i);
        mproc_result_free(rs[i]);
    }
    mproc_pool_free(p);
}
END_TEST

START_TEST(bad_input)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = -1 };
    ck_assert_int_eq(mproc_pool_new(&p, &o), -EINVAL);
    o = (mproc_pool_opts){ .processes = 5000 };
    ck_assert_int_eq(mproc_pool_new(&p, &o), -EINVAL);
    o = (mproc_pool_opts){ .task_timeout = -1 };
    ck_assert_int_eq(mproc_pool_new(&p, &o), -EINVAL);
    o = (mproc_pool_opts){ .task_timeout = NAN };
    ck_assert_int_eq(mproc_pool_new(&p, &o), -EINVAL);
    ck_assert_int_eq(mproc_pool_new(NULL, NULL), -EINVAL);

    p = pool_of(1);
    mproc_result *r = NULL;
    ck_assert_int_eq(mproc_pool_apply_async(p, NULL, NULL, 0, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_apply_async(p, echo, NULL, 3, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_apply_async(p, echo, "x", 1, NULL), -EINVAL);
    ck_assert_int_eq(mproc_pool_apply_async(NULL, echo, "x", 1, &r), -EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mproc_pool_join(p), -EINVAL); /* still open */
    ASSERT_OK(mproc_pool_apply_async(p, echo, "x", 1, &r));
    ck_assert_int_eq(mproc_result_wait(r, NAN), -EINVAL);
    ck_assert_int_eq(mproc_result_wait_any(NULL, 1, -1), -EINVAL);
    ck_assert_int_eq(mproc_result_wait_any(&r, 0, -1), -EINVAL);
    ck_assert_int_eq(mproc_result_on_ready(NULL, NULL, NULL, NULL), -EINVAL);
    mproc_map *m;
    ck_assert_int_eq(mproc_pool_map(p, echo, NULL, 4, 10, 0, &m), -EINVAL);
    ck_assert_int_eq(mproc_pool_map(p, echo, "abcd", 0, 1, 0, &m), -EINVAL);
    ck_assert_int_eq(mproc_pool_map(p, NULL, "abcd", 4, 1, 0, &m), -EINVAL);
    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_close(p));
    mproc_result *r2;
    ck_assert_int_eq(mproc_pool_apply_async(p, echo, "x", 1, &r2), -EINVAL);
    ck_assert_int_eq(mproc_pool_map(p, echo, "abcd", 4, 1, 0, &m), -EINVAL);
    ASSERT_OK(mproc_pool_join(p));
    ASSERT_OK(mproc_pool_join(p));
    ASSERT_OK(mproc_pool_terminate(p));
    ck_assert_int_eq(mproc_result_get(r, 0, NULL, NULL), 0);
    mproc_result_free(r);
    mproc_pool_free(p);
    mproc_pool_free(NULL);
    mproc_result_free(NULL);
    ck_assert_int_eq(mproc_pool_close(NULL), -EINVAL);
    ck_assert_int_eq(mproc_pool_join(NULL), -EINVAL);
    ck_assert_int_eq(mproc_pool_terminate(NULL), -EINVAL);
    ck_assert_int_eq(mproc_out_write(NULL, "x", 1), -EINVAL);
}
END_TEST

START_TEST(default_processes)
{
    mproc_pool *p;
    ASSERT_OK(mproc_pool_new(&p, NULL));
    /* Distinct worker PIDs seen, at most mproc_cpu_count(). */
    enum { N = 200 };
    mproc_result *rs[N];
    for (int i = 0; i < N; i++)
        ASSERT_OK(mproc_pool_apply_async(p, my_pid, NULL, 0, &rs[i]));
    pid_t seen[64];
    int nseen = 0;
    for (int i = 0; i < N; i++) {
        pid_t pid = get_int(rs[i]);
        bool known = false;
        for (int j = 0; j < nseen; j++)
            known |= seen[j] == pid;
        if (!known && nseen < 64)
            seen[nseen++] = pid;
        mproc_result_free(rs[i]);
    }
    ck_assert_int_ge(nseen, 1);
    ck_assert_int_le(nseen, mproc_cpu_count());
    mproc_pool_free(p);
}
END_TEST

/* ---- what never goes wrong -------------------------------------------------------- */

START_TEST(crash_fails_one_task)
{
    mproc_pool *p = pool_of(2);
    mproc_result *a, *b, *c, *ok[100];
    ASSERT_OK(mproc_pool_apply_async(p, segv, NULL, 0, &a));
    for (int i = 0; i < 50; i++)
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &ok[i]));
    ASSERT_OK(mproc_pool_apply_async(p, exit_seven, NULL, 0, &b));
    ASSERT_OK(mproc_pool_apply_async(p, do_abort, NULL, 0, &c));
    for (int i = 50; i < 100; i++)
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &ok[i]));

    ck_assert_int_eq(mproc_result_get(a, -1, NULL, NULL), MPROC_EWORKER);
    ck_assert_int_eq(mproc_result_signal(a), SIGSEGV);
    ck_assert_int_eq(mproc_result_code(a), 0);
    ck_assert_int_eq(mproc_result_get(b, -1, NULL, NULL), MPROC_EWORKER);
    ck_assert_int_eq(mproc_result_signal(b), 0);
    ck_assert_int_eq(mproc_result_code(b), 7);
    ck_assert_int_eq(mproc_result_get(c, -1, NULL, NULL), MPROC_EWORKER);
    ck_assert_int_eq(mproc_result_signal(c), SIGABRT);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(get_int(ok[i]), i);
        mproc_result_free(ok[i]);
    }
    mproc_result_free(a);
    mproc_result_free(b);
    mproc_result_free(c);
    mproc_pool_close(p);
    ASSERT_OK(mproc_pool_join(p));
    mproc_pool_free(p);
}
END_TEST

START_TEST(task_timeout_kills_and_replaces)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1, .task_timeout = 0.2 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    mproc_result *slow, *after;
    ASSERT_OK(mproc_pool_apply_async(p, sleep_long, NULL, 0, &slow));
    int v = 5;
    ASSERT_OK(mproc_pool_apply_async(p, echo, &v, sizeof v, &after));
    ck_assert_int_eq(mproc_result_get(slow, -1, NULL, NULL), MPROC_ETASKTIMEOUT);
    ck_assert_int_eq(mproc_result_signal(slow), SIGKILL);
    ck_assert_int_eq(get_int(after), 5);
    mproc_result_free(slow);
    mproc_result_free(after);
    mproc_pool_free(p);
}
END_TEST

static int nap_50ms(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    return 0;
}

/* A limit longer than the clock can count is no limit at all. */
START_TEST(huge_task_timeout_is_no_limit)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1, .task_timeout = 1e10 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, nap_50ms, NULL, 0, &r));
    ck_assert_int_eq(mproc_result_get(r, -1, NULL, NULL), 0);
    mproc_result_free(r);
    mproc_pool_free(p);
}
END_TEST

START_TEST(maxtasksperchild_replaces_workers)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1, .maxtasksperchild = 2 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    pid_t pids[6];
    for (int i = 0; i < 6; i++) {
        mproc_result *r;
        ASSERT_OK(mproc_pool_apply_async(p, my_pid, NULL, 0, &r));
        pids[i] = get_int(r);
        mproc_result_free(r);
    }
    for (int i = 0; i < 6; i += 2) {
        ck_assert_int_eq(pids[i], pids[i + 1]);
        if (i)
            ck_assert_int_ne(pids[i], pids[i - 1]);
    }
    mproc_pool_free(p);
}
END_TEST

static int init_value;

static int init_set(void *arg)
{
    init_value = *(int *)arg;
    return 0;
}

static int read_init(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    return mproc_out_write(out, &init_value, sizeof init_value);
}

static int init_fail(void *arg)
{
    (void)arg;
    return 1;
}

static char marker[64];

/* Fails once the test has created the marker file. */
static int init_fail_later(void *arg)
{
    (void)arg;
    return access(marker, F_OK) == 0;
}

START_TEST(initializer_runs_in_every_worker)
{
    int v = 1234;
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 2, .initializer = init_set, .initarg = &v,
                          .maxtasksperchild = 1 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    for (int i = 0; i < 6; i++) {
        mproc_result *r;
        ASSERT_OK(mproc_pool_apply_async(p, read_init, NULL, 0, &r));
        ck_assert_int_eq(get_int(r), 1234); /* replacements too */
        mproc_result_free(r);
    }
    ck_assert_int_eq(init_value, 0); /* the owner's memory is its own */
    mproc_pool_free(p);
}
END_TEST

static int init_abort(void *arg)
{
    (void)arg;
    abort();
}

START_TEST(initializer_failure_breaks_pool)
{
    mproc_pool *p = NULL;
    mproc_pool_opts o = { .processes = 2, .initializer = init_fail };
    ck_assert_int_eq(mproc_pool_new(&p, &o), MPROC_EINIT);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mproc_test_children(), 0);

    /* An initializer that crashes fails the same way: no respawn loop. */
    o.initializer = init_abort;
    ck_assert_int_eq(mproc_pool_new(&p, &o), MPROC_EINIT);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mproc_test_children(), 0);

    /* A replacement's initializer fails: queued tasks end MPROC_EINIT, no
       respawn loop, apply_async says so. */
    snprintf(marker, sizeof marker, "/tmp/mproc-test-init-%d", (int)getpid());
    unlink(marker);
    o = (mproc_pool_opts){ .processes = 1, .initializer = init_fail_later };
    ASSERT_OK(mproc_pool_new(&p, &o));
    int fd = open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    mproc_result *crash, *queued[5];
    ASSERT_OK(mproc_pool_apply_async(p, segv, NULL, 0, &crash));
    for (int i = 0; i < 5; i++)
        ASSERT_OK(mproc_pool_apply_async(p, empty, NULL, 0, &queued[i]));
    ck_assert_int_eq(mproc_result_get(crash, -1, NULL, NULL), MPROC_EWORKER);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(mproc_result_get(queued[i], -1, NULL, NULL), MPROC_EINIT);
        mproc_result_free(queued[i]);
    }
    mproc_result *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, empty, NULL, 0, &r), MPROC_EINIT);
    mproc_result_free(crash);
    mproc_pool_close(p);
    ck_assert_int_eq(mproc_pool_apply_async(p, empty, NULL, 0, &r), -EINVAL);
    ASSERT_OK(mproc_pool_join(p));
    mproc_pool_free(p);
    unlink(marker);
}
END_TEST

START_TEST(terminate_cancels_pending)
{
    mproc_pool *p = pool_of(1);
    enum { N = 20 };
    mproc_result *done, *rs[N];
    ASSERT_OK(mproc_pool_apply_async(p, empty, NULL, 0, &done));
    ASSERT_OK(mproc_result_wait(done, -1));
    for (int i = 0; i < N; i++)
        ASSERT_OK(mproc_pool_apply_async(p, sleep_long, NULL, 0, &rs[i]));
    ck_assert_int_eq(mproc_result_wait(rs[0], 0.05), -ETIMEDOUT);
    ASSERT_OK(mproc_pool_terminate(p));
    ck_assert_int_eq(mproc_test_children(), 0); /* workers and supervisor gone */
    for (int i = 0; i < N; i++) {
        ck_assert(mproc_result_ready(rs[i]));
        ck_assert_int_eq(mproc_result_get(rs[i], 0, NULL, NULL), -ECANCELED);
    }
    ck_assert_int_eq(mproc_result_get(done, 0, NULL, NULL), 0);
    ASSERT_OK(mproc_pool_terminate(p));
    ASSERT_OK(mproc_pool_join(p));
    mproc_result *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, empty, NULL, 0, &r), -EINVAL);
    mproc_pool_free(p);
    /* Results outlive their pool. */
    ck_assert_int_eq(mproc_result_get(rs[3], -1, NULL, NULL), -ECANCELED);
    for (int i = 0; i < N; i++)
        mproc_result_free(rs[i]);
    mproc_result_free(done);
}
END_TEST

START_TEST(free_cancels_and_leaves_nothing)
{
    mproc_pool *p = pool_of(2);
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, sleep_long, NULL, 0, &r));
    ck_assert_int_ge(mproc_test_children(), 1);
    mproc_pool_free(p);
    ck_assert_int_eq(mproc_test_children(), 0);
    ck_assert_int_eq(mproc_result_get(r, -1, NULL, NULL), -ECANCELED);
    mproc_result_free(r);
    /* Freeing a result before its task ends is fine too. */
    p = pool_of(1);
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &r));
        mproc_result_free(r);
    }
    ASSERT_OK(mproc_pool_apply_async(p, echo, "z", 1, &r));
    ck_assert_int_eq(mproc_result_get(r, -1, NULL, NULL), 0);
    mproc_result_free(r);
    mproc_pool_free(p);
}
END_TEST

START_TEST(large_round_trip)
{
    mproc_pool *p = pool_of(2);
    size_t big = (size_t)64 << 20;
    unsigned char *buf = malloc(big);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < big; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, echo, buf, big, &r));
    /* Sizes around the inline limit, too. */
    mproc_result *mid[6];
    size_t sizes[6] = { 300, 400, 416, 417, 4096, 100000 };
    for (int i = 0; i < 6; i++)
        ASSERT_OK(mproc_pool_apply_async(p, echo, buf, sizes[i], &mid[i]));
    const void *d;
    size_t n;
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
    ck_assert_uint_eq(n, big);
    ck_assert_int_eq(memcmp(d, buf, big), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(mproc_result_get(mid[i], -1, &d, &n), 0);
        ck_assert_uint_eq(n, sizes[i]);
        ck_assert_int_eq(memcmp(d, buf, n), 0);
        mproc_result_free(mid[i]);
    }
    mproc_result_free(r);
    free(buf);
    mproc_pool_free(p);
}
END_TEST

/* ---- 100k tasks with workers killed from outside ----------------------------------- */

static unsigned char *runs; /* MAP_SHARED: how many times each task ran */
#define KILLED_TASK 50000u /* runs until a kill ends it */

static int count_run(const void *arg, size_t len, mproc_out *out)
{
    uint32_t i;
    if (len != sizeof i)
        return -1;
    memcpy(&i, arg, sizeof i);
    __atomic_fetch_add(&runs[i], 1, __ATOMIC_SEQ_CST);
    while (i == KILLED_TASK) /* makes sure a kill lands during a task */
        pause();
    for (volatile int k = 0; k < 1000; k++)
        ;
    return mproc_out_write(out, &i, sizeof i);
}

/* The killer: a process that SIGKILLs a random worker of the supervisor
   every millisecond until its pipe closes. */
static void killer(pid_t sup, int stop_fd)
{
    unsigned seed = (unsigned)getpid();
    struct pollfd pf = { .fd = stop_fd, .events = POLLIN };
    for (;;) {
        if (poll(&pf, 1, 1) != 0)
            _exit(0);
        pid_t kids[64];
        int n = mproc_procinfo_children(sup, kids, 64);
        if (n <= 0)
            continue;
        if (n > 64)
            n = 64;
        kill(kids[rand_r(&seed) % (unsigned)n], SIGKILL);
    }
}

START_TEST(hundred_thousand_tasks_with_kills)
{
    enum { N = 100000 };
    runs = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(runs, MAP_FAILED);
    mproc_pool *p = pool_of(2);
    pid_t kids[2];
    ck_assert_int_eq(mproc_procinfo_children(0, kids, 2), 1);
    int stop[2];
    ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
    pid_t k = fork();
    ck_assert_int_ge(k, 0);
    if (k == 0) {
        close(stop[1]);
        killer(kids[0], stop[0]);
    }
    close(stop[0]);

    static mproc_result *rs[N];
    for (uint32_t i = 0; i < N; i++)
        ASSERT_OK(mproc_pool_apply_async(p, count_run, &i, sizeof i, &rs[i]));
    int ok = 0, died = 0;
    for (uint32_t i = 0; i < N; i++) {
        const void *d;
        size_t n;
        int rc = mproc_result_get(rs[i], -1, &d, &n);
        if (rc == 0) {
            uint32_t v;
            ck_assert_uint_eq(n, sizeof v);
            memcpy(&v, d, sizeof v);
            ck_assert_uint_eq(v, i);
            ck_assert_int_eq(runs[i], 1);
            ok++;
        } else {
            ck_assert_int_eq(rc, MPROC_EWORKER);
            ck_assert_int_eq(mproc_result_signal(rs[i]), SIGKILL);
            ck_assert_int_le(runs[i], 1); /* never run twice */
            died++;
        }
        mproc_result_free(rs[i]);
    }
    close(stop[1]);
    int st;
    ck_assert_int_eq(waitpid(k, &st, 0), k);
    ck_assert_int_eq(ok + died, N);
    ck_assert_int_gt(died, 0); /* the kills did land during tasks (KILLED_TASK waits for one) */
    ck_assert_int_gt(ok, 0);
    for (uint32_t i = 0; i < N; i++)
        ck_assert_int_le(runs[i], 1);
    mproc_pool_close(p);
    ASSERT_OK(mproc_pool_join(p));
    mproc_pool_free(p);
    munmap(runs, N);
}
END_TEST

/* ---- the pool dies with its owner ---------------------------------------------------- */

START_TEST(owner_killed_takes_pool)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        close(fds[0]);
        mproc_pool *p;
        mproc_pool_opts o = { .processes = 3 };
        if (mproc_pool_new(&p, &o) < 0)
            _exit(1);
        pid_t all[8] = { 0 };
        if (mproc_procinfo_children(0, all, 1) != 1)
            _exit(2);
        int n = mproc_procinfo_children(all[0], all + 1, 7);
        if (n != 3)
            _exit(3);
        if (write(fds[1], all, sizeof all) != (ssize_t)sizeof all)
            _exit(4);
        for (;;)
            pause();
    }
    close(fds[1]);
    pid_t all[8];
    ck_assert_int_eq(read(fds[0], all, sizeof all), (ssize_t)sizeof all);
    close(fds[0]);
    for (int i = 0; i < 4; i++)
        ck_assert(mproc_test_alive(all[i]));
    kill(owner, SIGKILL);
    int st;
    ck_assert_int_eq(waitpid(owner, &st, 0), owner);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(mproc_test_wait_gone(all[i], 1.0), "pool process %d outlived its owner",
                      (int)all[i]);
}
END_TEST

START_TEST(supervisor_killed_from_outside)
{
    mproc_pool *p = pool_of(2);
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, sleep_long, NULL, 0, &r));
    pid_t sup;
    ck_assert_int_eq(mproc_procinfo_children(0, &sup, 1), 1);
    pid_t workers[2];
    ck_assert_int_eq(mproc_procinfo_children(sup, workers, 2), 2);
    kill(sup, SIGKILL);
    /* The task can never finish: it fails instead of hanging, MPROC_EWORKER
       if its worker had taken it, -EPIPE if not (test_pool_faults.c tells
       the two apart). */
    int rc = mproc_result_get(r, -1, NULL, NULL);
    ck_assert(rc == MPROC_EWORKER || rc == -EPIPE);
    mproc_result *r2;
    ck_assert_int_eq(mproc_pool_apply_async(p, empty, NULL, 0, &r2), -EPIPE);
    for (int i = 0; i < 2; i++)
        ck_assert(mproc_test_wait_gone(workers[i], 1.0));
    mproc_result_free(r);
    mproc_pool_free(p);
}
END_TEST

START_TEST(function_loaded_after_the_pool)
{
    mproc_pool *p = pool_of(1);
    void *h = dlopen(MPROC_TEST_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h, "dlopen %s: %s", MPROC_TEST_PLUGIN, dlerror());
    void *sym = dlsym(h, "mproc_test_plugin_task");
    ck_assert_ptr_nonnull(sym);
    mproc_task_fn fn;
    memcpy(&fn, &sym, sizeof fn);
    mproc_result *r;
    ck_assert_int_eq(mproc_pool_apply_async(p, fn, NULL, 0, &r), -EFAULT);
    /* The program's own functions still pass. */
    ASSERT_OK(mproc_pool_apply_async(p, empty, NULL, 0, &r));
    ASSERT_OK(mproc_result_get(r, -1, NULL, NULL));
    mproc_result_free(r);
    dlclose(h);
    mproc_pool_free(p);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "results", 30);
    tcase_add_test(tc, apply_async_and_get);
    tcase_add_test(tc, many_results_in_order);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, default_processes);
    tc = mproc_tcase(s, "failures", 60);
    tcase_add_test(tc, crash_fails_one_task);
    tcase_add_test(tc, task_timeout_kills_and_replaces);
    tcase_add_test(tc, huge_task_timeout_is_no_limit);
    tcase_add_test(tc, maxtasksperchild_replaces_workers);
    tcase_add_test(tc, initializer_runs_in_every_worker);
    tcase_add_test(tc, initializer_failure_breaks_pool);
    tcase_add_test(tc, terminate_cancels_pending);
    tcase_add_test(tc, free_cancels_and_leaves_nothing);
    tcase_add_test(tc, large_round_trip);
    tcase_add_test(tc, hundred_thousand_tasks_with_kills);
    tcase_add_test(tc, owner_killed_takes_pool);
    tcase_add_test(tc, supervisor_killed_from_outside);
    tcase_add_test(tc, function_loaded_after_the_pool);
}
