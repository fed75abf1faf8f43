/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_sync.c: locks, recursive locks, semaphores, events, conditions and
 * barriers shared by processes, including holders killed at the worst time. */
#include "test_ipc_util.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

/* ---- lock ------------------------------------------------------------------ */

typedef struct {
    mproc_lock lock;
    mproc_rlock rlock;
    mproc_sem sem;
    mproc_event ev;
    mproc_cond cond;
    mproc_barrier bar;
    long counter;
    long plain;
    int flag;
    mproc_test_gate gate;
} shared;

static shared *sh_new(mproc_shm **blk)
{
    ck_assert_int_eq(mproc_shm_new(blk, sizeof(shared)), 0);
    shared *s = mproc_shm_ptr(*blk);
    ASSERT_OK(mproc_lock_init(&s->lock));
    ASSERT_OK(mproc_rlock_init(&s->rlock));
    ASSERT_OK(mproc_sem_init(&s->sem, 1, 0));
    ASSERT_OK(mproc_event_init(&s->ev));
    ASSERT_OK(mproc_cond_init(&s->cond));
    ASSERT_OK(mproc_barrier_init(&s->bar, 4));
    mproc_test_gate_open(&s->gate);
    return s;
}

static void sh_free(mproc_shm *blk)
{
    shared *s = mproc_shm_ptr(blk);
    mproc_test_gate_close(&s->gate);
    mproc_lock_destroy(&s->lock);
    mproc_rlock_destroy(&s->rlock);
    mproc_barrier_destroy(&s->bar);
    mproc_shm_free(blk);
}

#define OPS 100000

static int count_locked(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < OPS; i++) {
        if (mproc_lock_acquire(&s->lock, -1) != 0)
            return 1;
        s->counter++;
        if (mproc_lock_release(&s->lock) != 0)
            return 2;
    }
    return 0;
}

START_TEST(lock_four_processes_count_exactly)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t kids[4];
    for (int i = 0; i < 4; i++)
        kids[i] = ipc_spawn(count_locked, s);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_eq(s->counter, 4L * OPS);
    sh_free(blk);
}
END_TEST

static int hold_and_wait(void *arg)
{
    shared *s = arg;
    if (mproc_lock_acquire(&s->lock, -1) != 0)
        return 1;
    s->counter = 42; /* half-way through an update when killed */
    mproc_test_gate_signal(&s->gate);
    pause();
    return 0;
}

START_TEST(lock_holder_killed_gives_ownerdead_and_recovers)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t pid = ipc_spawn(hold_and_wait, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, 0), -ETIMEDOUT);
    ipc_kill(pid);
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, 5), -EOWNERDEAD);
    ck_assert_int_eq(s->counter, 42);
    s->counter = 0; /* the repair */
    ASSERT_OK(mproc_lock_consistent(&s->lock));
    ASSERT_OK(mproc_lock_release(&s->lock));
    ASSERT_OK(mproc_lock_acquire(&s->lock, 0));
    ASSERT_OK(mproc_lock_release(&s->lock));
    sh_free(blk);
}
END_TEST

START_TEST(lock_not_repaired_becomes_unrecoverable)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t pid = ipc_spawn(hold_and_wait, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(pid);
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, -1), -EOWNERDEAD);
    ASSERT_OK(mproc_lock_release(&s->lock));
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, 0), -ENOTRECOVERABLE);
    sh_free(blk);
}
END_TEST

static int release_foreign(void *arg)
{
    shared *s = arg;
    return mproc_lock_release(&s->lock) == -EPERM ? 0 : 1;
}

