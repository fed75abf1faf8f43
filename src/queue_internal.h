/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue_internal.h: what the queue's two halves share (queue.c: making,
 * put, get and the rest; queue_copy.c: copies outside the locks): the ring,
 * the journals, the side locks. */
#ifndef MPROC_QUEUE_INTERNAL_H
#define MPROC_QUEUE_INTERNAL_H

#include "ipc_internal.h"
#include "queue_layout.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

static inline uint64_t rec_size(uint64_t len)
{
    return 8 + ((len + 7) & ~(uint64_t)7);
}

static inline void ring_write(mproc_queue *q, uint64_t pos, const void *src, size_t n)
{
    size_t off = (size_t)(pos & q->mask);
    size_t first = n < q->cap - off ? n : (size_t)(q->cap - off);
    if (first)
        memcpy(q->ring + off, src, first);
    if (n > first)
        memcpy(q->ring, (const char *)src + first, n - first);
}

static inline void ring_read(mproc_queue *q, uint64_t pos, void *dst, size_t n)
{
    size_t off = (size_t)(pos & q->mask);
    size_t first = n < q->cap - off ? n : (size_t)(q->cap - off);
    if (first)
        memcpy(dst, q->ring + off, first);
    if (n > first)
        memcpy((char *)dst + first, q->ring, n - first);
}

/* A record (length, then payload) at pos: one copy where it does not wrap,
   as most do. Records start 8-aligned, so the length never wraps. */
static inline void ring_put_record(mproc_queue *q, uint64_t pos, const void *data, size_t len)
{
    size_t off = (size_t)(pos & q->mask);
    uint64_t hdr = len;
    memcpy(q->ring + off, &hdr, 8);
    if (len > q->cap - off - 8)
        ring_write(q, pos + 8, data, len);
    else if (len)
        memcpy(q->ring + off + 8, data, len);
}

static inline void ring_get_payload(mproc_queue *q, uint64_t pos, void *dst, size_t len)
{
    size_t off = (size_t)(pos & q->mask);
    if (len > q->cap - off)
        ring_read(q, pos, dst, len);
    else if (len)
        memcpy(dst, q->ring + off, len);
}

/* Positions as a put or get leaves them: at most a ring apart, each at a
   record's start. Anything else was written by something other than this
   code (the block is shared memory any process holding it may write), and
   is reported rather than followed. */
static inline bool positions_ok(const mproc_queue *q, uint64_t head, uint64_t tail)
{
    return tail - head <= q->cap && ((head | tail) & 7) == 0;
}

/* ---- the journals (see DESIGN) ------------------------------------------------ */

static inline void put_apply(qhdr *h)
{
    h->pflight = h->pj_flight;
    h->pflightm = h->pj_flightm;
    atomic_store_explicit(&h->puts, h->pj_puts, RLX);
    atomic_store_explicit(&h->tail, h->pj_tail, REL);
    atomic_store_explicit(&h->pj_valid, 0, REL);
}

/* With nothing in flight the journal's flight fields are 0 already (the
   last commit left them so), and only the tail and the count change. */
static inline void put_commit(qhdr *h, uint64_t tail, uint64_t puts)
{
    h->pj_tail = tail;
    h->pj_puts = puts;
    /* Release: the journal (and the payload) are in memory before the flag
       says so, for whoever finds it after our death. */
    atomic_store_explicit(&h->pj_valid, 1, REL);
    atomic_store_explicit(&h->puts, puts, RLX);
    atomic_store_explicit(&h->tail, tail, REL);
    atomic_store_explicit(&h->pj_valid, 0, REL);
}

static inline void put_commit_flight(qhdr *h, uint64_t tail, uint64_t puts, uint64_t flight,
                              uint64_t flightm)
{
    h->pj_tail = tail;
    h->pj_puts = puts;
    h->pj_flight = flight;
    h->pj_flightm = flightm;
    atomic_store_explicit(&h->pj_valid, 1, REL);
    put_apply(h);
}

static inline void get_apply(qhdr *h)
{
    atomic_store_explicit(&h->gflight, h->gj_flight, RLX);
    atomic_store_explicit(&h->gets, h->gj_gets, RLX);
    atomic_store_explicit(&h->head, h->gj_head, REL);
    atomic_store_explicit(&h->gj_valid, 0, REL);
}

static inline void get_commit(qhdr *h, uint64_t head, uint64_t gets)
{
    h->gj_head = head;
    h->gj_gets = gets;
    atomic_store_explicit(&h->gj_valid, 1, REL);
    atomic_store_explicit(&h->gets, gets, RLX);
    atomic_store_explicit(&h->head, head, REL);
    atomic_store_explicit(&h->gj_valid, 0, REL);
}

