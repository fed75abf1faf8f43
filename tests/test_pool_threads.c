/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool_threads.c: the pool used from several threads at once, and
 * made by a thread that does not live as long as the pool.
 *
 * ctest-label: threads
 */
#include "test_pool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int block_on_fd(const void *arg, size_t len, mproc_out *out)
{
    /* Waits for a byte from the test (the worker inherited the read end of
       a pipe made before the pool; so did the supervisor, so closing the
       write end here would not be seen). */
    int fd;
    (void)out;
    if (len != sizeof fd)
        return -1;
    memcpy(&fd, arg, sizeof fd);
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
    return 0;
}

typedef struct job {
    mproc_pool *pool;
    int base;
    int failures;
} job;

static void *submitter(void *arg)
{
    job *j = arg;
    enum { N = 3000 };
    mproc_result **rs = malloc(N * sizeof *rs);
    for (int i = 0; i < N; i++) {
        int v = j->base + i;
        if (mproc_pool_apply_async(j->pool, echo, &v, sizeof v, &rs[i]) < 0) {
            j->failures++;
            rs[i] = NULL;
        }
    }
    for (int i = 0; i < N; i++) {
        if (!rs[i])
            continue;
        const void *d;
        size_t n;
        int v = -1;
        if (mproc_result_get(rs[i], -1, &d, &n) != 0 || n != sizeof v)
            j->failures++;
        else if (memcpy(&v, d, sizeof v), v != j->base + i)
            j->failures++;
        mproc_result_free(rs[i]);
    }
    free(rs);
    return NULL;
}

START_TEST(four_threads_submit)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 2 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    pthread_t t[4];
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){ .pool = p, .base = i * 1000000 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, submitter, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(jobs[i].failures, 0);
    }
    mproc_pool_close(p);
    ASSERT_OK(mproc_pool_join(p));
    mproc_pool_free(p);
}
END_TEST

static void *make_pool(void *arg)
{
    mproc_pool **out = arg;
    mproc_pool_opts o = { .processes = 2 };
    if (mproc_pool_new(out, &o) < 0)
        *out = NULL;
    return NULL;
}

START_TEST(pool_outlives_the_thread_that_made_it)
{
    /* The thread that forks the supervisor exits at once: a death signal
       tied to it would take the pool down. */
    mproc_pool *p = NULL;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, make_pool, &p), 0);
    pthread_join(t, NULL);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 100; i++) {
        mproc_result *r;
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &r));
        const void *d;
        size_t n;
        ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
        ck_assert_int_eq(*(const int *)d, i);
        mproc_result_free(r);
    }
    mproc_pool_free(p);
}
END_TEST

typedef struct waiter {
    mproc_result *r;
    int rc;
} waiter;

static void *wait_result(void *arg)
{
    waiter *w = arg;
    w->rc = mproc_result_get(w->r, -1, NULL, NULL);
    return NULL;
}

START_TEST(several_threads_wait_one_result)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    mproc_result *r;
    int rd = fds[0];
    ASSERT_OK(mproc_pool_apply_async(p, block_on_fd, &rd, sizeof rd, &r));
    pthread_t t[3];
    waiter w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (waiter){ .r = r, .rc = 1 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, wait_result, &w[i]), 0);
    }
    ck_assert_int_eq(mproc_result_wait(r, 0.02), -ETIMEDOUT);
    ck_assert_int_eq(write(fds[1], "x", 1), 1); /* the task may end now */
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].rc, 0);
    }
    mproc_result_free(r);
    mproc_pool_free(p);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(free_wakes_waiters)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    int rd = fds[0];
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, block_on_fd, &rd, sizeof rd, &r));
    pthread_t t;
    waiter w = { .r = r, .rc = 1 };
    ck_assert_int_eq(pthread_create(&t, NULL, wait_result, &w), 0);
    mproc_pool_free(p);
    pthread_join(t, NULL);
    ck_assert_int_eq(w.rc, -ECANCELED);
    mproc_result_free(r);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

static int cb_fd;
static pthread_t main_thread;

static void on_done(mproc_result *r, void *cookie)
{
    (void)cookie;
    const void *d;
    size_t n;
    char c = mproc_result_get(r, 0, &d, &n) == 0 ? 'k' : 'e';
    if (pthread_equal(pthread_self(), main_thread))
        c = 'M'; /* callbacks run in the pool's own thread */
    (void)!write(cb_fd, &c, 1);
    mproc_result_free(r); /* a callback may free its result */
}