START_TEST(lock_errors)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    ck_assert_int_eq(mproc_lock_init(NULL), -EINVAL);
    ck_assert_int_eq(mproc_lock_acquire(NULL, -1), -EINVAL);
    ck_assert_int_eq(mproc_lock_release(NULL), -EINVAL);
    ck_assert_int_eq(mproc_lock_new(NULL), -EINVAL);
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, NAN), -EINVAL);
    ck_assert_int_eq(mproc_lock_release(&s->lock), -EPERM);
    ck_assert_int_eq(mproc_lock_consistent(&s->lock), -EINVAL);
    ASSERT_OK(mproc_lock_acquire(&s->lock, -1));
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, 1), -EDEADLK);
    ck_assert_int_eq(ipc_reap(ipc_spawn(release_foreign, s)), 0);
    ASSERT_OK(mproc_lock_release(&s->lock));
    mproc_lock_free(NULL);
    sh_free(blk);
}
END_TEST

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int timed_acquire_fails(void *arg)
{
    shared *s = arg;
    double t0 = now();
    if (mproc_lock_acquire(&s->lock, 0.05) != -ETIMEDOUT || now() - t0 < 0.05)
        return 1;
    if (mproc_rlock_acquire(&s->rlock, 0.05) != -ETIMEDOUT)
        return 2;
    if (mproc_lock_acquire(&s->lock, 0) != -ETIMEDOUT)
        return 3;
    return 0;
}

START_TEST(lock_timeouts_never_early)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    ASSERT_OK(mproc_lock_acquire(&s->lock, -1));
    ASSERT_OK(mproc_rlock_acquire(&s->rlock, -1));
    ck_assert_int_eq(ipc_reap(ipc_spawn(timed_acquire_fails, s)), 0);
    ASSERT_OK(mproc_lock_release(&s->lock));
    ASSERT_OK(mproc_rlock_release(&s->rlock));
    sh_free(blk);
}
END_TEST

START_TEST(lock_new_is_shared_with_children)
{
    mproc_lock *l;
    mproc_shm *blk;
    ASSERT_OK(mproc_lock_new(&l));
    ASSERT_OK(mproc_shm_value_new(&blk, sizeof(long), NULL, false));
    long *v = mproc_shm_ptr(blk);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = mproc_fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            for (int k = 0; k < 20000; k++) {
                mproc_lock_acquire(l, -1);
                (*v)++;
                mproc_lock_release(l);
            }
            mproc_exit(0);
        }
    }
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_eq(*v, 40000);
    mproc_lock_free(l);
    mproc_shm_free(blk);
}
END_TEST

/* ---- recursive lock ----------------------------------------------------------- */

static int rhold_twice(void *arg)
{
    shared *s = arg;
    if (mproc_rlock_acquire(&s->rlock, -1) || mproc_rlock_acquire(&s->rlock, -1))
        return 1;
    mproc_test_gate_signal(&s->gate);
    pause();
    return 0;
}

START_TEST(rlock_recursion_and_holder_killed)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    ASSERT_OK(mproc_rlock_acquire(&s->rlock, -1));
    ASSERT_OK(mproc_rlock_acquire(&s->rlock, 0));
    ASSERT_OK(mproc_rlock_release(&s->rlock));
    ASSERT_OK(mproc_rlock_release(&s->rlock));
    ck_assert_int_eq(mproc_rlock_release(&s->rlock), -EPERM);
    pid_t pid = ipc_spawn(rhold_twice, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(pid);
    ck_assert_int_eq(mproc_rlock_acquire(&s->rlock, 5), -EOWNERDEAD);
    ASSERT_OK(mproc_rlock_consistent(&s->rlock));
    /* Held once, not twice: one release frees it. */
    ASSERT_OK(mproc_rlock_release(&s->rlock));
    ck_assert_int_eq(mproc_rlock_release(&s->rlock), -EPERM);
    mproc_rlock *r;
    ASSERT_OK(mproc_rlock_new(&r));
    ASSERT_OK(mproc_rlock_acquire(r, -1));
    ASSERT_OK(mproc_rlock_release(r));
    mproc_rlock_free(r);
    ck_assert_int_eq(mproc_rlock_acquire(NULL, 0), -EINVAL);
    sh_free(blk);
}
END_TEST

/* ---- semaphore --------------------------------------------------------------------- */

static int count_sem(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < OPS; i++) {
        if (mproc_sem_acquire(&s->sem, -1))
            return 1;
        s->counter++;
        if (mproc_sem_release(&s->sem))
            return 2;
    }
    return 0;
}

