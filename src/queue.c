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
#include "queue_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* Yields of a getter that finds the queue empty, or of a putter that finds
   no room, before it sleeps (THE YIELDS, side_yield()). */
#define Q_YIELDS 4
/* The longest spin for a copy on another CPU (THE SPIN, spin_elsewhere()). */
#define Q_SPIN 100e-6
#define Q_YIELDED 1
#define Q_COUNTED 2

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
 * wakes everyone (side_lock).
 *
 * The room. A get claims a registration only once half the ring is free
 * (or, under maxsize, a message may go: see take()), so that a woken
 * putter has a burst to write. Room for a smaller record can come sooner,
 * from a get that is the last for a while (its consumer stopped): no later
 * get crosses the half, and nothing else would wake the putter. Waking at
 * the putter's own need instead was measured: a putter woken for every few
 * records, 34,700 sleeps a run at 4 KiB 2->2 against 1,300. So a putter
 * whose record needs less than half the ring sleeps at most Q_ROOM_POLL
 * before it looks again: it never waits longer than that beside room for
 * its message, and a consumer that keeps up crosses the half long before
 * (a half ring at 64 B takes a quick consumer about 0.4 ms). */
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

/* Whether the record at *pos (the head for a putter, the tail for a
   getter) is being copied by a live copier of the other side (c) on a CPU
   other than cpu (a dead one's lock has no holder's tid). That copy is the
   one we wait for: the head (tail) moves over records in ring order only,
   so copies of later records, wherever they are made, do not move it. */
static bool copied_elsewhere(qcopier *c, _Atomic uint64_t *pos, int cpu)
{
    uint64_t at = atomic_load_explicit(pos, RLX);
    for (int i = 0; i < Q_COPIERS; i++)
        if (atomic_load_explicit(&c[i].pos, RLX) == at &&
            (atomic_load_explicit(&c[i].l.word, RLX) & FUTEX_TID_MASK) != 0)
            return atomic_load_explicit(&c[i].cpu, RLX) != cpu;
    return false;
}

/* THE SPIN, before the yields: while the copy of the record we wait for
   is made on another CPU, the position moves as that copy ends, within
   one copy's time, so we spin (at most Q_SPIN) rather than give our CPU
   away. A spinning process is one still looking, as a yielding one: it
   has not registered nor counted itself a sleeper, so neither wake-up
   rule (THE HAZARD, THE PUTTERS' HAZARD) is touched. With more processes
   than CPUs (2 -> 2 on two CPUs, each CPU shared by a producer and a
   consumer), a producer that finds no room used to yield to the consumer
   beside it while the other CPU's consumer made the room: the two CPUs
   took turns at producing and consuming, a context switch and a cache
   full of the other process's buffer for every message or two, where
   spinning keeps one producer feeding one consumer across the CPUs, as
   1 -> 1 does. A copy made on our own CPU is waiting for it: then we yield
   at once. Copies are made outside the locks only while a side is busy,
   so a lone producer and consumer never spin. The position is looked at
   every few pauses only: the tail shares its cache line with the
   producers' lock word (queue_layout.h), and each look takes the line
   from the producer that commits (MPROC__QL_PAUSES, qlock.c). */
static void spin_elsewhere(qcopier *c, _Atomic uint64_t *pos, uint64_t seen)
{
    int cpu = sched_getcpu();
    double until = 0;
    while (cpu >= 0 && copied_elsewhere(c, pos, cpu)) {
        double t = mproc__now();
        if (until == 0)
            until = t + Q_SPIN;
        else if (t >= until)
            return;
        /* The clock read every 64 pauses, as many looks as fit. */
        for (int k = 0; k < 64 / MPROC__QL_PAUSES; k++) {
            if (atomic_load_explicit(pos, RLX) != seen)
                return;
            mproc__ql_pause_between_looks();
        }
    }
}

/* THE YIELDS (GETTERS' at take(), PUTTERS' at put), with side lock m held
   and the other side's position *pos found at seen (no message, or no
   room): m let go, the CPU given away a few times until *pos moves, m held
   again on return (0), or not at all (-ENOTSUP). Out of line: the usual
   put or get never comes here. */
static __attribute__((noinline, cold)) int side_yield(qhdr *h, mproc__qlock *m,
                                                      _Atomic uint64_t *pos, uint64_t seen,
                                                      qcopier *other)
{
    mproc__qlock_unlock(m);
    spin_elsewhere(other, pos, seen);
    for (int i = 0; i < Q_YIELDS && atomic_load_explicit(pos, RLX) == seen; i++)
        sched_yield();
    return side_lock(h, m, INFINITY);
}

/* Sleep, with the side's lock m released, until *seq moves from s (read
   before the caller last looked at the queue), the queue closes, or the
   deadline; then take m again. Returns 0 or -ETIMEDOUT, with m held
   either way. A getter counts itself in h->getters from before its first
   sleep until it has committed or given up (see take()); a putter has
   registered in h->putters before its last look (see wake_putter). No
   spinning here: measured, a getter spinning on the tail only steals the
   producer's cache lines (or, on a shared CPU, its time), and one that
   sleeps at once lets the producer run ahead in a burst. Each side first
   spins while the other's copy is made elsewhere, and yields a few times,
   though, before it first sleeps (THE SPIN, THE YIELDS). Out of
   line: inlined, it cost the usual put (which never sleeps) registers,
   measured as 12 instructions more a put+get. */
