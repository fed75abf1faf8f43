/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_faults_locks.c: fault injection on the locks and what is built on
 * them: holders killed mid-operation, and a lock left unrecoverable, as
 * every later acquirer (any process, any timeout) must see it. */
#include "test_ipc_util.h"

#include <sched.h>

/* ---- a lock or a recursive lock, behind one interface ---------------------- */

typedef struct {
    mproc_lock lock;
    mproc_rlock rlock;
    mproc_cond cond;
    mproc_barrier bar;
    int recursive; /* which of the two locks the case uses */
    long counter;
    mproc_test_gate gate;
} shared;

static int acq(shared *s, double t)
{
    return s->recursive ? mproc_rlock_acquire(&s->rlock, t) : mproc_lock_acquire(&s->lock, t);
}

static int rel(shared *s)
{
    return s->recursive ? mproc_rlock_release(&s->rlock) : mproc_lock_release(&s->lock);
}

static shared *sh_new(mproc_shm **blk, int recursive)
{
    ASSERT_OK(mproc_shm_new(blk, sizeof(shared)));
    shared *s = mproc_shm_ptr(*blk);
    ASSERT_OK(mproc_lock_init(&s->lock));
    ASSERT_OK(mproc_rlock_init(&s->rlock));
    ASSERT_OK(mproc_cond_init(&s->cond));
    ASSERT_OK(mproc_barrier_init(&s->bar, 2));
    s->recursive = recursive;
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

static int die_holding(void *arg)
{
    shared *s = arg;
    if (acq(s, -1) != 0)
        return 1;
    s->counter = 42; /* half-way through an update */
    mproc_test_gate_signal(&s->gate);
    pause();
    return 0;
}

/* The holder dies; we inherit the lock and hold it, not yet released. */
static void inherit(shared *s)
{
    pid_t pid = ipc_spawn(die_holding, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(pid);
    ck_assert_int_eq(acq(s, -1), -EOWNERDEAD);
    ck_assert_int_eq(s->counter, 42);
}

/* Every acquire, with every kind of timeout, twice: unrecoverable, and
   never left held (a held one would give -EDEADLK, or succeed for an
   rlock, or -ETIMEDOUT, the second time). Exit code 0 when so. */
static int all_unrecoverable(void *arg)
{
    shared *s = arg;
    static const double timeouts[] = { 0, 0.001, 0.05, -1, 0, 0.05, -1 };
    for (size_t i = 0; i < sizeof timeouts / sizeof *timeouts; i++)
        if (acq(s, timeouts[i]) != -ENOTRECOVERABLE)
            return 10 + (int)i;
    return rel(s) == -EPERM ? 0 : 2;
}

/* Asleep in acquire when the lock is lost: woken with the verdict. */
static int wait_then_unrecoverable(void *arg)
{
    shared *s = arg;
    double t = s->counter == 42 ? -1 : 20;
    int r = acq(s, t);
    return r == -ENOTRECOVERABLE ? 0 : 1;
}

static void unrecoverable_everywhere(int recursive)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk, recursive);
    inherit(s);
    /* Two processes asleep in acquire, one forever, one with a timeout,
       when the lock is released without repair. */
    pid_t forever = ipc_spawn(wait_then_unrecoverable, s);
    s->counter = 0;
    pid_t timed = ipc_spawn(wait_then_unrecoverable, s);
    ck_assert(mproc_test_wait_state(forever, 'S'));
    ck_assert(mproc_test_wait_state(timed, 'S'));
    ASSERT_OK(rel(s));
    ck_assert_int_eq(ipc_reap(forever), 0);
    ck_assert_int_eq(ipc_reap(timed), 0);
    /* Here, then in a process started after. */
    ck_assert_int_eq(all_unrecoverable(s), 0);
    ck_assert_int_eq(ipc_reap(ipc_spawn(all_unrecoverable, s)), 0);
    ck_assert_int_eq(all_unrecoverable(s), 0);
    /* Repair is no longer possible. */
    ck_assert_int_eq(recursive ? mproc_rlock_consistent(&s->rlock)
                               : mproc_lock_consistent(&s->lock), -EINVAL);
    sh_free(blk);
}

START_TEST(lock_released_unrepaired_is_unrecoverable_everywhere)
{
    unrecoverable_everywhere(0);
}
END_TEST

START_TEST(rlock_released_unrepaired_is_unrecoverable_everywhere)
{
    unrecoverable_everywhere(1);
}
END_TEST

START_TEST(rlock_held_twice_then_lost_drops_both_holds)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk, 1);
    inherit(s);
    ASSERT_OK(acq(s, 0)); /* held twice now */
    ASSERT_OK(rel(s));    /* released unrepaired: lost ... */
    ck_assert_int_eq(acq(s, 0), -ENOTRECOVERABLE);
    ASSERT_OK(rel(s)); /* ... and the last hold goes too */
    ck_assert_int_eq(ipc_reap(ipc_spawn(all_unrecoverable, s)), 0);
    sh_free(blk);
}
END_TEST

START_TEST(repaired_lock_stays_usable)
{
    for (int recursive = 0; recursive < 2; recursive++) {
        mproc_shm *blk;
        shared *s = sh_new(&blk, recursive);
        inherit(s);
        ASSERT_OK(recursive ? mproc_rlock_consistent(&s->rlock) : mproc_lock_consistent(&s->lock));
        ASSERT_OK(rel(s));
        ASSERT_OK(acq(s, 0));
        ASSERT_OK(rel(s));
        /* A second death, a second repair. */
        inherit(s);
        ASSERT_OK(recursive ? mproc_rlock_consistent(&s->rlock) : mproc_lock_consistent(&s->lock));
        ASSERT_OK(rel(s));
        ASSERT_OK(acq(s, 0.01));
        ASSERT_OK(rel(s));
        sh_free(blk);
    }
}
END_TEST