START_TEST(sem_as_mutex_four_processes)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t kids[4];
    for (int i = 0; i < 4; i++)
        kids[i] = ipc_spawn(count_sem, s);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_eq(s->counter, 4L * OPS);
    ck_assert_int_eq(mproc_sem_value(&s->sem), 1);
    sh_free(blk);
}
END_TEST

START_TEST(sem_counts_bounds_and_errors)
{
    mproc_sem s;
    ASSERT_OK(mproc_sem_init(&s, 2, 3));
    ASSERT_OK(mproc_sem_acquire(&s, 0));
    ASSERT_OK(mproc_sem_acquire(&s, 0));
    double t0 = now();
    ck_assert_int_eq(mproc_sem_acquire(&s, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    ck_assert_int_eq(mproc_sem_acquire(&s, 0), -ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(mproc_sem_release(&s));
    ck_assert_int_eq(mproc_sem_release(&s), -EOVERFLOW);
    ck_assert_int_eq(mproc_sem_value(&s), 3);
    ck_assert_int_eq(mproc_sem_init(&s, 4, 3), -EINVAL);
    ck_assert_int_eq(mproc_sem_init(NULL, 0, 0), -EINVAL);
    ck_assert_int_eq(mproc_sem_init(&s, 0x80000000u, 0), -EINVAL);
    ck_assert_int_eq(mproc_sem_acquire(NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_sem_acquire(&s, NAN), -EINVAL);
    ck_assert_int_eq(mproc_sem_release(NULL), -EINVAL);
    ck_assert_int_eq(mproc_sem_value(NULL), -EINVAL);
    ASSERT_OK(mproc_sem_init(&s, 0x7fffffffu, 0));
    ck_assert_int_eq(mproc_sem_release(&s), -EOVERFLOW);
}
END_TEST

static int sem_take_and_hang(void *arg)
{
    shared *s = arg;
    if (mproc_sem_acquire(&s->sem, -1))
        return 1;
    mproc_test_gate_signal(&s->gate);
    pause();
    return 0;
}

static int sem_wait_forever(void *arg)
{
    shared *s = arg;
    mproc_test_gate_signal(&s->gate);
    return mproc_sem_acquire(&s->sem, -1) ? 1 : 0;
}

START_TEST(sem_holder_and_waiter_killed)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    ASSERT_OK(mproc_sem_init(&s->sem, 2, 0));
    /* A holder that dies keeps its unit: the others carry on with the rest. */
    pid_t holder = ipc_spawn(sem_take_and_hang, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(holder);
    ck_assert_int_eq(mproc_sem_value(&s->sem), 1);
    ASSERT_OK(mproc_sem_acquire(&s->sem, 0));
    /* A waiter that dies takes nothing with it. */
    pid_t waiter = ipc_spawn(sem_wait_forever, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(waiter);
    ASSERT_OK(mproc_sem_release(&s->sem));
    ck_assert_int_eq(mproc_sem_value(&s->sem), 1);
    pid_t w2 = ipc_spawn(sem_wait_forever, s);
    ck_assert_int_eq(ipc_reap(w2), 0);
    ck_assert_int_eq(mproc_sem_value(&s->sem), 0);
    mproc_sem *ns;
    ASSERT_OK(mproc_sem_new(&ns, 0, 1));
    ck_assert_int_eq(mproc_sem_new(NULL, 0, 0), -EINVAL);
    ASSERT_OK(mproc_sem_release(ns));
    ck_assert_int_eq(mproc_sem_release(ns), -EOVERFLOW);
    mproc_sem_free(ns);
    sh_free(blk);
}
END_TEST

/* ---- event ------------------------------------------------------------------------- */

static int ev_waiter(void *arg)
{
    shared *s = arg;
    mproc_test_gate_signal(&s->gate);
    return mproc_event_wait(&s->ev, 30) == 0 && mproc_event_is_set(&s->ev) ? 0 : 1;
}

START_TEST(event_wakes_every_process_and_survives_killed_waiter)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    ck_assert(!mproc_event_is_set(&s->ev));
    double t0 = now();
    ck_assert_int_eq(mproc_event_wait(&s->ev, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    ck_assert_int_eq(mproc_event_wait(&s->ev, 0), -ETIMEDOUT);
    pid_t doomed = ipc_spawn(ev_waiter, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(doomed);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = ipc_spawn(ev_waiter, s);
        ck_assert(mproc_test_gate_wait(&s->gate, 10));
    }
    ASSERT_OK(mproc_event_set(&s->ev));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ASSERT_OK(mproc_event_wait(&s->ev, 0));
    ASSERT_OK(mproc_event_clear(&s->ev));
    ck_assert(!mproc_event_is_set(&s->ev));
    ck_assert_int_eq(mproc_event_wait(NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_event_wait(&s->ev, NAN), -EINVAL);
    ck_assert_int_eq(mproc_event_set(NULL), -EINVAL);
    mproc_event *e;
    ASSERT_OK(mproc_event_new(&e));
    ASSERT_OK(mproc_event_set(e));
    ck_assert(mproc_event_is_set(e));
    mproc_event_free(e);
    sh_free(blk);
}
END_TEST

/* ---- condition ----------------------------------------------------------------------- */

static int cond_consumer(void *arg)
{
    shared *s = arg;
    for (;;) {
        int r = mproc_lock_acquire(&s->lock, -1);
        if (r)
            return 1;
        while (s->plain == 0 && !s->flag)
            if (mproc_cond_wait(&s->cond, &s->lock, -1))
                return 2;
        if (s->plain == 0 && s->flag) {
            mproc_lock_release(&s->lock);
            break;
        }
        s->plain--;
        s->counter++;
        mproc_lock_release(&s->lock);
    }
    return 0;
}

START_TEST(cond_producer_consumers_exact_count)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t kids[3];
    for (int i = 0; i < 3; i++)
        kids[i] = ipc_spawn(cond_consumer, s);
    for (int i = 0; i < 30000; i++) {
        ASSERT_OK(mproc_lock_acquire(&s->lock, -1));
        s->plain++;
        ASSERT_OK(mproc_cond_notify(&s->cond, 1));
        ASSERT_OK(mproc_lock_release(&s->lock));
    }
    ASSERT_OK(mproc_lock_acquire(&s->lock, -1));
    s->flag = 1;
    ASSERT_OK(mproc_cond_notify_all(&s->cond));
    ASSERT_OK(mproc_lock_release(&s->lock));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_eq(s->counter, 30000);
    ck_assert_int_eq(s->plain, 0);
    sh_free(blk);
}
END_TEST

static int cond_wait_forever(void *arg)
{
    shared *s = arg;
    mproc_lock_acquire(&s->lock, -1);
    mproc_test_gate_signal(&s->gate);
    while (!s->flag)
        mproc_cond_wait(&s->cond, &s->lock, -1);
    mproc_lock_release(&s->lock);
    return 0;
}

START_TEST(cond_timeout_errors_and_killed_waiter)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    ASSERT_OK(mproc_lock_acquire(&s->lock, -1));
    double t0 = now();
    ck_assert_int_eq(mproc_cond_wait(&s->cond, &s->lock, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    /* The lock is held again after a timeout. */
    ck_assert_int_eq(mproc_lock_acquire(&s->lock, 0), -EDEADLK);
    ASSERT_OK(mproc_lock_release(&s->lock));
    ck_assert_int_eq(mproc_cond_wait(&s->cond, &s->lock, 0), -EPERM);
    ck_assert_int_eq(mproc_cond_wait(NULL, &s->lock, 0), -EINVAL);
    ck_assert_int_eq(mproc_cond_wait(&s->cond, NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_cond_notify(NULL, 1), -EINVAL);
    /* A waiter killed while waiting swallows no notification. */
    pid_t doomed = ipc_spawn(cond_wait_forever, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ASSERT_OK(mproc_lock_acquire(&s->lock, -1)); /* it is in the wait now */
    ASSERT_OK(mproc_lock_release(&s->lock));
    ipc_kill(doomed);
    pid_t live = ipc_spawn(cond_wait_forever, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ASSERT_OK(mproc_lock_acquire(&s->lock, -1));
    s->flag = 1;
    ASSERT_OK(mproc_cond_notify(&s->cond, 1));
    ASSERT_OK(mproc_lock_release(&s->lock));
    ck_assert_int_eq(ipc_reap(live), 0);
    mproc_cond *c;
    ASSERT_OK(mproc_cond_new(&c));
    ASSERT_OK(mproc_cond_notify_all(c));
    mproc_cond_free(c);
    sh_free(blk);
}
END_TEST

static int cond_wait_then_ownerdead(void *arg)
{
    shared *s = arg;
    mproc_lock_acquire(&s->lock, -1);
    mproc_test_gate_signal(&s->gate);
    int r = mproc_cond_wait(&s->cond, &s->lock, -1);
    if (r != -EOWNERDEAD)
        return 1;
    mproc_lock_consistent(&s->lock);
    mproc_lock_release(&s->lock);
    return 0;
}

START_TEST(cond_wait_reports_dead_lock_holder)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t waiter = ipc_spawn(cond_wait_then_ownerdead, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    pid_t holder = ipc_spawn(hold_and_wait, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    /* The holder has the lock, so the waiter is asleep in the condition. */
    ASSERT_OK(mproc_cond_notify_all(&s->cond));
    ipc_kill(holder);
    ck_assert_int_eq(ipc_reap(waiter), 0);
    ASSERT_OK(mproc_lock_acquire(&s->lock, 1));
    ASSERT_OK(mproc_lock_release(&s->lock));
    sh_free(blk);
}
END_TEST

/* ---- barrier ---------------------------------------------------------------------------- */

#define ROUNDS 2000

static int bar_rounds(void *arg)
{
    shared *s = arg;
    for (int r = 0; r < ROUNDS; r++) {
        mproc_lock_acquire(&s->lock, -1);
        s->counter++;
        mproc_lock_release(&s->lock);
        int idx = mproc_barrier_wait(&s->bar, 30);
        if (idx < 0 || idx > 3)
            return 1;
        /* Everyone of this round has counted before anyone passes. */
        mproc_lock_acquire(&s->lock, -1);
        long c = s->counter;
        mproc_lock_release(&s->lock);
        if (c < 4L * (r + 1))
            return 2;
        if (mproc_barrier_wait(&s->bar, 30) < 0)
            return 3;
    }
    return 0;
}

START_TEST(barrier_four_processes_in_step)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    pid_t kids[4];
    for (int i = 0; i < 4; i++)
        kids[i] = ipc_spawn(bar_rounds, s);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_eq(s->counter, 4L * ROUNDS);
    ck_assert_int_eq(mproc_barrier_parties(&s->bar), 4);
    ck_assert_int_eq(mproc_barrier_n_waiting(&s->bar), 0);
    sh_free(blk);
}
END_TEST

static int bar_wait_expect(void *arg)
{
    shared *s = arg;
    mproc_test_gate_signal(&s->gate);
    int r = mproc_barrier_wait(&s->bar, 30);
    return r == -EPIPE ? 0 : 10 + (r < 0 ? -r : r);
}

START_TEST(barrier_timeout_abort_reset)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    /* A timed-out party breaks the round for the ones waiting in it. */
    pid_t w = ipc_spawn(bar_wait_expect, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    while (mproc_barrier_n_waiting(&s->bar) != 1)
        sched_yield();
    double t0 = now();
    ck_assert_int_eq(mproc_barrier_wait(&s->bar, 0.05), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.05);
    ck_assert_int_eq(ipc_reap(w), 0);
    ck_assert(mproc_barrier_broken(&s->bar));
    ck_assert_int_eq(mproc_barrier_wait(&s->bar, 0), -EPIPE);
    ASSERT_OK(mproc_barrier_reset(&s->bar));
    ck_assert(!mproc_barrier_broken(&s->bar));
    /* Abort wakes the waiters with -EPIPE. */
    w = ipc_spawn(bar_wait_expect, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    while (mproc_barrier_n_waiting(&s->bar) != 1)
        sched_yield();
    ASSERT_OK(mproc_barrier_abort(&s->bar));
    ck_assert_int_eq(ipc_reap(w), 0);
    ASSERT_OK(mproc_barrier_reset(&s->bar));
    /* Reset during a round breaks that round only. */
    w = ipc_spawn(bar_wait_expect, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    while (mproc_barrier_n_waiting(&s->bar) != 1)
        sched_yield();
    ASSERT_OK(mproc_barrier_reset(&s->bar));
    ck_assert_int_eq(ipc_reap(w), 0);
    ck_assert(!mproc_barrier_broken(&s->bar));
    mproc_barrier one;
    ASSERT_OK(mproc_barrier_init(&one, 1));
    ck_assert_int_eq(mproc_barrier_wait(&one, 0), 0);
    ck_assert_int_eq(mproc_barrier_init(&one, 0), -EINVAL);
    ck_assert_int_eq(mproc_barrier_init(NULL, 2), -EINVAL);
    ck_assert_int_eq(mproc_barrier_wait(NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_barrier_wait(&s->bar, NAN), -EINVAL);
    mproc_barrier *nb;
    ASSERT_OK(mproc_barrier_new(&nb, 2));
    ck_assert_int_eq(mproc_barrier_wait(nb, 0), -ETIMEDOUT);
    mproc_barrier_free(nb);
    sh_free(blk);
}
END_TEST

static int bar_hold_internal(void *arg)
{
    shared *s = arg;
    /* The barrier's bookkeeping mutex is the first member of its private
       layout (sync.c): take it and die holding it, as a party killed in the
       middle of mproc_barrier_wait would. */
    pthread_mutex_lock((pthread_mutex_t *)(void *)&s->bar);
    mproc_test_gate_signal(&s->gate);
    pause();
    return 0;
}

static int bar_arrive(void *arg)
{
    shared *s = arg;
    int r = mproc_barrier_wait(&s->bar, 30);
    return r >= 0 ? 0 : 10 + -r;
}

START_TEST(barrier_party_killed)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk);
    /* A party that arrived and then died still counts for its round. */
    pid_t doomed = ipc_spawn(bar_arrive, s);
    while (mproc_barrier_n_waiting(&s->bar) != 1)
        sched_yield();
    ipc_kill(doomed);
    pid_t kids[2];
    for (int i = 0; i < 2; i++)
        kids[i] = ipc_spawn(bar_arrive, s);
    ck_assert_int_ge(mproc_barrier_wait(&s->bar, 30), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    /* A party killed inside the bookkeeping breaks the barrier. */
    pid_t holder = ipc_spawn(bar_hold_internal, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(holder);
    ck_assert_int_eq(mproc_barrier_wait(&s->bar, 1), -EPIPE);
    ck_assert(mproc_barrier_broken(&s->bar));
    ASSERT_OK(mproc_barrier_reset(&s->bar));
    mproc_barrier_init(&s->bar, 1);
    ck_assert_int_eq(mproc_barrier_wait(&s->bar, 1), 0);
    sh_free(blk);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "lock", 60);
    tcase_add_test(tc, lock_four_processes_count_exactly);
    tcase_add_test(tc, lock_holder_killed_gives_ownerdead_and_recovers);
    tcase_add_test(tc, lock_not_repaired_becomes_unrecoverable);
    tcase_add_test(tc, lock_errors);
    tcase_add_test(tc, lock_timeouts_never_early);
    tcase_add_test(tc, lock_new_is_shared_with_children);
    tcase_add_test(tc, rlock_recursion_and_holder_killed);
    tc = mproc_tcase(s, "sem", 60);
    tcase_add_test(tc, sem_as_mutex_four_processes);
    tcase_add_test(tc, sem_counts_bounds_and_errors);
    tcase_add_test(tc, sem_holder_and_waiter_killed);
    tc = mproc_tcase(s, "event_cond", 60);
    tcase_add_test(tc, event_wakes_every_process_and_survives_killed_waiter);
    tcase_add_test(tc, cond_producer_consumers_exact_count);
    tcase_add_test(tc, cond_timeout_errors_and_killed_waiter);
    tcase_add_test(tc, cond_wait_reports_dead_lock_holder);
    tc = mproc_tcase(s, "barrier", 60);
    tcase_add_test(tc, barrier_four_processes_in_step);
    tcase_add_test(tc, barrier_timeout_abort_reset);
    tcase_add_test(tc, barrier_party_killed);
}