static __attribute__((noinline, cold)) int q_sleep(qhdr *h, mproc__qlock *m,
                                                   _Atomic uint32_t *seq, uint32_t s,
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
    int err = side_lock(h, &h->pm, lock_deadline(timeout, deadline));
    if (err < 0)
        return err;
    bool slept = false, yielded = false;
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
        if (may_wait && !yielded) {
            /* PUTTERS' YIELDS: no room, about to sleep for the first time
               in this put. As a getter's (take()): with more processes
               than CPUs, a consumer that would make room is often waiting
               for this very CPU, and a yield hands it over for one system
               call, where a sleep costs two context switches, the
               consumer's wake-up call and, on a shared CPU, the consumer
               preempted by the woken putter. A yielding putter has not
               registered: gets do not wake it, it looks again itself. */
            yielded = true;
            if ((err = side_yield(h, &h->pm, &h->head, h->head_seen, h->gc)) < 0)
                return err;
            continue;
        }
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
            uint64_t end = rtail + need;
            int me = -1;
            if (__builtin_expect(len >= Q_SPLIT, 0) && split_now(&h->psplit, &h->pm, flight))
                me = mproc__q_claim(h->pc, rtail);
            if (__builtin_expect(me < 0 && flight == 0, 1)) {
                /* Nothing in flight: beyond the tail, invisible until the
                   commit, which publishes it at once. */
                ring_put_record(q, tail, data, len);
                put_commit(h, end, puts + 1);
                /* With pm held, so that our death before the call leaves pm
                   marked and the next producer wakes everyone. */
                wake_getters(h, puts + 1, 1);
            } else if ((err = mproc__q_put_reserved(q, h, rtail, data, len, me)) < 0) {
                break;
            }
            /* Room left for another sleeping putter, woken for us? Only
               if a record like ours fits (or half the ring is free, as a
               get's rule): one woken for less finds no room and sleeps
               again, two context switches and a wake-up call per message
               at 1 MiB 2->2 (in a ring of three). A putter with a smaller
               record looks again by itself within Q_ROOM_POLL, and one
               with a bigger record fits only in more than half the ring
               (THE PUTTERS' HAZARD, the room). The head read afresh: a
               stale view would pass over room that is there. */
            if (slept) {
                uint64_t left = q->cap - (end - atomic_load_explicit(&h->head, ACQ));
                if (left >= need || left >= q->cap / 2)
                    wake_putter(h);
            }
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
           LOCKS): look again after a while. So too when our record needs
           less than half the ring: gets wake us only from half a ring on
           (see take()), and room for us may come from a last get before
           that (THE PUTTERS' HAZARD, the room). */
        bool reads = atomic_load_explicit(&h->gflight, RLX) != 0;
        double poll = need < q->cap / 2 ? Q_ROOM_POLL : reads ? Q_POLL : INFINITY;
        double until = poll < INFINITY ? fmin(deadline, mproc__now() + poll) : deadline;
        /* Timed out or not, the loop looks at the room once more. */
        if (q_sleep(h, &h->pm, &h->get_seq, s, until) == -ETIMEDOUT && reads &&
            side_lock(h, &h->gm, INFINITY) == 0) {
            mproc__q_reclaim(q, h, 0);
            mproc__qlock_unlock(&h->gm);
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
    int err = side_lock(h, &h->gm, lock_deadline(timeout, deadline));
    if (err < 0)
        return err;
    int slept = 0; /* Q_YIELDED: gave the CPU away; Q_COUNTED: counted in getters */
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
                if (hd != (n | R_DROPPED) || mproc__q_take_reserved(q, h, rhead, hd, NULL, -1, slept == Q_COUNTED) < 0) {
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
                split_now(&h->gsplit, &h->gm, flight))
                me = mproc__q_claim(h->gc, rhead);
            if (__builtin_expect(me < 0 && flight == 0, 1)) {
                /* Nothing in flight: copied out and given back at once. */
                ring_get_payload(q, head + 8, dst, (size_t)n);
                get_commit(h, head + rec_size(n), gets);
                /* Our commit before the look at the registrations (the
                   putters' hazard, at wake_putter). */
                atomic_thread_fence(memory_order_seq_cst);
                /* Only now, with gets raised, do we stop counting (see above). */
                if (slept == Q_COUNTED)
                    atomic_fetch_sub(&h->getters, 1);
            } else {
                mproc__q_take_reserved(q, h, rhead, hd, dst, me, slept == Q_COUNTED);
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
        /* GETTERS' YIELDS. Empty, about to sleep for the first time in
           this get: first give the CPU away a few times, gm released,
           until the tail moves. With more processes than CPUs (2 -> 2 on
           two CPUs) the producer that would fill the queue is often
           waiting for this very CPU: a getter that sleeps at once is woken
           by the very next put (a wake-up call under pm, and a context
           switch each way), takes that one message, finds the queue empty
           and sleeps again, a message at a time; one that yields lets the
           producer run a burst. Measured at 2 -> 2, 64 B: context
           switches 1,100-2,900 a run before, 640 after. A yielding getter
           is not a sleeper (puts do not wake it), so the invariant below
           is untouched: it is a getter still looking. */
        if (slept == 0) {
            slept = Q_YIELDED;
            if ((err = side_yield(h, &h->gm, &h->tail, tail, h->pc)) < 0)
                return err;
            continue;
        }
        if (slept != Q_COUNTED)
            atomic_fetch_add(&h->getters, 1);
        slept = Q_COUNTED;
        repair_other(h, &h->pm, &h->pj_valid);
        if (q_sleep(h, &h->gm, &h->put_seq, s, deadline) == -ETIMEDOUT &&
            mproc__now() >= deadline) {
            err = -ETIMEDOUT;
            break;
        }
    }
    if (slept == Q_COUNTED) {
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
