/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue.c: the multi-producer multi-consumer message queue in shared memory
 * (Queue and JoinableQueue).
 *
 * DESIGN. One shared block holds a small header and a byte ring. Messages
 * are copied in and out under locks that survive a dead holder (qlock.h:
 * the kernel's robust list marks them); a big message, while its side is
 * busy, is copied outside the lock in a reserved record whose copier holds
 * a lock of the same kind, so that a record "reserved but unfilled" by a
 * process that died is found and passed over (COPIES OUTSIDE THE LOCKS):
 * that state is what wedges Python's queue when a process dies
 * mid-operation. Producers serialise on one lock and
 * consumers on another (the two-lock queue), so a producer and a
 * consumer never wait for each other: each side writes only its own cache
 * lines and reads the other's position. Positions are 64-bit byte counts
 * that only grow; a record is an 8-byte length and the payload padded to 8,
 * so a record header never straddles the end of the ring.
 *
 * Death at any instruction. A put writes its payload beyond the tail, where
 * no getter looks; a get copies out without changing anything. Each then
 * commits through its side's journal: the new positions and message count
 * are written down, a valid flag is raised, the values are applied (the
 * position last, with release order, so the other side never sees a
 * position before its data), the flag is lowered. The next acquirer of
 * that side's lock after an owner-died result re-applies a raised journal
 * (the values are absolute, so applying twice is harmless) and wakes
 * everyone. So a dead producer's message is either wholly in the queue or
 * not at all, and a dead consumer's message is either gone or still first.
 *
 * Waiting. Getters wait on a futex word bumped by every put, putters on one
 * moved by every wake-up meant for them (see wake_putter); each reads the
 * word before looking at the queue, so a change in between makes the futex
 * wait return at once. Wake-up calls are made with the side's lock held, so
 * that a process killed between deciding to wake and waking leaves the lock
 * marked, and the next taker wakes everyone. Counters of
 * sleepers let the other side skip the wake-up system call when nobody
 * sleeps (or, for getters, when every sleeper already has a message to
 * find: see the invariant at take()). Each side keeps the other's position
 * as last read and reads it afresh only when the stale view says "full" or
 * "empty", so a burst of messages costs no cache-line transfers beyond the
 * messages themselves. The counters may be left high by a process that
 * died asleep; that only costs a useless wake-up, never a lost one.
 */
#include "ipc_internal.h"
#include "queue_layout.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

static uint64_t rec_size(uint64_t len)
{
    return 8 + ((len + 7) & ~(uint64_t)7);
}

static void ring_write(mproc_queue *q, uint64_t pos, const void *src, size_t n)
{
    size_t off = (size_t)(pos & q->mask);
    size_t first = n < q->cap - off ? n : (size_t)(q->cap - off);
    if (first)
        memcpy(q->ring + off, src, first);
    if (n > first)
        memcpy(q->ring, (const char *)src + first, n - first);
}

static void ring_read(mproc_queue *q, uint64_t pos, void *dst, size_t n)
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
static bool positions_ok(const mproc_queue *q, uint64_t head, uint64_t tail)
{
    return tail - head <= q->cap && ((head | tail) & 7) == 0;
}

/* ---- the journals (see DESIGN) ------------------------------------------------ */

static void put_apply(qhdr *h)
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

static void put_commit_flight(qhdr *h, uint64_t tail, uint64_t puts, uint64_t flight,
                              uint64_t flightm)
{
    h->pj_tail = tail;
    h->pj_puts = puts;
    h->pj_flight = flight;
    h->pj_flightm = flightm;
    atomic_store_explicit(&h->pj_valid, 1, REL);
    put_apply(h);
}

static void get_apply(qhdr *h)
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

static void get_commit_flight(qhdr *h, uint64_t head, uint64_t gets, uint64_t flight)
{
    h->gj_head = head;
    h->gj_gets = gets;
    h->gj_flight = flight;
    atomic_store_explicit(&h->gj_valid, 1, REL);
    get_apply(h);
}

static void wake_all(qhdr *h)
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
static inline int side_lock(qhdr *h, mproc__qlock *m, double deadline)
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

/* Before sleeping on the other side: if that side's journal is raised, its
   last holder may have died between the journal and the commit (a message
   published in the journal only, or room freed in it only) and nobody of
   that side may come to repair it. Repair it here if so; a live holder
   is left alone. */
static void repair_other(qhdr *h, mproc__qlock *other, _Atomic uint32_t *valid)
{
    if (!atomic_load_explicit(valid, ACQ))
        return;
    int r = mproc__qlock_trylock(other);
    if (r == 1) {
        if (atomic_load_explicit(valid, ACQ)) {
            if (other == &h->pm)
                put_apply(h);
            else
                get_apply(h);
        }
        wake_all(h);
    }
    if (r >= 0)
        mproc__qlock_unlock(other);
}

/* The locks are held only for a copy, so "do not wait" still waits that
   long for one rather than fail while messages or room are there; a bounded
   wait keeps a stopped holder from hanging a non-blocking call. */
static double lock_deadline(double timeout, double deadline)
{
    return timeout == 0 ? mproc__now() + 0.01 : deadline;
}

/* The deadline of a timeout (see mproc__deadline), without a call for the
   usual wait forever. */
static inline double q_deadline(double timeout)
{
    return timeout < 0 ? INFINITY : mproc__deadline(timeout);
}

/* THE PUTTERS' HAZARD: a get frees room while putters sleep, and must
 * neither lose a wake-up nor make one per get (a woken putter may take
 * milliseconds to run on a loaded machine, and every get in between used
 * to call the kernel again: 57,000 calls for 2 million 64 B messages at
 * 2->2, against 4,700 sleeps). So wake-ups are tickets: a putter about to
 * sleep registers (putters, ever) and only then looks at the room for the
 * last time; a waker claims one registration (pwoken, ever) and then moves
 * get_seq, the putters' futex word, and wakes one. Invariant, with K the
 * putters asleep in the kernel that no wake-up has reached:
 *
 *     K <= putters - pwoken   (registrations not yet claimed)
 *
 * A putter reads get_seq before it registers, so a claim that saw its
 * registration moves get_seq after that read and its futex wait returns at
 * once if the wake came before it slept; a claim wakes one sleeper if any
 * (K and the unclaimed count fall together); a putter woken for any reason
 * claims nothing and registers anew if it sleeps again, so a registration
 * left behind costs one spare wake-up later, never a lost one. A get
 * either sees a registration made before its fence or the putter's last
 * look sees the get's room (both sides fence between the write and the
 * read: a get's write is the head's move, after its copy where that is
 * made outside gm). Claims and wakes happen with a side's lock held: a
 * waker killed between the two leaves the lock marked, and its next taker
 * wakes everyone (side_lock). */
static void wake_putter(qhdr *h)
{
    uint32_t w = atomic_load(&h->pwoken);
    while ((int32_t)(atomic_load(&h->putters) - w) > 0)
        if (atomic_compare_exchange_weak(&h->pwoken, &w, w + 1)) {
            atomic_fetch_add(&h->get_seq, 1);
            mproc__futex_wake(&h->get_seq, 1);
            return;
        }
}

/* A getter that leaves without a message (timeout, closed, too small a
   buffer, no memory) may have been the one a put woke: it passes the
   wake-up on while messages are there. Called after it stopped counting,
   with gm held (see wake_putter for why). */
static void pass_getter_wake(qhdr *h)
{
    if (atomic_load(&h->getters) > 0 &&
        atomic_load(&h->tail) != atomic_load(&h->head) + atomic_load(&h->gflight)) {
        atomic_fetch_add(&h->put_seq, 1);
        mproc__futex_wake(&h->put_seq, 1);
    }
}

/* ---- copies outside the locks -------------------------------------------------- */

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
 * (measured at 4 KiB, 1 -> 1: the split way cost 40% more CPU time). A putter waiting for room while
 * a read is in flight looks again every Q_POLL seconds: a reader that died
 * copying, with no later reader to find it, would otherwise keep its room.
 */
#define Q_SPLIT 2048
#define Q_BUSY_OPS 256
#define Q_POLL 0.05
#define Q_GONE Q_COPIERS /* publish() and reclaim(): the record has gone */

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

/* Whether a message of Q_SPLIT bytes or more goes the split way now, with
   the side's lock held: *recent counts down the operations since the side
   was last busy. */
static inline bool split_now(uint32_t *recent, bool busy)
{
    if (busy)
        *recent = Q_BUSY_OPS;
    else if (*recent)
        (*recent)--;
    return *recent != 0;
}

/* A free copier lock of side c, taken: its number, or -1. */
static int copier_claim(qcopier *c)
{
    for (int i = 0; i < Q_COPIERS; i++) {
        int r = mproc__qlock_trylock(&c[i].l);
        if (r >= 0)
            return i;
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

/* k messages just published (puts counts them), pm held: wake as many
   getters as the invariant at take() asks, applying the one-message rule
   once for each. */
static inline void wake_getters(qhdr *h, uint64_t puts, uint64_t k)
{
    atomic_fetch_add(&h->put_seq, 1);
    uint32_t sleepers = atomic_load(&h->getters);
    if (sleepers == 0)
        return;
    int64_t wake = (int64_t)sleepers - (int64_t)(puts - k - atomic_load(&h->gets));
    if (wake > 0)
        mproc__futex_wake(&h->put_seq, wake < (int64_t)k ? (int)wake : (int)k);
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
static int reclaim(mproc_queue *q, qhdr *h, uint64_t end)
{
    uint64_t head = atomic_load_explicit(&h->head, RLX);
    uint64_t rhead = head + atomic_load_explicit(&h->gflight, RLX), pos = head;
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
static __attribute__((noinline)) int put_reserved(mproc_queue *q, qhdr *h, uint64_t rtail,
                                                  const void *data, size_t len, int me)
{
    uint64_t tail = atomic_load_explicit(&h->tail, RLX), end = rtail + rec_size(len);
    if (!positions_ok(q, tail, rtail))
        return -EPROTO;
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
static __attribute__((noinline)) int take_reserved(mproc_queue *q, qhdr *h, uint64_t rhead,
                                                   uint64_t hd, void *dst, int me, bool slept)
{
    uint64_t head = atomic_load_explicit(&h->head, RLX), n = hd & R_LEN;
    uint64_t end = rhead + rec_size(n), gets = atomic_load_explicit(&h->gets, RLX);
    if (hd != n) {
        /* A writer's that died copying: no message. */
        hdr_set(q, rhead, hd | R_DONE);
        get_commit_flight(h, head, gets, end - head);
        return reclaim(q, h, 0) < 0 ? -EPROTO : 0;
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
    while ((w = reclaim(q, h, end)) >= 0 && w != Q_GONE)
        copier_wait(h, &h->gm, &h->gc[w].l);
    /* Our room back before the look at the registrations (the putters'
       hazard, at wake_putter). */
    atomic_thread_fence(memory_order_seq_cst);
    return w < 0 ? w : 0;
}

/* ---- making and opening ----------------------------------------------------- */

static int q_wrap(mproc_queue **out, mproc_shm *blk)
{
    qhdr *h = mproc_shm_ptr(blk);
    size_t size = mproc_shm_size(blk);
    /* Read once: the block is shared, and what we check is what we keep. */
    uint64_t cap = size < Q_HDR ? 0 : *(volatile uint64_t *)&h->cap;
    if (size < Q_HDR || h->magic != Q_MAGIC || cap < Q_MIN_BYTES || (cap & (cap - 1)) ||
        cap > size - Q_HDR) {
        mproc_shm_free(blk);
        return -EINVAL;
    }
    mproc_queue *q = calloc(1, sizeof *q);
    if (!q) {
        mproc_shm_free(blk);
        return -ENOMEM;
    }
    q->blk = blk;
    q->h = h;
    q->ring = (unsigned char *)h + Q_HDR;
    q->cap = cap;
    q->mask = cap - 1;
    *out = q;
    return 0;
}

/* Prepare the queue header inside its block, before any other process can
   attach to it. */
static int q_init(void *data, size_t size, void *arg)
{
    const mproc_queue_opts *opts = arg;
    qhdr *h = data;
    /* The block comes zero-filled: both locks free, every count 0. */
    h->cap = size - Q_HDR;
    h->maxsize = opts ? opts->maxsize : 0;
    h->magic = Q_MAGIC;
    return 0;
}

int mproc_queue_new(mproc_queue **out, const mproc_queue_opts *opts)
{
    if (!out)
        return -EINVAL;
    size_t bytes = opts && opts->bytes ? opts->bytes : Q_DEFAULT_BYTES;
    if (bytes > Q_MAX_BYTES)
        return -EINVAL;
    size_t cap = Q_MIN_BYTES;
    while (cap < bytes)
        cap <<= 1;
    mproc_shm_opts so = { .attachers = opts ? opts->attachers : 0 };
    mproc_shm *blk = NULL;
    int err = mproc__shm_make(&blk, opts ? opts->name : NULL, Q_HDR + cap, &so,
                              MPROC__SHM_MAGIC_QUEUE, q_init, (void *)opts);
    return err < 0 ? err : q_wrap(out, blk);
}

int mproc_queue_attach(mproc_queue **out, const char *name)
{
    if (!out)
        return -EINVAL;
    mproc_shm *blk = NULL;
    int err = mproc__shm_open_name(&blk, name, MPROC__SHM_MAGIC_QUEUE);
    return err < 0 ? err : q_wrap(out, blk);
}

int mproc_queue_unlink(const char *name)
{
    return mproc_shm_unlink(name);
}

int mproc_queue_from_fd(mproc_queue **out, int fd)
{
    if (!out)
        return -EINVAL;
    mproc_shm *blk = NULL;
    int err = mproc__shm_open_fd(&blk, fd, MPROC__SHM_MAGIC_QUEUE);
    return err < 0 ? err : q_wrap(out, blk);
}

int mproc_queue_fd(const mproc_queue *q)
{
    return q ? mproc_shm_fd(q->blk) : -EINVAL;
}

void mproc_queue_free(mproc_queue *q)
{
    if (!q)
        return;
    mproc_shm_free(q->blk);
    free(q);
}

size_t mproc_queue_max_message(const mproc_queue *q)
{
    return q ? (size_t)q->cap - 8 : 0;
}

/* ---- put and get -------------------------------------------------------------- */

/* Sleep, with the side's lock m released, until *seq moves from s (read
   before the caller last looked at the queue), the queue closes, or the
   deadline; then take m again. Returns 0 or -ETIMEDOUT, with m held
   either way. A getter counts itself in h->getters from before its first
   sleep until it has committed or given up (see take()); a putter has
   registered in h->putters before its last look (see wake_putter). No
   spinning first: measured, a spinning getter only steals the producer's
   cache lines (or, on a shared CPU, its time), and one that sleeps at once
   lets the producer run ahead in a burst. */
static int q_sleep(qhdr *h, mproc__qlock *m, _Atomic uint32_t *seq, uint32_t s,
                   double deadline)
{
    mproc__qlock_unlock(m);
    int r = 0;
    if (atomic_load(seq) == s)
        r = mproc__futex_wait(seq, s, deadline);
    side_lock(h, m, INFINITY);
    return r == -ETIMEDOUT ? r : 0;
}

/* The producers' view of the consumers, read afresh (a cache line from
   another CPU); false when it is not what a get leaves. */
static bool put_look(const mproc_queue *q, qhdr *h, uint64_t tail)
{
    h->head_seen = atomic_load_explicit(&h->head, ACQ);
    h->gets_seen = atomic_load_explicit(&h->gets, ACQ);
    return positions_ok(q, h->head_seen, tail);
}

/* Room for need bytes past rtail, the reserved end; puts: the messages
   published (those in flight count too). */
static bool put_fits(const mproc_queue *q, const qhdr *h, uint64_t rtail, uint64_t puts,
                     uint64_t need)
{
    return rtail - h->head_seen <= q->cap - need &&
           (!h->maxsize || puts + h->pflightm - h->gets_seen < h->maxsize);
}

int mproc_queue_put(mproc_queue *q, const void *data, size_t len, double timeout)
{
    if (!q || (!data && len) || isnan(timeout))
        return -EINVAL;
    qhdr *h = q->h;
    if (len > q->cap - 8)
        return -EMSGSIZE;
    uint64_t need = rec_size(len);
    double deadline = q_deadline(timeout);
    /* A big message: is another producer in the way? (see COPIES OUTSIDE
       THE LOCKS) */
    bool busy = len >= Q_SPLIT && atomic_load_explicit(&h->pm.word, RLX) != 0;
    int err = side_lock(h, &h->pm, lock_deadline(timeout, deadline));
    if (err < 0)
        return err;
    bool slept = false;
    for (;;) {
        if (atomic_load_explicit(&h->closed, RLX)) {
            err = -EPIPE;
            break;
        }
        uint64_t tail = atomic_load_explicit(&h->tail, RLX), flight = h->pflight;
        uint64_t puts = atomic_load_explicit(&h->puts, RLX), rtail = tail + flight;
        /* The consumers' positions as last seen: they only grow, so a stale
           view only underestimates the room. Read afresh only when the
           stale view says no. */
        uint32_t s = 0;
        if (!positions_ok(q, h->head_seen, rtail)) {
            err = -EPROTO;
            break;
        }
        bool fits = put_fits(q, h, rtail, puts, need);
        if (!fits && !put_look(q, h, rtail)) {
            err = -EPROTO;
            break;
        }
        fits = fits || put_fits(q, h, rtail, puts, need);
        bool may_wait = !fits && timeout != 0 && mproc__now() < deadline;
        if (may_wait) {
            /* About to sleep: the futex word, the registration, then the
               last look (the putters' hazard, at wake_putter). */
            s = atomic_load(&h->get_seq);
            atomic_fetch_add(&h->putters, 1);
            atomic_thread_fence(memory_order_seq_cst);
            if (!put_look(q, h, rtail)) {
                err = -EPROTO;
                break;
            }
            fits = put_fits(q, h, rtail, puts, need);
        }
        if (fits) {
            uint64_t head = h->head_seen, end = rtail + need;
            int me = -1;
            if (__builtin_expect(len >= Q_SPLIT, 0) && split_now(&h->psplit, busy || flight))
                me = copier_claim(h->pc);
            if (__builtin_expect(me < 0 && flight == 0, 1)) {
                /* Nothing in flight: beyond the tail, invisible until the
                   commit, which publishes it at once. */
                ring_put_record(q, tail, data, len);
                put_commit(h, end, puts + 1);
                /* With pm held, so that our death before the call leaves pm
                   marked and the next producer wakes everyone. */
                wake_getters(h, puts + 1, 1);
            } else if ((err = put_reserved(q, h, rtail, data, len, me)) < 0) {
                break;
            }
            /* Room left for another sleeping putter, woken for us? */
            if (slept && q->cap - (end - head) >= 16)
                wake_putter(h);
            mproc__qlock_unlock(&h->pm);
            return 0;
        }
        if (!may_wait) {
            err = -ETIMEDOUT;
            break;
        }
        slept = true;
        repair_other(h, &h->gm, &h->gj_valid);
        /* A read in flight may be a dead reader's (see COPIES OUTSIDE THE
           LOCKS): look again after a while. */
        bool reads = atomic_load_explicit(&h->gflight, RLX) != 0;
        double until = reads ? fmin(deadline, mproc__now() + Q_POLL) : deadline;
        if (q_sleep(h, &h->pm, &h->get_seq, s, until) == -ETIMEDOUT) {
            if (mproc__now() >= deadline) {
                err = -ETIMEDOUT;
                break;
            }
            if (reads && side_lock(h, &h->gm, INFINITY) == 0) {
                reclaim(q, h, 0);
                mproc__qlock_unlock(&h->gm);
            }
        }
    }
    /* A wake-up meant for us may have come as we gave up: pass it on. */
    if (slept)
        wake_putter(h);
    mproc__qlock_unlock(&h->pm);
    return err;
}

/* The body of both gets: buf/cap for get, or alloc for get_alloc.
 *
 * THE HAZARD: several getters asleep, and a put deciding whether to wake
 * one. A getter counts itself in h->getters from before its first sleep
 * until it has committed its take (gets raised first: under gm, before any
 * copy made outside it) or given up; a woken getter still copying under gm
 * therefore still counts. A put wakes one getter unless the messages there
 * (puts - gets, its own included) outnumber the counted getters; a
 * publication of k messages at once (a put that published others' records
 * behind its own) applies that rule once for each (wake_getters).
 * Invariant, with U the getters asleep in the kernel that no wake-up has
 * reached and A = puts - gets (published, not yet taken):
 *
 *     U == 0  or  A <= getters - U
 *
 * i.e. while a getter sleeps unreached, every message there is matched by
 * a counted getter that is awake (it will take one, or pass the wake-up
 * on). A put with U > 0 then finds A + 1 <= getters and wakes one (U
 * falls by one); a commit lowers A and getters together; a getter that
 * leaves without a message lowers getters alone, so it passes a wake-up
 * on while messages remain (pass_getter_wake); a getter sleeps only after
 * seeing the queue empty with the futex word unchanged. So no getter sleeps
 * beside a message that nobody awake will take. The old rule stopped
 * counting a woken getter before it committed: A stayed high while getters
 * fell, a second put woke nobody, and a second sleeper slept beside its
 * message for as long as the first getter kept up, forever once it
 * stopped. Copies outside the locks change neither A's meaning nor when
 * getters falls: a record in flight on the producers' side is not in puts
 * until published, one on the consumers' side is in gets from its
 * reservation. tests/queue.pml checks both rules, with copies outside the
 * locks. */
static int take(mproc_queue *q, void *buf, size_t cap, void **alloc, size_t *len, double timeout)
{
    qhdr *h = q->h;
    double deadline = q_deadline(timeout);
    /* Is another consumer in the way? (see COPIES OUTSIDE THE LOCKS) */
    bool busy = atomic_load_explicit(&h->gm.word, RLX) != 0;
    int err = side_lock(h, &h->gm, lock_deadline(timeout, deadline));
    if (err < 0)
        return err;
    bool slept = false; /* counted in getters */
    for (;;) {
        uint64_t head = atomic_load_explicit(&h->head, RLX);
        uint64_t flight = atomic_load_explicit(&h->gflight, RLX), rhead = head + flight;
        /* The producers' tail as last seen (see put); read afresh only when
           the stale view says empty. */
        uint64_t tail = h->tail_seen;
        uint32_t s = 0;
        if (tail <= rhead) { /* "<": a repaired commit may have moved rhead past it */
            s = atomic_load(&h->put_seq);
            h->tail_seen = tail = atomic_load_explicit(&h->tail, ACQ);
        }
        if (tail != rhead) {
            if (!positions_ok(q, rhead, tail)) {
                err = -EPROTO;
                break;
            }
            uint64_t hd = hdr_at(q, rhead), n = hd & R_LEN;
            /* The usual: a small message, nothing in flight (one test for
               both: a small header has no flag bits). */
            bool quick = hd < Q_SPLIT && flight == 0;
            /* A length no put wrote: a record past the published bytes. */
            if ((!quick && n > q->cap - 8) || rec_size(n) > tail - rhead) {
                err = -EPROTO;
                break;
            }
            if (__builtin_expect(hd != n, 0)) {
                /* Not a message: a dead writer's record, passed over. */
                if (hd != (n | R_DROPPED) || take_reserved(q, h, rhead, hd, NULL, -1, slept) < 0) {
                    err = -EPROTO;
                    break;
                }
                continue;
            }
            void *dst = buf;
            if (alloc) {
                dst = malloc(n ? (size_t)n : 1);
                if (!dst) {
                    err = -ENOMEM;
                    break;
                }
            } else if (n > cap) {
                *len = (size_t)n;
                err = -EMSGSIZE;
                break;
            }
            uint64_t gets = atomic_load_explicit(&h->gets, RLX) + 1;
            int me = -1;
            if (__builtin_expect(!quick, 0) && n >= Q_SPLIT &&
                split_now(&h->gsplit, busy || flight))
                me = copier_claim(h->gc);
            if (__builtin_expect(me < 0 && flight == 0, 1)) {
                /* Nothing in flight: copied out and given back at once. */
                ring_get_payload(q, head + 8, dst, (size_t)n);
                get_commit(h, head + rec_size(n), gets);
                /* Our commit before the look at the registrations (the
                   putters' hazard, at wake_putter). */
                atomic_thread_fence(memory_order_seq_cst);
                /* Only now, with gets raised, do we stop counting (see above). */
                if (slept)
                    atomic_fetch_sub(&h->getters, 1);
            } else {
                take_reserved(q, h, rhead, hd, dst, me, slept);
            }
            /* Wake a putter waiting for room once half the ring is free
               (or, under maxsize, as soon as a message may go): woken for
               every few bytes, a producer would sleep again after a few
               messages, and one sharing our CPU would preempt us after
               each get, the two trading messages one at a time; from half
               a ring there is still half a ring of messages to take while
               the producer wakes. Measured at 4 KiB, a sixteenth of the
               ring cost five times the context switches of half. */
            if (atomic_load(&h->putters) != atomic_load(&h->pwoken)) {
                uint64_t used = atomic_load_explicit(&h->tail, ACQ) -
                                atomic_load_explicit(&h->head, RLX);
                uint64_t count = atomic_load_explicit(&h->puts, ACQ) - gets;
                if (q->cap - used >= q->cap / 2 || (h->maxsize && count + 1 == h->maxsize))
                    wake_putter(h);
            }
            mproc__qlock_unlock(&h->gm);
            if (alloc)
                *alloc = dst;
            *len = (size_t)n;
            return 0;
        }
        if (atomic_load(&h->closed)) {
            err = -EPIPE;
            break;
        }
        if (timeout == 0 || mproc__now() >= deadline) {
            err = -ETIMEDOUT;
            break;
        }
        if (!slept)
            atomic_fetch_add(&h->getters, 1);
        slept = true;
        repair_other(h, &h->pm, &h->pj_valid);
        if (q_sleep(h, &h->gm, &h->put_seq, s, deadline) == -ETIMEDOUT &&
            mproc__now() >= deadline) {
            err = -ETIMEDOUT;
            break;
        }
    }
    if (slept) {
        atomic_fetch_sub(&h->getters, 1);
        pass_getter_wake(h);
    }
    mproc__qlock_unlock(&h->gm);
    return err;
}

int mproc_queue_get(mproc_queue *q, void *buf, size_t cap, size_t *len, double timeout)
{
    if (!q || !len || (!buf && cap) || isnan(timeout))
        return -EINVAL;
    return take(q, buf, cap, NULL, len, timeout);
}

int mproc_queue_get_alloc(mproc_queue *q, void **data, size_t *len, double timeout)
{
    if (!q || !data || !len || isnan(timeout))
        return -EINVAL;
    return take(q, NULL, 0, data, len, timeout);
}

/* ---- state, close, join ------------------------------------------------------- */

int mproc_queue_close(mproc_queue *q)
{
    if (!q)
        return -EINVAL;
    atomic_store(&q->h->closed, 1);
    wake_all(q->h);
    return 0;
}

bool mproc_queue_closed(mproc_queue *q)
{
    return q && atomic_load(&q->h->closed) != 0;
}

/* The snapshots take both locks (producers' first, the one order used
   anywhere): after a holder's death its journal may still have to be
   applied, and the counters would lie until then. */
static int both_lock(qhdr *h)
{
    int err = side_lock(h, &h->pm, INFINITY);
    if (err == 0 && (err = side_lock(h, &h->gm, INFINITY)) < 0)
        mproc__qlock_unlock(&h->pm);
    return err;
}

static void both_unlock(qhdr *h)
{
    mproc__qlock_unlock(&h->gm);
    mproc__qlock_unlock(&h->pm);
}

long mproc_queue_qsize(mproc_queue *q)
{
    if (!q)
        return -EINVAL;
    int err = both_lock(q->h);
    if (err < 0)
        return err;
    long n = (long)(atomic_load(&q->h->puts) - atomic_load(&q->h->gets));
    both_unlock(q->h);
    return n;
}

bool mproc_queue_empty(mproc_queue *q)
{
    return q && mproc_queue_qsize(q) == 0;
}

bool mproc_queue_full(mproc_queue *q)
{
    if (!q || both_lock(q->h) < 0)
        return false;
    qhdr *h = q->h;
    /* Reserved records take their room, and count, before they are published. */
    uint64_t used = atomic_load(&h->tail) + h->pflight - atomic_load(&h->head);
    uint64_t count = atomic_load(&h->puts) + h->pflightm - atomic_load(&h->gets);
    bool full = (h->maxsize && count >= h->maxsize) || used > q->cap - 16;
    both_unlock(h);
    return full;
}

int mproc_queue_task_done(mproc_queue *q)
{
    if (!q)
        return -EINVAL;
    qhdr *h = q->h;
    uint64_t d = atomic_load(&h->dones);
    do {
        if (d >= atomic_load(&h->puts))
            return -EINVAL;
    } while (!atomic_compare_exchange_weak(&h->dones, &d, d + 1));
    if (d + 1 == atomic_load(&h->puts)) {
        atomic_fetch_add(&h->done_seq, 1);
        if (atomic_load(&h->joiners) > 0)
            mproc__futex_wake(&h->done_seq, INT_MAX);
    }
    return 0;
}

int mproc_queue_join(mproc_queue *q, double timeout)
{
    if (!q || !mproc__timeout_ok(timeout))
        return -EINVAL;
    qhdr *h = q->h;
    double deadline = mproc__deadline(timeout);
    for (;;) {
        atomic_fetch_add(&h->joiners, 1);
        uint32_t s = atomic_load(&h->done_seq);
        bool done = atomic_load(&h->dones) == atomic_load(&h->puts);
        int r = 0;
        if (!done)
            r = mproc__futex_wait(&h->done_seq, s, deadline);
        atomic_fetch_sub(&h->joiners, 1);
        if (done)
            return 0;
        if (r == -ETIMEDOUT)
            return atomic_load(&h->dones) == atomic_load(&h->puts) ? 0 : -ETIMEDOUT;
        if (r < 0 && r != -EINTR)
            return r;
    }
}
