/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_queue_lock.c: the queue's own robust lock (src/qlock.h): a holder
 * that dies (killed, or a thread that ends) is noticed by the next taker
 * and by a sleeper, a forked child locks under its own id, and the lock
 * shares the thread's robust list with the C library's robust mutexes. */
#include "test_ipc_util.h"

#include "qlock.h"

#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

typedef struct {
    mproc__qlock q;
    pthread_mutex_t m1, m2;
    _Atomic int stage;
} shared_locks;

static shared_locks *shared_new(void)
{
    shared_locks *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                           -1, 0);
    ck_assert_ptr_ne(s, MAP_FAILED);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    ck_assert_int_eq(pthread_mutex_init(&s->m1, &a), 0);
    ck_assert_int_eq(pthread_mutex_init(&s->m2, &a), 0);
    pthread_mutexattr_destroy(&a);
    return s;
}

static void shared_free(shared_locks *s)
{
    pthread_mutex_destroy(&s->m1);
    pthread_mutex_destroy(&s->m2);
    munmap(s, sizeof *s);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Wait (up to 10 s) until the shared stage reaches n. */
static void await_stage(shared_locks *s, int n)
{
    for (int i = 0; i < 10000 && atomic_load(&s->stage) < n; i++)
        sleep_ms(1);
    ck_assert_int_ge(atomic_load(&s->stage), n);
}

static int hold_and_wait(void *arg)
{
    shared_locks *s = arg;
    if (mproc__qlock_lock(&s->q, INFINITY) != 0)
        return 1;
    atomic_store(&s->stage, 1);
    pause();
    return 0;
}

START_TEST(killed_holder_is_noticed)
{
    shared_locks *s = shared_new();
    pid_t pid = ipc_spawn(hold_and_wait, s);
    await_stage(s, 1);
    ck_assert_int_eq(mproc__qlock_trylock(&s->q), -EBUSY);
    ck_assert_int_eq(mproc__qlock_lock(&s->q, 0), -ETIMEDOUT); /* a deadline passed */
    ipc_kill(pid);
    ck_assert_int_eq(mproc__qlock_trylock(&s->q), 1);
    mproc__qlock_unlock(&s->q);
    /* Repaired by being taken: the next taker finds it healthy. */
    ck_assert_int_eq(mproc__qlock_lock(&s->q, INFINITY), 0);
    mproc__qlock_unlock(&s->q);
    shared_free(s);
}
END_TEST

/* A second child sleeps on the lock (past the spin), then the holder is
   killed: the kernel's mark wakes it, and it reports the death. */
static int lock_and_report(void *arg)
{
    shared_locks *s = arg;
    atomic_store(&s->stage, 2);
    int r = mproc__qlock_lock(&s->q, mproc__now() + 20);
    if (r >= 0)
        mproc__qlock_unlock(&s->q);
    return r == 1 ? 0 : r == 0 ? 2 : 3;
}

START_TEST(sleeper_woken_by_holder_death)
{
    shared_locks *s = shared_new();
    pid_t holder = ipc_spawn(hold_and_wait, s);
    await_stage(s, 1);
    pid_t sleeper = ipc_spawn(lock_and_report, s);
    await_stage(s, 2);
    /* Asleep: the waiters bit is up once it gave up spinning. */
    for (int i = 0; i < 10000 && !(atomic_load(&s->q.word) & FUTEX_WAITERS); i++)
        sleep_ms(1);
    ck_assert(atomic_load(&s->q.word) & FUTEX_WAITERS);
    ipc_kill(holder);
    ck_assert_int_eq(ipc_reap(sleeper), 0);
    ck_assert_int_eq(mproc__qlock_lock(&s->q, INFINITY), 0);
    mproc__qlock_unlock(&s->q);
    shared_free(s);
}
END_TEST

/* The C library's robust mutexes and ours in one thread's list, released
   out of order (each unlink then writes into a neighbour of the other
   kind), then a death holding m1 below ours: the kernel walks through our
   entry to mark both, and m2, released before, is untouched. Always m1,
   then q, then m2, so that no lock order is ever reversed. */
static int mixed_and_die(void *arg)
{
    shared_locks *s = arg;
    for (int round = 0; round < 2; round++) {
        if (pthread_mutex_lock(&s->m1) != 0 || mproc__qlock_lock(&s->q, INFINITY) != 0 ||
            pthread_mutex_lock(&s->m2) != 0)
            return 1;
        if (round == 1)
            break;
        pthread_mutex_unlock(&s->m1); /* the last entry: it writes our next */
        mproc__qlock_unlock(&s->q);   /* ours, below m2: we write m2's next */
        pthread_mutex_unlock(&s->m2);
    }
    pthread_mutex_unlock(&s->m2); /* the first entry, above ours */
    atomic_store(&s->stage, 1);
    pause(); /* killed holding q and, below it, m1 */
    return 0;
}

START_TEST(shares_the_robust_list_with_the_c_library)
{
    shared_locks *s = shared_new();
    pid_t pid = ipc_spawn(mixed_and_die, s);
    await_stage(s, 1);
    ipc_kill(pid);
    ck_assert_int_eq(pthread_mutex_lock(&s->m1), EOWNERDEAD);
    ck_assert_int_eq(pthread_mutex_consistent(&s->m1), 0);
    ck_assert_int_eq(mproc__qlock_lock(&s->q, INFINITY), 1);
    ck_assert_int_eq(pthread_mutex_lock(&s->m2), 0);
    /* Our own list stays whole with all three held and released. */
    pthread_mutex_unlock(&s->m2);
    mproc__qlock_unlock(&s->q);
    pthread_mutex_unlock(&s->m1);
    shared_free(s);
}
END_TEST

START_TEST(forked_child_locks_as_itself)
{
    shared_locks *s = shared_new();
    /* The parent's thread id is looked up before the fork... */
    ck_assert_int_eq(mproc__qlock_lock(&s->q, INFINITY), 0);
    mproc__qlock_unlock(&s->q);
    /* ...and the child, holding the lock under its own, dies. */
    pid_t pid = ipc_spawn(hold_and_wait, s);
    await_stage(s, 1);
    ck_assert_uint_eq(atomic_load(&s->q.word) & FUTEX_TID_MASK, (uint32_t)pid);
    ipc_kill(pid);
    ck_assert_int_eq(mproc__qlock_trylock(&s->q), 1);
    mproc__qlock_unlock(&s->q);
    shared_free(s);
}
END_TEST

static void *hold_and_end(void *arg)
{
    shared_locks *s = arg;
    return (void *)(intptr_t)mproc__qlock_lock(&s->q, INFINITY);
}

START_TEST(thread_ending_while_holding_is_noticed)
{
    shared_locks *s = shared_new();
    pthread_t t;
    void *r;
    ck_assert_int_eq(pthread_create(&t, NULL, hold_and_end, s), 0);
    ck_assert_int_eq(pthread_join(t, &r), 0);
    ck_assert_int_eq((int)(intptr_t)r, 0);
    ck_assert_int_eq(mproc__qlock_lock(&s->q, mproc__now() + 10), 1);
    mproc__qlock_unlock(&s->q);
    shared_free(s);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "queue_lock", 30);
    tcase_add_test(tc, killed_holder_is_noticed);
    tcase_add_test(tc, sleeper_woken_by_holder_death);
    tcase_add_test(tc, shares_the_robust_list_with_the_c_library);
    tcase_add_test(tc, forked_child_locks_as_itself);
    tcase_add_test(tc, thread_ending_while_holding_is_noticed);
}