START_TEST(callbacks_in_their_thread)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    cb_fd = fds[1];
    main_thread = pthread_self();
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 2 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    enum { N = 500 };
    for (int i = 0; i < N; i++) {
        mproc_result *r;
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &r));
        ASSERT_OK(mproc_result_on_ready(r, on_done, on_done, NULL));
    }
    int k = 0;
    for (int i = 0; i < N; i++) {
        struct pollfd pf = { .fd = fds[0], .events = POLLIN };
        ck_assert_int_eq(poll(&pf, 1, 20000), 1);
        char c;
        ck_assert_int_eq(read(fds[0], &c, 1), 1);
        k += c == 'k';
    }
    ck_assert_int_eq(k, N);
    mproc_pool_free(p);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

static int thread_count(void)
{
    mproc_procinfo info;
    return mproc_procinfo_get(0, &info) == 0 ? info.threads : -1;
}

/* A result that outlived its pool: the callback runs at once, in the
   calling thread, and no thread is left behind. */
START_TEST(callback_after_pool_free)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    cb_fd = fds[1];
    main_thread = pthread_self();
    int before = thread_count();
    int fd_never[2]; /* made before the pool, so that its worker has it */
    ck_assert_int_eq(pipe2(fd_never, O_CLOEXEC), 0);
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, block_on_fd, &fd_never[0], sizeof fd_never[0], &r));
    mproc_pool_free(p);
    ck_assert_int_eq(mproc_result_get(r, 0, NULL, NULL), -ECANCELED);
    ASSERT_OK(mproc_result_on_ready(r, on_done, on_done, NULL)); /* frees r */
    char c = 0;
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    ck_assert_int_eq(c, 'M');
    ck_assert_int_eq(thread_count(), before);
    close(fds[0]);
    close(fds[1]);
    close(fd_never[0]);
    close(fd_never[1]);
}
END_TEST

/* ---- join waits for callbacks ------------------------------------------------ */

typedef struct cb_count {
    _Atomic int runs;      /* callbacks that ran */
    _Atomic int submitted; /* tasks a callback submitted */
    _Atomic int refused;   /* submissions from a callback that were refused */
    _Atomic int other;     /* anything else (should stay 0) */
    mproc_pool *pool;
    int depth;             /* callbacks submit a follow-up this many levels deep */
} cb_count;

typedef struct chain {
    cb_count *c;
    int level;
} chain;

static void on_chain(mproc_result *r, void *cookie)
{
    chain *ch = cookie;
    cb_count *c = ch->c;
    if (mproc_result_get(r, 0, NULL, NULL) != 0)
        atomic_fetch_add(&c->other, 1);
    if (ch->level < c->depth) {
        chain *next = malloc(sizeof *next);
        next->c = c;
        next->level = ch->level + 1;
        mproc_result *r2;
        int err = mproc_pool_apply_async(c->pool, echo, &next->level, sizeof next->level, &r2);
        if (err == 0 && mproc_result_on_ready(r2, on_chain, on_chain, next) == 0) {
            atomic_fetch_add(&c->submitted, 1);
        } else if (err == -EINVAL) {
            atomic_fetch_add(&c->refused, 1);
            free(next);
        } else {
            atomic_fetch_add(&c->other, 1);
            free(next);
        }
    }
    free(ch);
    atomic_fetch_add(&c->runs, 1);
    mproc_result_free(r);
}

static void on_count(mproc_result *r, void *cookie)
{
    (void)r;
    atomic_fetch_add((_Atomic int *)cookie, 1);
}

/* The Python program: apply_async with callbacks, close, join, then free
   the results. When join returns every callback has run. */
START_TEST(join_waits_for_callbacks)
{
    enum { RUNS = 200, N = 20 };
    int lost = 0;
    for (int k = 0; k < RUNS; k++) {
        mproc_pool *p;
        mproc_pool_opts o = { .processes = 2 };
        ASSERT_OK(mproc_pool_new(&p, &o));
        _Atomic int ran = 0;
        mproc_result *rs[N];
        for (int i = 0; i < N; i++) {
            ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &rs[i]));
            ASSERT_OK(mproc_result_on_ready(rs[i], on_count, on_count, &ran));
        }
        ASSERT_OK(mproc_pool_close(p));
        ASSERT_OK(mproc_pool_join(p));
        lost += N - atomic_load(&ran);
        for (int i = 0; i < N; i++)
            mproc_result_free(rs[i]);
        mproc_pool_free(p);
    }
    ck_assert_int_eq(lost, 0);
}
END_TEST

/* mproc_pool_free, like join, returns after the callbacks of every known
   outcome (here: the ones it cancels) have run. */
