/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue_copy.c: the queue's copies made outside its side locks, and what
 * finds a copier that died in the middle (see queue.c for the rest). */
#include "queue_internal.h"

#include <sched.h>

/* COPIES OUTSIDE THE LOCKS. A message of Q_SPLIT bytes or more is not
 * copied under its side's lock, or two producers (two consumers) would
 * copy one after the other, the second spinning or asleep: a put reserves
 * its record under pm, copies outside it, and takes pm again to publish; a
 * get reserves the first published record under gm (it is then taken:
 * gets counts it), copies outside, and takes gm again to give its room
 * back. Publication and room keep the ring's order: the tail moves only
 * over records whose copy is in, the head only over records whose copy is
 * out, so each producer's messages still arrive in order and each exactly
 * once, and a getter still sees only whole messages.
 *
 * Each copier holds a copier lock of its side (h->pc, h->gc: robust, like
 * pm and gm) from before its reservation is visible until its record is
 * marked (R_WRITER cleared, or R_DONE set), and the record names it. So a
 * record found unmarked whose copier's lock is free belongs to a copier
 * that died copying: the kernel let the lock go through its robust list. A
 * dead writer's record is marked dropped and passed over (its message
 * never arrives; the puts count never had it); a dead reader's room is
 * given back (its message, taken, is gone with it). Whoever would move the
 * tail (head) past a record in flight waits for its copier's lock, so a
 * put returns once its message is published and a get once its room is
 * free, as when the copies were made under the locks; and that wait is
 * woken by the kernel if the copier dies. With no copier lock free, a
 * message is copied under the side's lock.
 *
 * Only while the side is busy, though (its lock found held, or another
 * copy in flight, within its last Q_BUSY_OPS operations): a process alone
 * on its side copies under the lock, which saves it two rounds of locks
 * (measured at 4 KiB, 1 -> 1: the split way cost 40% more CPU time).
 *
 * A putter waiting for room while a read is in flight looks again every
 * Q_POLL seconds: a reader that died copying, with no later reader to find
 * it, would otherwise keep its room.
 */
uint64_t mproc__q_getters_to_wake(qhdr *h, uint32_t sleepers, uint64_t puts, uint64_t k)
{
    /* The messages there before these: below 0 once getters took some. */
    int64_t before = (int64_t)(puts - k - atomic_load(&h->gets));
    uint64_t wake = before < 0 ? k : before < sleepers ? sleepers - (uint64_t)before : 0;
    return wake < k ? wake : k;
}

int mproc__q_claim(qcopier *c, uint64_t pos)
{
    for (int i = 0; i < Q_COPIERS; i++) {
        int r = mproc__qlock_trylock(&c[i].l);
        if (r >= 0) {
            atomic_store_explicit(&c[i].cpu, sched_getcpu(), RLX);
            atomic_store_explicit(&c[i].pos, pos, RLX);
            return i;
        }
        if (r != -EBUSY)
            break;
    }
    return -1;
}

/* The copier named f (its number + 1) in a record not yet marked: its
   number while its lock is held, Q_GONE once it is free (the copier died). */
static int copier_busy(qcopier *c, unsigned f)
{
    int r = mproc__qlock_trylock(&c[f - 1].l);
    if (r == -EBUSY)
        return (int)f - 1;
    if (r >= 0)
        mproc__qlock_unlock(&c[f - 1].l);
    return Q_GONE;
}

/* With side lock m held: let it go, wait until copier lock c is free (its
   holder done, or dead), take m again. */
static void copier_wait(qhdr *h, mproc__qlock *m, mproc__qlock *c)
{
    mproc__qlock_unlock(m);
    if (mproc__qlock_lock(c, INFINITY) >= 0)
        mproc__qlock_unlock(c);
    side_lock(h, m, INFINITY);
}

/* With pm held: move the tail over every record whose copy is in, from the
   tail on, dropping dead writers' records. Q_GONE once the record ending
   at end is published, else the copier to wait for (or -EPROTO). */
static int publish(mproc_queue *q, qhdr *h, uint64_t end)
{
    uint64_t tail = atomic_load_explicit(&h->tail, RLX), rtail = tail + h->pflight;
    uint64_t puts = atomic_load_explicit(&h->puts, RLX), flightm = h->pflightm, pos = tail, n = 0;
    int wait = Q_GONE;
    while (pos != rtail) {
        uint64_t hd = hdr_at(q, pos), len = hd & R_LEN;
        unsigned w = R_FIELD(hd, R_WRITER);
        if ((hd & ~R_LEN & ~R_DROPPED & ~((uint64_t)0x7f << R_WRITER)) || w > Q_COPIERS ||
            len > q->cap - 8 || rec_size(len) > rtail - pos)
            return -EPROTO;
        if (w && (wait = copier_busy(h->pc, w)) != Q_GONE)
            break;
        if (w)
            hdr_set(q, pos, hd = len | R_DROPPED);
        if (!(hd & R_DROPPED))
            n++;
        if (n > flightm)
            return -EPROTO;
        pos += rec_size(len);
    }
    if (pos != tail) {
        put_commit_flight(h, pos, puts + n, rtail - pos, flightm - n);
        if (n)
            wake_getters(h, puts + n, n);
    }
    return (int64_t)(end - pos) <= 0 ? Q_GONE : wait;
}