static inline void get_commit_flight(qhdr *h, uint64_t head, uint64_t gets, uint64_t flight)
{
    h->gj_head = head;
    h->gj_gets = gets;
    h->gj_flight = flight;
    atomic_store_explicit(&h->gj_valid, 1, REL);
    get_apply(h);
}

static inline void wake_all(qhdr *h)
{
    atomic_fetch_add(&h->put_seq, 1);
    atomic_fetch_add(&h->get_seq, 1);
    atomic_fetch_add(&h->done_seq, 1);
    mproc__futex_wake(&h->put_seq, INT_MAX);
    mproc__futex_wake(&h->get_seq, INT_MAX);
    mproc__futex_wake(&h->done_seq, INT_MAX);
}

/* Take one side's lock, repairing after a holder that died. 0 held,
   -ETIMEDOUT (or -ENOTSUP: no robust list to join, qlock.c). */
static inline __attribute__((always_inline)) int side_lock(qhdr *h, mproc__qlock *m,
                                                           double deadline)
{
    int r = mproc__qlock_lock(m, deadline);
    if (__builtin_expect(r == 0, 1))
        return 0;
    if (r == 1) {
        if (m == &h->pm && atomic_load_explicit(&h->pj_valid, ACQ))
            put_apply(h);
        if (m == &h->gm && atomic_load_explicit(&h->gj_valid, ACQ))
            get_apply(h);
        /* Sleepers may have missed the wake-up the dead process owed them. */
        wake_all(h);
        r = 0;
    }
    return r;
}

/* ---- copies outside the locks (queue_copy.c) ---------------------------------- */

/* The smallest message copied outside the locks (COPIES OUTSIDE THE
   LOCKS, queue_copy.c). Below it the copy is shorter than the side lock's
   two more rounds, whose cache line then crosses between CPUs for each of
   them: measured at 4 KiB, 2 -> 2 on two CPUs, 14 interleaved rounds, the
   split way took 0.63 us of CPU a message in the median round against
   0.28 us under the lock (best runs alike); at 16 KiB and 64 KiB the two
   ways ran alike, and at 1 MiB two producers' copies made at once are
   what lets 2 -> 2 keep up with 1 -> 1. */
#define Q_SPLIT 65536
#define Q_BUSY_OPS 256
#define Q_POLL 0.05
#define Q_ROOM_POLL 0.01 /* see THE PUTTERS' HAZARD, the room (queue.c) */
#define Q_GONE Q_COPIERS /* mproc__q_reclaim() and the like: the record has gone */

/* Whether a message of Q_SPLIT bytes or more goes the split way now, with
   the side's lock m held: *recent counts down the operations since the
   side was last busy (m found held by its taker, or copies in flight). */
static inline bool split_now(uint32_t *recent, mproc__qlock *m, uint64_t flight)
{
    if (m->contended || flight) {
        m->contended = 0;
        *recent = Q_BUSY_OPS;
    } else if (*recent) {
        (*recent)--;
    }
    return *recent != 0;
}

/* The getters to wake for k messages just published (see wake_getters). */
uint64_t mproc__q_getters_to_wake(qhdr *h, uint32_t sleepers, uint64_t puts, uint64_t k);

/* k messages just published (puts counts them), pm held: wake as many
   getters as the invariant at take() asks, applying the one-message rule
   once for each. */
static inline void wake_getters(qhdr *h, uint64_t puts, uint64_t k)
{
    atomic_fetch_add(&h->put_seq, 1);
    uint32_t sleepers = atomic_load(&h->getters);
    if (sleepers == 0)
        return;
    uint64_t wake = mproc__q_getters_to_wake(h, sleepers, puts, k);
    if (wake)
        mproc__futex_wake(&h->put_seq, wake < INT_MAX ? (int)wake : INT_MAX);
}

/* A record's header (queue_layout.h), read and written in place. */
static inline uint64_t hdr_at(const mproc_queue *q, uint64_t pos)
{
    uint64_t v;
    memcpy(&v, q->ring + (pos & q->mask), 8);
    return v;
}

static inline void hdr_set(mproc_queue *q, uint64_t pos, uint64_t v)
{
    memcpy(q->ring + (pos & q->mask), &v, 8);
}

/* A free copier lock of side c, taken for the record at pos: its number,
   or -1. */
int mproc__q_claim(qcopier *c, uint64_t pos);
/* A put's slow way and a get's (see queue_copy.c), and the consumers' room
   given back from the head on: Q_GONE once the record ending at end is. */
int mproc__q_put_reserved(mproc_queue *q, qhdr *h, uint64_t rtail, const void *data, size_t len,
                          int me);
int mproc__q_take_reserved(mproc_queue *q, qhdr *h, uint64_t rhead, uint64_t hd, void *dst,
                           int me, bool slept);
int mproc__q_reclaim(mproc_queue *q, qhdr *h, uint64_t end);

#endif
