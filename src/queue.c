/* queue.c: the multi-producer multi-consumer message queue in shared memory
 * (Queue and JoinableQueue).
 *
 * DESIGN. One shared block holds a small header and a byte ring. Messages
 * are copied in and out whole under one robust process-shared mutex, so no
 * slot is ever "reserved but unfilled": that state is what wedges Python's
 * queue when a process dies mid-operation. Positions are 64-bit byte counts
 * that only grow; a record is an 8-byte length and the payload padded to 8,
 * so a record header never straddles the end of the ring.
 *
 * Death at any instruction. A put writes its payload beyond the tail, where
 * no getter looks; a get copies out without changing anything. Each then
 * commits through a journal: the new head, tail, count and unfinished-task
 * values are written to the header, a valid flag is raised, the values are
 * applied, the flag is lowered. The next acquirer after an owner-died
 * result re-applies a raised journal (the values are absolute, so applying
 * twice is harmless) and wakes everyone. So a dead producer's message is
 * either wholly in the queue or not at all, and a dead consumer's message
 * is either gone or still first.
 *
 * Waiting. Getters wait on a futex word bumped by every put, putters on one
 * bumped by every get; counters of sleepers let the other side skip the
 * wake-up system call when nobody sleeps, and a short spin before sleeping
 * catches the common case of a partner running on another CPU.
 */
#include "ipc_internal.h"

#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define Q_MAGIC 0x71756575U /* "queu" */
#define Q_HDR 256
#define Q_DEFAULT_BYTES ((size_t)1 << 20)
#define Q_MIN_BYTES ((size_t)4096)
#define Q_MAX_BYTES ((size_t)1 << 40)
#define Q_SPIN 2000

typedef struct {
    pthread_mutex_t m;
    uint32_t magic;
    uint32_t pad0_;
    uint64_t cap;     /* ring bytes, a power of two */
    uint64_t maxsize; /* most messages; 0: no limit but bytes */
    _Atomic uint64_t head, tail;   /* byte positions; changed under m */
    _Atomic uint32_t count;        /* messages held; changed under m */
    _Atomic uint32_t unfinished;   /* puts not yet task_done; futex word for join */
    _Atomic uint32_t put_seq;      /* futex word: bumped by every put */
    _Atomic uint32_t get_seq;      /* futex word: bumped by every get */
    _Atomic uint32_t getters, putters, joiners; /* sleepers, to skip needless wakes */
    _Atomic uint32_t closed;
    /* The commit journal (see DESIGN). */
    uint64_t j_head, j_tail;
    uint32_t j_count, j_unfinished;
    _Atomic uint32_t j_valid;
} qhdr;
_Static_assert(sizeof(qhdr) <= Q_HDR, "queue header too large");

struct mproc_queue {
    mproc_shm *blk;
    qhdr *h;
    unsigned char *ring;
    uint64_t mask;
    int spin; /* spins before sleeping: 0 when this process has one CPU */
};

#define RLX memory_order_relaxed

static uint64_t rec_size(uint64_t len)
{
    return 8 + ((len + 7) & ~(uint64_t)7);
}

static void ring_write(mproc_queue *q, uint64_t pos, const void *src, size_t n)
{
    size_t off = (size_t)(pos & q->mask);
    size_t first = n < q->h->cap - off ? n : (size_t)(q->h->cap - off);
    if (first)
        memcpy(q->ring + off, src, first);
    if (n > first)
        memcpy(q->ring, (const char *)src + first, n - first);
}

static void ring_read(mproc_queue *q, uint64_t pos, void *dst, size_t n)
{
    size_t off = (size_t)(pos & q->mask);
    size_t first = n < q->h->cap - off ? n : (size_t)(q->h->cap - off);
    if (first)
        memcpy(dst, q->ring + off, first);
    if (n > first)
        memcpy((char *)dst + first, q->ring, n - first);
}