/* With gm held: move the head over every taken record whose copy is out,
   from the head on, giving dead readers' room back. Q_GONE once the record
   ending at end has its room back, else the copier to wait for (or
   -EPROTO). */
int mproc__q_reclaim(mproc_queue *q, qhdr *h, uint64_t end)
{
    uint64_t head = atomic_load_explicit(&h->head, RLX);
    uint64_t rhead = head + atomic_load_explicit(&h->gflight, RLX), pos = head;
    /* The walk reads headers from the head on: a head no get left (off
       the 8-byte grid, or more than a ring before rhead) would have it
       read across the ring's end. */
    if (!positions_ok(q, head, rhead))
        return -EPROTO;
    int wait = Q_GONE;
    while (pos != rhead) {
        uint64_t hd = hdr_at(q, pos), len = hd & R_LEN;
        unsigned r = R_FIELD(hd, R_READER);
        if (R_FIELD(hd, R_WRITER) || r > Q_COPIERS || (!r && !(hd & R_DONE)) ||
            len > q->cap - 8 || rec_size(len) > rhead - pos)
            return -EPROTO;
        if (!(hd & R_DONE) && (wait = copier_busy(h->gc, r)) != Q_GONE)
            break;
        pos += rec_size(len);
    }
    if (pos != head)
        get_commit_flight(h, pos, atomic_load_explicit(&h->gets, RLX), rhead - pos);
    return (int64_t)(end - pos) <= 0 ? Q_GONE : wait;
}

/* A put's slow way, pm held, room there: reserve the record at rtail (its
   writer copier me, or -1 to copy under pm), copy, mark it, and publish,
   waiting for earlier copiers. 0 with pm held, or -EPROTO. */
int mproc__q_put_reserved(mproc_queue *q, qhdr *h, uint64_t rtail, const void *data, size_t len,
                          int me)
{
    uint64_t tail = atomic_load_explicit(&h->tail, RLX), end = rtail + rec_size(len);
    if (!positions_ok(q, tail, rtail)) {
        if (me >= 0)
            mproc__qlock_unlock(&h->pc[me].l);
        return -EPROTO;
    }
    hdr_set(q, rtail, len | (me >= 0 ? (uint64_t)(me + 1) << R_WRITER : 0));
    if (me < 0)
        ring_write(q, rtail + 8, data, len);
    put_commit_flight(h, tail, atomic_load_explicit(&h->puts, RLX), end - tail, h->pflightm + 1);
    if (me >= 0) {
        mproc__qlock_unlock(&h->pm);
        ring_write(q, rtail + 8, data, len);
        side_lock(h, &h->pm, INFINITY);
        hdr_set(q, rtail, len);
        mproc__qlock_unlock(&h->pc[me].l);
    }
    int w;
    while ((w = publish(q, h, end)) >= 0 && w != Q_GONE)
        copier_wait(h, &h->pm, &h->pc[w].l);
    return w < 0 ? w : 0;
}

/* A get's slow way, gm held, the record at rhead published and checked
   (header hd): a dead writer's is passed over; else it is taken (its
   reader copier me, or -1 to copy under gm), copied out to dst, marked,
   and its room given back, waiting for earlier copiers. 0, or -EPROTO
   where the records behind it are not what a get leaves (the message is
   ours all the same). The getter stops counting once it has taken it (see
   take()). */
int mproc__q_take_reserved(mproc_queue *q, qhdr *h, uint64_t rhead, uint64_t hd, void *dst,
                           int me, bool slept)
{
    uint64_t head = atomic_load_explicit(&h->head, RLX), n = hd & R_LEN;
    uint64_t end = rhead + rec_size(n), gets = atomic_load_explicit(&h->gets, RLX);
    if (hd != n) {
        /* A writer's that died copying: no message. */
        hdr_set(q, rhead, hd | R_DONE);
        get_commit_flight(h, head, gets, end - head);
        return mproc__q_reclaim(q, h, 0) < 0 ? -EPROTO : 0;
    }
    if (me < 0)
        ring_get_payload(q, rhead + 8, dst, (size_t)n);
    hdr_set(q, rhead, me < 0 ? hd | R_DONE : hd | (uint64_t)(me + 1) << R_READER);
    get_commit_flight(h, head, gets + 1, end - head);
    atomic_thread_fence(memory_order_seq_cst);
    if (slept)
        atomic_fetch_sub(&h->getters, 1);
    if (me >= 0) {
        mproc__qlock_unlock(&h->gm);
        ring_get_payload(q, rhead + 8, dst, (size_t)n);
        side_lock(h, &h->gm, INFINITY);
        hdr_set(q, rhead, hd | R_DONE);
        mproc__qlock_unlock(&h->gc[me].l);
    }
    int w;
    while ((w = mproc__q_reclaim(q, h, end)) >= 0 && w != Q_GONE)
        copier_wait(h, &h->gm, &h->gc[w].l);
    /* Our room back before the look at the registrations (the putters'
       hazard, at wake_putter). */
    atomic_thread_fence(memory_order_seq_cst);
    return w < 0 ? w : 0;
}