/* The inheritor itself dies without repair: the next one inherits again. */
START_TEST(inheritor_killed_passes_ownerdead_on)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk, 0);
    pid_t pid = ipc_spawn(die_holding, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    ipc_kill(pid);
    pid = ipc_spawn(die_holding, s); /* gets EOWNERDEAD: returns 1 */
    ck_assert_int_eq(ipc_reap(pid), 1);
    ck_assert_int_eq(acq(s, 1), -EOWNERDEAD);
    ASSERT_OK(mproc_lock_consistent(&s->lock));
    ASSERT_OK(rel(s));
    ASSERT_OK(acq(s, 0));
    ASSERT_OK(rel(s));
    sh_free(blk);
}
END_TEST

/* A condition wait on a lock inherited and not repaired releases it
   unrepaired: -ENOTRECOVERABLE, the lock not held. */
START_TEST(cond_wait_on_unrepaired_lock_is_unrecoverable)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk, 0);
    inherit(s);
    ck_assert_int_eq(mproc_cond_wait(&s->cond, &s->lock, 0.01), -ENOTRECOVERABLE);
    ck_assert_int_eq(mproc_lock_release(&s->lock), -EPERM);
    ck_assert_int_eq(mproc_cond_wait(&s->cond, &s->lock, 0.01), -EPERM);
    ck_assert_int_eq(ipc_reap(ipc_spawn(all_unrecoverable, s)), 0);
    sh_free(blk);
}
END_TEST

/* ---- holders killed mid-operation, many times --------------------------- */

/* Increments the counter under the lock forever, repairing after a dead
   holder: the counter then holds every completed increment exactly, plus
   at most one torn one per death. */
static int count_forever(void *arg)
{
    shared *s = arg;
    bool first = true;
    for (;;) {
        int r = acq(s, -1);
        if (r == -EOWNERDEAD)
            r = s->recursive ? mproc_rlock_consistent(&s->rlock) : mproc_lock_consistent(&s->lock);
        if (r != 0)
            return 1;
        s->counter++;
        if (rel(s) != 0)
            return 2;
        if (first) {
            mproc_test_gate_signal(&s->gate);
            first = false;
        }
    }
}

static void killed_holders(int recursive)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk, recursive);
    enum { KILLS = 40 };
    pid_t a = ipc_spawn(count_forever, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    for (int i = 0; i < KILLS; i++) {
        pid_t b = ipc_spawn(count_forever, s);
        ck_assert(mproc_test_gate_wait(&s->gate, 10));
        ipc_kill(a); /* mid-operation, holding or not */
        a = b;
    }
    ipc_kill(a);
    /* Whatever the deaths left, the lock still works for us. */
    int r = acq(s, 5);
    if (r == -EOWNERDEAD)
        r = recursive ? mproc_rlock_consistent(&s->rlock) : mproc_lock_consistent(&s->lock);
    ASSERT_OK(r);
    ck_assert_int_ge(s->counter, KILLS + 1);
    ASSERT_OK(rel(s));
    ASSERT_OK(acq(s, 0));
    ASSERT_OK(rel(s));
    sh_free(blk);
}

START_TEST(lock_holders_killed_mid_operation)
{
    killed_holders(0);
}
END_TEST

START_TEST(rlock_holders_killed_mid_operation)
{
    killed_holders(1);
}
END_TEST

/* A barrier party killed while inside the barrier's bookkeeping or asleep
   in it: the barrier breaks (-EPIPE for the others), never wedges, and
   works again after reset. */
static int barrier_forever(void *arg)
{
    shared *s = arg;
    mproc_test_gate_signal(&s->gate);
    while (mproc_barrier_wait(&s->bar, -1) >= 0 || mproc_barrier_reset(&s->bar) == 0)
        continue;
    return 1;
}

START_TEST(barrier_party_killed_mid_operation)
{
    mproc_shm *blk;
    shared *s = sh_new(&blk, 0);
    for (int i = 0; i < 20; i++) {
        pid_t a = ipc_spawn(barrier_forever, s);
        ck_assert(mproc_test_gate_wait(&s->gate, 10));
        pid_t b = ipc_spawn(barrier_forever, s);
        ck_assert(mproc_test_gate_wait(&s->gate, 10));
        sched_yield();
        ipc_kill(a);
        ipc_kill(b);
        ASSERT_OK(mproc_barrier_reset(&s->bar));
    }
    /* Usable: two parties pass in step. */
    pid_t b = ipc_spawn(barrier_forever, s);
    ck_assert(mproc_test_gate_wait(&s->gate, 10));
    for (int i = 0; i < 100; i++)
        ck_assert_int_ge(mproc_barrier_wait(&s->bar, 10), 0);
    ipc_kill(b);
    sh_free(blk);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "unrecoverable", 30);
    tcase_add_test(tc, lock_released_unrepaired_is_unrecoverable_everywhere);
    tcase_add_test(tc, rlock_released_unrepaired_is_unrecoverable_everywhere);
    tcase_add_test(tc, rlock_held_twice_then_lost_drops_both_holds);
    tcase_add_test(tc, repaired_lock_stays_usable);
    tcase_add_test(tc, inheritor_killed_passes_ownerdead_on);
    tcase_add_test(tc, cond_wait_on_unrepaired_lock_is_unrecoverable);
    tc = mproc_tcase(s, "killed_holders", 30);
    tcase_add_test(tc, lock_holders_killed_mid_operation);
    tcase_add_test(tc, rlock_holders_killed_mid_operation);
    tcase_add_test(tc, barrier_party_killed_mid_operation);
}