START_TEST(free_runs_callbacks_of_cancelled_tasks)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 1 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    enum { N = 10 };
    _Atomic int ran = 0;
    mproc_result *rs[N];
    for (int i = 0; i < N; i++) {
        ASSERT_OK(mproc_pool_apply_async(p, block_on_fd, &fds[0], sizeof fds[0], &rs[i]));
        ASSERT_OK(mproc_result_on_ready(rs[i], on_count, on_count, &ran));
    }
    mproc_pool_free(p);
    ck_assert_int_eq(atomic_load(&ran), N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(mproc_result_get(rs[i], 0, NULL, NULL), -ECANCELED);
        mproc_result_free(rs[i]);
    }
    close(fds[0]);
    close(fds[1]);
}
END_TEST

typedef struct joiner {
    mproc_pool *pool;
    pid_t tid;
    mproc_test_gate started;
    int err;
} joiner;

static void *join_thread(void *arg)
{
    joiner *j = arg;
    j->tid = gettid();
    mproc_test_gate_signal(&j->started);
    j->err = mproc_pool_join(j->pool);
    return NULL;
}

/* Callbacks that submit tasks while join waits: the pool is closed, so the
   submissions are refused (-EINVAL) and join still returns once every
   callback has run: no deadlock, nothing lost. */
START_TEST(callbacks_submit_while_join_waits)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 2 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    cb_count c = { .pool = p, .depth = 1 };
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        mproc_result *r;
        ASSERT_OK(mproc_pool_apply_async(p, block_on_fd, &fds[0], sizeof fds[0], &r));
        chain *ch = malloc(sizeof *ch);
        ch->c = &c;
        ch->level = 0;
        ASSERT_OK(mproc_result_on_ready(r, on_chain, on_chain, ch));
    }
    ASSERT_OK(mproc_pool_close(p));
    joiner j = { .pool = p, .err = 1 };
    mproc_test_gate_open(&j.started);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, join_thread, &j), 0);
    ck_assert(mproc_test_gate_wait(&j.started, 10));
    /* The joiner asleep inside join: only now may the tasks finish. */
    ck_assert(mproc_test_wait_state(j.tid, 'S'));
    char bytes[N] = { 0 };
    ck_assert_int_eq(write(fds[1], bytes, N), N);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ASSERT_OK(j.err);
    ck_assert_int_eq(atomic_load(&c.runs), N);
    ck_assert_int_eq(atomic_load(&c.refused), N);
    ck_assert_int_eq(atomic_load(&c.submitted), 0);
    ck_assert_int_eq(atomic_load(&c.other), 0);
    mproc_test_gate_close(&j.started);
    mproc_pool_free(p);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* Callbacks that chain follow-up tasks while the pool is open: join waits
   for the follow-ups and their callbacks too, whichever were accepted
   before close. */
START_TEST(join_waits_for_chained_callbacks)
{
    for (int k = 0; k < 20; k++) {
        mproc_pool *p;
        mproc_pool_opts o = { .processes = 2 };
        ASSERT_OK(mproc_pool_new(&p, &o));
        cb_count c = { .pool = p, .depth = 3 };
        enum { N = 20 };
        for (int i = 0; i < N; i++) {
            mproc_result *r;
            ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &r));
            chain *ch = malloc(sizeof *ch);
            ch->c = &c;
            ch->level = 0;
            ASSERT_OK(mproc_result_on_ready(r, on_chain, on_chain, ch));
        }
        ASSERT_OK(mproc_pool_close(p));
        ASSERT_OK(mproc_pool_join(p));
        /* Each callback ran once: the first tasks' and every accepted
           follow-up's; each callback below the last level tried once. */
        int runs = atomic_load(&c.runs), sub = atomic_load(&c.submitted);
        ck_assert_int_eq(runs, N + sub);
        ck_assert_int_eq(atomic_load(&c.other), 0);
        ck_assert_int_le(sub + atomic_load(&c.refused), runs);
        mproc_pool_free(p);
    }
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pool threads", 60);
    tcase_add_test(tc, four_threads_submit);
    tcase_add_test(tc, pool_outlives_the_thread_that_made_it);
    tcase_add_test(tc, several_threads_wait_one_result);
    tcase_add_test(tc, free_wakes_waiters);
    tcase_add_test(tc, callbacks_in_their_thread);
    tcase_add_test(tc, callback_after_pool_free);
    tc = mproc_tcase(s, "join and callbacks", 120);
    tcase_add_test(tc, join_waits_for_callbacks);
    tcase_add_test(tc, free_runs_callbacks_of_cancelled_tasks);
    tcase_add_test(tc, callbacks_submit_while_join_waits);
    tcase_add_test(tc, join_waits_for_chained_callbacks);
}