/* Apply the journal's values (with m held). */
static void journal_apply(qhdr *h)
{
    atomic_store_explicit(&h->head, h->j_head, RLX);
    atomic_store_explicit(&h->tail, h->j_tail, RLX);
    atomic_store_explicit(&h->count, h->j_count, RLX);
    atomic_store_explicit(&h->unfinished, h->j_unfinished, RLX);
    atomic_store_explicit(&h->j_valid, 0, memory_order_release);
}

static void commit(qhdr *h, uint64_t head, uint64_t tail, uint32_t count, uint32_t unfinished)
{
    h->j_head = head;
    h->j_tail = tail;
    h->j_count = count;
    h->j_unfinished = unfinished;
    /* Release: the journal's fields are in memory before the flag says so,
       for whoever finds it after our death. */
    atomic_store_explicit(&h->j_valid, 1, memory_order_release);
    journal_apply(h);
}

static void wake_all(qhdr *h)
{
    atomic_fetch_add(&h->put_seq, 1);
    atomic_fetch_add(&h->get_seq, 1);
    mproc__futex_wake(&h->put_seq, INT_MAX);
    mproc__futex_wake(&h->get_seq, INT_MAX);
    mproc__futex_wake(&h->unfinished, INT_MAX);
}

/* Take the queue's mutex, repairing after a holder that died. 0 held,
   -ETIMEDOUT. */
static int q_lock(qhdr *h, double deadline)
{
    int r = mproc__ilock(&h->m, deadline);
    if (r == 1) {
        if (atomic_load_explicit(&h->j_valid, memory_order_acquire))
            journal_apply(h);
        /* Sleepers may have missed the wake-up the dead process owed them. */
        wake_all(h);
        r = 0;
    }
    return r;
}

/* The mutex is held only for a copy, so "do not wait" still waits that
   long for it rather than fail while messages or room are there; a bounded
   wait keeps a stopped holder from hanging a non-blocking call. */
static double lock_deadline(double timeout, double deadline)
{
    return timeout == 0 ? mproc__now() + 0.01 : deadline;
}

static void q_unlock(qhdr *h)
{
    pthread_mutex_unlock(&h->m);
}

/* ---- making and opening ----------------------------------------------------- */

