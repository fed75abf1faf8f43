/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* qlock.c: the queue's own robust lock (qlock.h): finding the thread's
 * robust list, and the contended paths. */
#include "qlock.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread mproc__ql_self_t mproc__ql_self __attribute__((tls_model("initial-exec")));

/* A forked child is another thread with another id, and under musl it has
   no robust list until it locks a robust mutex: look again. */
static void ql_forked(void)
{
    mproc__ql_self.tid = 0;
    mproc__ql_self.head = NULL;
}

static void ql_once(void)
{
    pthread_atfork(NULL, NULL, ql_forked);
}

static struct robust_list_head *ql_registered(void)
{
    struct robust_list_head *hd = NULL;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &hd, &len) != 0 || len != sizeof *hd)
        return NULL;
    return hd;
}

int mproc__ql_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ql_once);
    struct robust_list_head *hd = ql_registered();
    if (!hd) {
        /* musl registers a thread's list when it first locks a robust
           process-shared mutex: lock one of our own once. */
        pthread_mutex_t m;
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        if (pthread_mutex_init(&m, &a) == 0) {
            if (pthread_mutex_lock(&m) == 0)
                pthread_mutex_unlock(&m);
            pthread_mutex_destroy(&m);
        }
        pthread_mutexattr_destroy(&a);
        hd = ql_registered();
    }
    /* The kernel finds every word of the list at the same offset from its
       entry: ours must sit where the C library's own do. */
    if (!hd || hd->futex_offset != (long)offsetof(mproc__qlock, word) -
                                       (long)offsetof(mproc__qlock, next))
        return -ENOTSUP;
    mproc__ql_self.head = hd;
    mproc__ql_self.tid = (uint32_t)syscall(SYS_gettid);
    return 0;
}

/* Try to make a free word ours (keeping FUTEX_WAITERS, or setting it after
   a sleep: others may still sleep). 0 or 1 (the last holder died), -EBUSY,
   -EAGAIN when the word changed under us. */
static int ql_try(mproc__qlock *l, uint32_t v, uint32_t tid, uint32_t waiters)
{
    if (v & FUTEX_TID_MASK)
        return -EBUSY;
    if (!atomic_compare_exchange_strong_explicit(&l->word, &v,
                                                 tid | (v & FUTEX_WAITERS) | waiters,
                                                 memory_order_acquire, memory_order_relaxed))
        return -EAGAIN;
    return (v & FUTEX_OWNER_DIED) ? 1 : 0;
}

/* Spins before sleeping: the lock is held for a copy of one message, and a
   short spin saves two system calls when the holder is running; a holder
   that is not (one CPU, or preempted) costs only these few rounds. The
   spinner looks at the word only every MPROC__QL_PAUSES pauses: the word
   shares its cache line with what the holder writes as it commits (the
   queue's tail, count, futex word and journal flag, queue_layout.h), and
   each look takes the line from the holder, whose next write then fetches
   it back. Measured at 4 KiB 2 -> 2 on two CPUs, a producer on each, a
   look every pause (64 of them) made a put wait for the line at the
   commit's fence: 174-311 ns a message, against 114-132 ns with 8 looks 8
   pauses apart (the same time spinning), as fast as 1 -> 1. Then a few
   yields: with more processes than CPUs (2 -> 2 on two CPUs) a holder
   preempted inside its critical section is often waiting for this very
   CPU, and a yield hands it over at the price of one system call, where a
   sleep costs the waiter two and the holder's release a wake-up call.
   Measured at 2 -> 2 on two CPUs (with the getters' yields at take()):
   system calls down from 1,700-3,600 to 600-700 a run at 64 B and from
   12,500-106,000 to 8,000-9,700 at 4 KiB. */
#define QL_SPINS 8
#define QL_YIELDS 4

int mproc__ql_lock_slow(mproc__qlock *l, double deadline)
{
    mproc__ql_self_t *s = &mproc__ql_self;
    struct robust_list_head *hd = s->head;
    uint32_t waiters = 0;
    int spins = QL_SPINS, yields = QL_YIELDS, r;
    for (;;) {
        uint32_t v = atomic_load_explicit(&l->word, memory_order_relaxed);
        if ((v & FUTEX_TID_MASK) == s->tid) {
            r = -EDEADLK;
            break;
        }
        r = ql_try(l, v, s->tid, waiters);
        if (r >= 0)
            break;
        if (r == -EAGAIN)
            continue;
        if (spins > 0) {
            spins--;
            mproc__ql_pause_between_looks();
            continue;
        }
        if (yields > 0) {
            yields--;
            sched_yield();
            continue;
        }
        /* Say that someone sleeps, so that the holder's release (or the
           kernel, at its death) wakes one. */
        if (!(v & FUTEX_WAITERS) &&
            !atomic_compare_exchange_strong_explicit(&l->word, &v, v | FUTEX_WAITERS,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed))
            continue;
        r = mproc__futex_wait(&l->word, v | FUTEX_WAITERS, deadline);
        if (r == -ETIMEDOUT)
            break;
        waiters = FUTEX_WAITERS;
    }
    if (r < 0) {
        hd->list_op_pending = NULL;
        return r;
    }
    mproc__ql_link(l, hd);
    l->contended = 1;
    return r;
}

int mproc__qlock_trylock(mproc__qlock *l)
{
    mproc__ql_self_t *s = &mproc__ql_self;
    if (s->tid == 0) {
        int e = mproc__ql_init();
        if (e < 0)
            return e;
    }
    struct robust_list_head *hd = s->head;
    hd->list_op_pending = (struct robust_list *)(void *)&l->next;
    QL_BARRIER();
    int r;
    do
        r = ql_try(l, atomic_load_explicit(&l->word, memory_order_relaxed), s->tid, 0);
    while (r == -EAGAIN);
    if (r < 0) {
        hd->list_op_pending = NULL;
        return r;
    }
    mproc__ql_link(l, hd);
    return r;
}

void mproc__ql_wake(mproc__qlock *l)
{
    mproc__futex_wake(&l->word, 1);
}
