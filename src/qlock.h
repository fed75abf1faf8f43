/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* qlock.h: the queue's own process-shared lock, which survives a holder
 * killed at any instruction, with its fast path inline.
 *
 * WHY NOT A ROBUST PTHREAD MUTEX. glibc's robust mutex costs about 60
 * instructions a lock or unlock (type checks, the owner-died protocol, the
 * user count), four times per message; this lock costs about 15. It keeps
 * the same guarantee by the same kernel mechanism: the lock word holds the
 * holder's thread id, and a held lock is linked into the thread's robust
 * list, the one the C library registered with set_robust_list(2). When a
 * thread dies the kernel walks that list and, for each word still holding
 * the dead thread's id, sets FUTEX_OWNER_DIED and wakes a waiter; the next
 * acquirer sees the bit and repairs (for the queue: applies the journal).
 *
 * The list is the C library's, so our links follow its layout exactly: a
 * list entry is the address of a `next` pointer, the previous entry's
 * address sits in the pointer just before it (glibc's __list.__prev,
 * musl's _m_prev), and the word is at `next` plus the list's futex_offset
 * (checked once per thread in qlock.c). Bit 0 of a `next` marks a
 * priority-inheritance mutex of the C library's; it is kept as found and
 * masked off before following. list_op_pending covers a death between
 * taking the word and linking it, or between unlinking it and letting it
 * go: the kernel treats the pending entry as held too.
 *
 * Only the holder writes prev and next, and it holds the lock for a few
 * hundred instructions; it never calls the C library's robust mutexes while
 * holding one (so our entry is always unlinked before the list changes
 * under it, though the code does not rely on that). */
#ifndef MPROC_QLOCK_H
#define MPROC_QLOCK_H

#include "internal.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
#ifdef __GLIBC__
    _Atomic uint32_t word; /* 0 free; holder's tid, FUTEX_WAITERS, FUTEX_OWNER_DIED */
    uint32_t pad_;
#else
    uint32_t pad_;
    _Atomic uint32_t word; /* musl: the word is 28 bytes before next */
#endif
    uint32_t contended; /* set by a taker that found the lock held; the lock's user clears it */
    uint32_t pad2_;
    uint64_t spare_;
    void *volatile prev; /* the previous entry of the holder's robust list */
    void *volatile next; /* the entry itself: the next one, or the list head */
} mproc__qlock;

/* The calling thread's robust list head and thread id, found on first use
   (and again in a forked child). */
typedef struct {
    struct robust_list_head *head;
    uint32_t tid;
} mproc__ql_self_t;
extern __thread mproc__ql_self_t mproc__ql_self __attribute__((tls_model("initial-exec")));

/* Set mproc__ql_self up for this thread: 0, or -ENOTSUP where the kernel or
   the C library offers no robust list this lock can join. */
int mproc__ql_init(void);
/* The pauses between two looks at a word another CPU writes, while
   spinning on it (qlock.c says why), and the wait they make. */
#define MPROC__QL_PAUSES 8

static inline void mproc__ql_pause_between_looks(void)
{
    for (int k = 0; k < MPROC__QL_PAUSES; k++)
        mproc__cpu_relax();
}

/* The contended lock: spins a little, then sleeps on the word. */
int mproc__ql_lock_slow(mproc__qlock *l, double deadline);
/* Wake one sleeper of a lock just released with FUTEX_WAITERS set. */
void mproc__ql_wake(mproc__qlock *l);

#define QL_BARRIER() atomic_signal_fence(memory_order_seq_cst)

static inline void *mproc__ql_unmark(void *p)
{
    return (void *)((uintptr_t)p & ~(uintptr_t)1);
}

/* Link l, just taken, first in the holder's list; then clear pending. */
static inline void mproc__ql_link(mproc__qlock *l, struct robust_list_head *hd)
{
    void *first = hd->list.next;
    l->next = first;
    l->prev = &hd->list;
    void *f = mproc__ql_unmark(first);
    if (f != (void *)&hd->list)
        ((void *volatile *)f)[-1] = (void *)&l->next;
    QL_BARRIER(); /* the entry is whole before the head points at it */
    hd->list.next = (struct robust_list *)(void *)&l->next;
    QL_BARRIER();
    hd->list_op_pending = NULL;
}

/* Take l: 0, 1 (taken from a holder that died: repair what it guarded), or
   -ETIMEDOUT / -ENOTSUP / -EDEADLK. */
static inline int mproc__qlock_lock(mproc__qlock *l, double deadline)
{
    mproc__ql_self_t *s = &mproc__ql_self;
    if (__builtin_expect(s->tid == 0, 0)) {
        int e = mproc__ql_init();
        if (e < 0)
            return e;
    }
    struct robust_list_head *hd = s->head;
    /* Pending before the word is ours: a death right after the exchange
       is then still seen by the kernel. */
    hd->list_op_pending = (struct robust_list *)(void *)&l->next;
    QL_BARRIER();
    uint32_t free_ = 0;
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(
                             &l->word, &free_, s->tid, memory_order_acquire,
                             memory_order_relaxed),
                         0))
        return mproc__ql_lock_slow(l, deadline);
    mproc__ql_link(l, hd);
    return 0;
}

/* Take l only if it is free now: 0 or 1 as mproc__qlock_lock, or -EBUSY. */
int mproc__qlock_trylock(mproc__qlock *l);

static inline void mproc__qlock_unlock(mproc__qlock *l)
{
    struct robust_list_head *hd = mproc__ql_self.head;
    /* Unlinked but still ours until the exchange: pending covers it. */
    hd->list_op_pending = (struct robust_list *)(void *)&l->next;
    QL_BARRIER();
    void *next = l->next, *prev = l->prev;
    *(void *volatile *)prev = next;
    void *n = mproc__ql_unmark(next);
    if (n != (void *)&hd->list)
        ((void *volatile *)n)[-1] = prev;
    QL_BARRIER();
    uint32_t old = atomic_exchange_explicit(&l->word, 0, memory_order_release);
    QL_BARRIER();
    hd->list_op_pending = NULL;
    if (__builtin_expect(old & FUTEX_WAITERS, 0))
        mproc__ql_wake(l);
}

#endif