static int q_wrap(mproc_queue **out, mproc_shm *blk)
{
    qhdr *h = mproc_shm_ptr(blk);
    size_t size = mproc_shm_size(blk);
    if (size < Q_HDR || h->magic != Q_MAGIC || h->cap < 8 || (h->cap & (h->cap - 1)) ||
        h->cap > size - Q_HDR) {
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
    q->mask = h->cap - 1;
    /* Spinning only helps while the partner runs on another CPU. */
    cpu_set_t set;
    q->spin = sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1 ? Q_SPIN : 0;
    *out = q;
    return 0;
}

/* Prepare the queue header inside its block, before any other process can
   attach to it. */
static int q_init(void *data, size_t size, void *arg)
{
    const mproc_queue_opts *opts = arg;
    qhdr *h = data;
    int err = mproc__rmutex_init(&h->m, false);
    if (err < 0)
        return err;
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
    return q ? (size_t)q->h->cap - 8 : 0;
}

/* ---- put and get -------------------------------------------------------------- */

/* Sleep (m released) until seq moves, the queue closes, or the deadline.
   Spins first while another CPU may be about to move it. */
static int q_sleep(mproc_queue *q, _Atomic uint32_t *seq, _Atomic uint32_t *sleepers,
                   double deadline)
{
    qhdr *h = q->h;
    uint32_t s = atomic_load(seq);
    atomic_fetch_add(sleepers, 1);
    q_unlock(h);
    for (int i = 0; i < q->spin && atomic_load_explicit(seq, RLX) == s; i++)
        mproc__cpu_relax();
    int r = 0;
    if (atomic_load(seq) == s)
        r = mproc__futex_wait(seq, s, deadline);
    atomic_fetch_sub(sleepers, 1);
    int l = q_lock(h, INFINITY);
    return l < 0 ? l : (r == -EINTR ? 0 : r);
}

/* A sleeper that gives up may have been the one a wake-up was meant for:
   hand it to another sleeper, if any (with m held). */
static void pass_on(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers)
{
    if (atomic_load(sleepers) > 0) {
        atomic_fetch_add(seq, 1);
        mproc__futex_wake(seq, 1);
    }
}

int mproc_queue_put(mproc_queue *q, const void *data, size_t len, double timeout)
{
    if (!q || (!data && len) || !mproc__timeout_ok(timeout))
        return -EINVAL;
    qhdr *h = q->h;
    if (len > h->cap - 8)
        return -EMSGSIZE;
    uint64_t need = rec_size(len);
    double deadline = mproc__deadline(timeout);
    int err = q_lock(h, lock_deadline(timeout, deadline));
    if (err < 0)
        return err;
    for (;;) {
        if (atomic_load_explicit(&h->closed, RLX)) {
            err = -EPIPE;
            goto out;
        }
        uint64_t head = atomic_load_explicit(&h->head, RLX);
        uint64_t tail = atomic_load_explicit(&h->tail, RLX);
        uint32_t count = atomic_load_explicit(&h->count, RLX);
        if (h->cap - (tail - head) >= need && (!h->maxsize || count < h->maxsize)) {
            uint64_t hdr = len;
            /* Beyond the tail: invisible until the commit. */
            ring_write(q, tail + 8, data, len);
            ring_write(q, tail, &hdr, 8);
            uint32_t unf = atomic_load_explicit(&h->unfinished, RLX);
            commit(h, head, tail + need, count + 1, unf + 1);
            atomic_fetch_add(&h->put_seq, 1);
            /* A sleeping getter is woken for each of the first messages
               that sleepers could take; woken ones count as sleepers until
               they run, so later puts need no system call. */
            bool wake = count < atomic_load(&h->getters);
            q_unlock(h);
            if (wake)
                mproc__futex_wake(&h->put_seq, 1);
            return 0;
        }
        if (timeout == 0 || mproc__now() >= deadline) {
            err = -ETIMEDOUT;
            goto out;
        }
        err = q_sleep(q, &h->get_seq, &h->putters, deadline);
        if (err == -ETIMEDOUT)
            pass_on(&h->get_seq, &h->putters);
        if (err < 0 && err != -ETIMEDOUT)
            return err;
        err = 0; /* a timeout is decided above, after one more look */
    }
out:
    q_unlock(h);
    return err;
}

/* The body of both gets: buf/cap for get, or alloc for get_alloc. */
static int take(mproc_queue *q, void *buf, size_t cap, void **alloc, size_t *len, double timeout)
{
    qhdr *h = q->h;
    double deadline = mproc__deadline(timeout);
    int err = q_lock(h, lock_deadline(timeout, deadline));
    if (err < 0)
        return err;
    for (;;) {
        uint32_t count = atomic_load_explicit(&h->count, RLX);
        if (count > 0) {
            uint64_t head = atomic_load_explicit(&h->head, RLX);
            uint64_t n;
            ring_read(q, head, &n, 8);
            void *dst = buf;
            if (alloc) {
                dst = malloc(n ? n : 1);
                if (!dst) {
                    err = -ENOMEM;
                    goto out;
                }
            } else if (n > cap) {
                *len = (size_t)n;
                err = -EMSGSIZE;
                goto out;
            }
            ring_read(q, head + 8, dst, (size_t)n);
            commit(h, head + rec_size(n), atomic_load_explicit(&h->tail, RLX), count - 1,
                   atomic_load_explicit(&h->unfinished, RLX));
            atomic_fetch_add(&h->get_seq, 1);
            /* Putters sleep on a full ring; wake one once it is half empty
               (or below half of maxsize), not after every get. */
            uint64_t used = atomic_load_explicit(&h->tail, RLX) - (head + rec_size(n));
            bool wake = atomic_load(&h->putters) > 0 &&
                        (used <= h->cap / 2 || (h->maxsize && count - 1 <= h->maxsize / 2));
            q_unlock(h);
            if (wake)
                mproc__futex_wake(&h->get_seq, 1);
            if (alloc)
                *alloc = dst;
            *len = (size_t)n;
            return 0;
        }
        if (atomic_load_explicit(&h->closed, RLX)) {
            err = -EPIPE;
            goto out;
        }
        if (timeout == 0 || mproc__now() >= deadline) {
            err = -ETIMEDOUT;
            goto out;
        }
        err = q_sleep(q, &h->put_seq, &h->getters, deadline);
        if (err == -ETIMEDOUT && atomic_load_explicit(&h->count, RLX) > 0)
            pass_on(&h->put_seq, &h->getters);
        if (err < 0 && err != -ETIMEDOUT)
            return err;
        err = 0;
    }
out:
    q_unlock(h);
    return err;
}

int mproc_queue_get(mproc_queue *q, void *buf, size_t cap, size_t *len, double timeout)
{
    if (!q || !len || (!buf && cap) || !mproc__timeout_ok(timeout))
        return -EINVAL;
    return take(q, buf, cap, NULL, len, timeout);
}

int mproc_queue_get_alloc(mproc_queue *q, void **data, size_t *len, double timeout)
{
    if (!q || !data || !len || !mproc__timeout_ok(timeout))
        return -EINVAL;
    return take(q, NULL, 0, data, len, timeout);
}

/* ---- state, close, join ------------------------------------------------------- */

int mproc_queue_close(mproc_queue *q)
{
    if (!q)
        return -EINVAL;
    int err = q_lock(q->h, INFINITY);
    if (err < 0)
        return err;
    atomic_store(&q->h->closed, 1);
    q_unlock(q->h);
    wake_all(q->h);
    return 0;
}

bool mproc_queue_closed(mproc_queue *q)
{
    return q && atomic_load(&q->h->closed) != 0;
}

/* The snapshots take the mutex: after a holder's death its journal may
   still have to be applied, and the counters would lie until then. */
long mproc_queue_qsize(mproc_queue *q)
{
    if (!q)
        return -EINVAL;
    int err = q_lock(q->h, INFINITY);
    if (err < 0)
        return err;
    long n = (long)atomic_load_explicit(&q->h->count, RLX);
    q_unlock(q->h);
    return n;
}

bool mproc_queue_empty(mproc_queue *q)
{
    return !q || mproc_queue_qsize(q) == 0;
}

bool mproc_queue_full(mproc_queue *q)
{
    if (!q || q_lock(q->h, INFINITY) < 0)
        return false;
    qhdr *h = q->h;
    uint64_t used = atomic_load_explicit(&h->tail, RLX) - atomic_load_explicit(&h->head, RLX);
    bool full = (h->maxsize && atomic_load_explicit(&h->count, RLX) >= h->maxsize) ||
                h->cap - used < 16;
    q_unlock(h);
    return full;
}

int mproc_queue_task_done(mproc_queue *q)
{
    if (!q)
        return -EINVAL;
    qhdr *h = q->h;
    int err = q_lock(h, INFINITY);
    if (err < 0)
        return err;
    uint32_t unf = atomic_load_explicit(&h->unfinished, RLX);
    if (unf == 0) {
        q_unlock(h);
        return -EINVAL;
    }
    /* One store: no journal needed. */
    atomic_store(&h->unfinished, unf - 1);
    bool wake = unf == 1 && atomic_load(&h->joiners) > 0;
    q_unlock(h);
    if (wake)
        mproc__futex_wake(&h->unfinished, INT_MAX);
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
        uint32_t unf = atomic_load(&h->unfinished);
        int r = 0;
        if (unf != 0)
            r = mproc__futex_wait(&h->unfinished, unf, deadline);
        atomic_fetch_sub(&h->joiners, 1);
        if (atomic_load(&h->unfinished) == 0)
            return 0;
        if (r == -ETIMEDOUT)
            return r;
        if (r < 0 && r != -EINTR)
            return r;
    }
}
