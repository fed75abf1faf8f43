/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_queue_util.h: what the queue's wake-up tests share, run either by
 * processes (test_queue_wake.c) or by threads (test_queue_threads.c): the
 * lost wake-up reproducer and the N producers x M consumers exchange of
 * numbered, self-checking messages. */
#ifndef MPROC_TEST_QUEUE_UTIL_H
#define MPROC_TEST_QUEUE_UTIL_H

#include "test_ipc_util.h"
#include "queue_layout.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

/* The sanitizers make every loop over a payload several times slower:
   fewer messages there keep each case within its few seconds. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define QT_SCALE 8
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define QT_SCALE 8
#endif
#endif
#ifndef QT_SCALE
#define QT_SCALE 1
#endif

/* Every get and put waits at most this long: far longer than any message
   takes on a loaded machine, so running out means something sleeps that
   should not. */
#define QT_DEADLINE 10.0

static inline double qt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void qt_sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static inline void *qt_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* ---- workers as processes or threads ------------------------------------------ */

#define QT_MAX 8

typedef struct {
    int (*fn)(void *);
    void *arg;
    int rc;
    pthread_t t;
    pid_t pid;
    _Atomic int tid; /* the kernel's id, once it runs */
} qt_worker;

typedef struct {
    bool threads;
    int n;
    qt_worker w[QT_MAX];
} qt_crew;

static void *qt_thread_main(void *arg)
{
    qt_worker *w = arg;
    w->rc = w->fn(w->arg);
    return NULL;
}

/* Start fn(arg); returns the worker, whose kernel id qt_wait_asleep takes. */
static inline qt_worker *qt_start(qt_crew *c, int (*fn)(void *), void *arg)
{
    ck_assert_int_lt(c->n, QT_MAX);
    qt_worker *w = &c->w[c->n++];
    w->fn = fn;
    w->arg = arg;
    w->rc = -1;
    if (c->threads)
        ck_assert_int_eq(pthread_create(&w->t, NULL, qt_thread_main, w), 0);
    else
        w->pid = ipc_spawn(fn, arg);
    return w;
}

/* Wait for every worker; each one's result (0: all went well). */
static inline void qt_finish(qt_crew *c, int *rcs)
{
    for (int i = 0; i < c->n; i++) {
        qt_worker *w = &c->w[i];
        if (c->threads)
            pthread_join(w->t, NULL);
        else
            w->rc = ipc_reap(w->pid);
        rcs[i] = w->rc;
    }
    c->n = 0;
}

/* True once kernel task tid sleeps (state S), polled every 50 us, up to
   10 s. For a worker blocked in a get, asleep is the futex wait. */
static inline bool qt_wait_asleep(int tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", tid);
    for (int i = 0; i < 200000; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0) {
                buf[n] = 0;
                const char *p = strrchr(buf, ')');
                if (p && p[1] == ' ' && p[2] == 'S')
                    return true;
            }
        }
        qt_sleep_us(50);
    }
    return false;
}

/* ---- self-checking messages ---------------------------------------------------- */

/* A message of size bytes (a multiple of 8, at least 16): producer id and
   sequence number, then words that depend on both and on their place, so a
   torn, stale or misplaced copy is noticed. */
static inline uint64_t qt_word(uint32_t id, uint32_t seq, size_t i)
{
    uint64_t x = ((uint64_t)id << 32 | seq) * 0x9e3779b97f4a7c15u + i;
    return x ^ (x >> 29);
}

static inline void qt_fill(uint64_t *m, size_t size, uint32_t id, uint32_t seq)
{
    m[0] = (uint64_t)id << 32 | seq;
    for (size_t i = 1; i < size / 8; i++)
        m[i] = qt_word(id, seq, i);
}

/* True when m (len bytes) is a whole message of size bytes; its id and seq. */
static inline bool qt_check(const uint64_t *m, size_t len, size_t size, uint32_t *id,
                            uint32_t *seq)
{
    if (len != size)
        return false;
    *id = (uint32_t)(m[0] >> 32);
    *seq = (uint32_t)m[0];
    for (size_t i = 1; i < size / 8; i++)
        if (m[i] != qt_word(*id, *seq, i))
            return false;
    return true;
}

/* ---- the lost wake-up reproducer ------------------------------------------------- */

/* Two getters sleep on an empty queue; two messages come, the second put a
   little after the first so that it lands while the first getter is woken
   and copying; each getter takes one message and stops. A wake-up lost
   there leaves the second getter asleep beside the second message, which
   no one else will ever take. Failures (worker results): */
enum { QT_OK, QT_BAD_MSG, QT_ASLEEP_BESIDE_MSG, QT_TIMED_OUT, QT_ERROR, QT_DUPLICATE, QT_PUT_STUCK };

typedef struct {
    mproc_queue *q;
    size_t size;
    _Atomic int tids[2];
    _Atomic int next;
} qt_repro;

static int qt_repro_getter(void *arg)
{
    qt_repro *r = arg;
    int me = atomic_fetch_add(&r->next, 1);
    atomic_store(&r->tids[me], (int)syscall(SYS_gettid));
    uint64_t *m = malloc(r->size);
    size_t len;
    uint32_t id, seq;
    int rc = mproc_queue_get(r->q, m, r->size, &len, QT_DEADLINE);
    if (rc == -ETIMEDOUT)
        rc = mproc_queue_qsize(r->q) > 0 ? QT_ASLEEP_BESIDE_MSG : QT_TIMED_OUT;
    else if (rc < 0)
        rc = QT_ERROR;
    else if (!qt_check(m, len, r->size, &id, &seq))
        rc = QT_BAD_MSG;
    free(m);
    return rc;
}

/* Runs rounds until `rounds` or `seconds` is reached; the number run. */
static inline int qt_repro_run(bool threads, int rounds, double seconds)
{
    static const size_t sizes[] = { (size_t)1 << 20, (size_t)64 << 10 };
    qt_repro *r = qt_shared(sizeof *r);
    uint64_t *m = malloc(sizes[0]);
    double end = qt_now() + seconds;
    int round = 0;
    for (; round < rounds && qt_now() < end; round++) {
        r->size = sizes[round % 2];
        mproc_queue_opts o = { .bytes = 4 * r->size };
        ASSERT_OK(mproc_queue_new(&r->q, &o));
        atomic_store(&r->next, 0);
        atomic_store(&r->tids[0], 0);
        atomic_store(&r->tids[1], 0);
        qt_crew c = { .threads = threads };
        qt_start(&c, qt_repro_getter, r);
        qt_start(&c, qt_repro_getter, r);
        for (int i = 0; i < 2; i++) {
            while (atomic_load(&r->tids[i]) == 0)
                qt_sleep_us(20);
            ck_assert(qt_wait_asleep(atomic_load(&r->tids[i])));
        }
        /* The second put 0 to 100 us after the first returns, so that
           some rounds put it while the woken getter is still copying. */
        qt_fill(m, r->size, 1, 0);
        ASSERT_OK(mproc_queue_put(r->q, m, r->size, QT_DEADLINE));
        qt_sleep_us((round / 2 % 6) * 20);
        qt_fill(m, r->size, 1, 1);
        ASSERT_OK(mproc_queue_put(r->q, m, r->size, QT_DEADLINE));
        int rcs[2];
        qt_finish(&c, rcs);
        ck_assert_msg(rcs[0] == QT_OK && rcs[1] == QT_OK,
                      "round %d (%zu B messages): getters ended %d and %d (2: asleep beside a "
                      "message)",
                      round, r->size, rcs[0], rcs[1]);
        ck_assert_int_eq(mproc_queue_qsize(r->q), 0);
        mproc_queue_free(r->q);
    }
    free(m);
    munmap(r, sizeof *r);
    return round;
}

/* ---- a putter beside room ---------------------------------------------------------- */

/* The ring full of size-byte messages; a putter sleeps for room; a getter
   takes k of them (less than half the ring) and takes no more. The putter
   must find the room it made: it has QT_ROOM_WAIT seconds, far beyond any
   scheduling delay, and a putter left asleep until someone else frees half
   the ring never gets there. */
#define QT_ROOM_WAIT 3.0

typedef struct {
    mproc_queue *q;
    size_t size;
    _Atomic int tid;
} qt_room;

static int qt_room_putter(void *arg)
{
    qt_room *r = arg;
    atomic_store(&r->tid, (int)syscall(SYS_gettid));
    uint64_t *m = malloc(r->size);
    qt_fill(m, r->size, 2, 0);
    int rc = mproc_queue_put(r->q, m, r->size, QT_ROOM_WAIT);
    free(m);
    return rc == 0 ? QT_OK : rc == -ETIMEDOUT ? QT_PUT_STUCK : QT_ERROR;
}

/* Sizes 64 B, 1000 B and 4 KiB in rings of 4 KiB to 64 KiB, one get or a
   few; the rounds run. */
static inline int qt_room_run(bool threads)
{
    static const size_t sizes[] = { 64, 1000, 4096 };
    static const size_t rings[] = { 4096, 16384, 65536 };
    qt_room *r = qt_shared(sizeof *r);
    int round = 0;
    for (int si = 0; si < 3; si++)
        for (int ri = si == 2; ri < 3; ri++) {
            r->size = sizes[si];
            mproc_queue_opts o = { .bytes = rings[ri] };
            ASSERT_OK(mproc_queue_new(&r->q, &o));
            uint64_t *m = malloc(r->size);
            long held = 0;
            for (;; held++) {
                qt_fill(m, r->size, 1, (uint32_t)held);
                int rc = mproc_queue_put(r->q, m, r->size, 0);
                if (rc == -ETIMEDOUT)
                    break;
                ASSERT_OK(rc);
            }
            ck_assert_int_ge(held, 3);
            atomic_store(&r->tid, 0);
            qt_crew c = { .threads = threads };
            qt_start(&c, qt_room_putter, r);
            while (atomic_load(&r->tid) == 0)
                qt_sleep_us(20);
            ck_assert(qt_wait_asleep(atomic_load(&r->tid)));
            /* One message, or as many as stay below half the ring. */
            long k = round % 2 ? 1 : (held - 1) / 2;
            for (long i = 0; i < k; i++) {
                size_t len;
                uint32_t id, seq;
                ASSERT_OK(mproc_queue_get(r->q, m, r->size, &len, QT_DEADLINE));
                ck_assert(qt_check(m, len, r->size, &id, &seq));
                ck_assert_uint_eq(seq, (uint32_t)i);
            }
            int rcs[1];
            qt_finish(&c, rcs);
            ck_assert_msg(rcs[0] == QT_OK,
                          "%zu B messages, %zu B ring, %ld of %ld taken: the putter ended %d "
                          "(6: asleep beside room until its deadline)",
                          r->size, rings[ri], k, held, rcs[0]);
            ck_assert_int_eq(mproc_queue_qsize(r->q), held - k + 1);
            free(m);
            mproc_queue_free(r->q);
            round++;
        }
    munmap(r, sizeof *r);
    return round;
}

/* ---- N producers x M consumers ------------------------------------------------------ */

typedef struct {
    mproc_queue *q;
    size_t size;
    uint32_t per;              /* messages from each producer */
    uint32_t quota[QT_MAX];    /* messages each consumer takes, then stops */
    _Atomic int next_producer, next_consumer;
    _Atomic uint8_t seen[];    /* one flag per message: producer * per + seq */
} qt_nxm;

static int qt_producer(void *arg)
{
    qt_nxm *x = arg;
    uint32_t id = (uint32_t)atomic_fetch_add(&x->next_producer, 1);
    uint64_t *m = malloc(x->size);
    int rc = QT_OK;
    for (uint32_t seq = 0; seq < x->per && rc == QT_OK; seq++) {
        qt_fill(m, x->size, id, seq);
        /* Consumers keep taking until every message is theirs, so a put
           that waits out its deadline slept while room came. */
        int r = mproc_queue_put(x->q, m, x->size, QT_DEADLINE);
        if (r < 0)
            rc = r == -ETIMEDOUT ? QT_PUT_STUCK : QT_ERROR;
    }
    free(m);
    return rc;
}

static int qt_consumer(void *arg)
{
    qt_nxm *x = arg;
    int me = atomic_fetch_add(&x->next_consumer, 1);
    uint64_t *m = malloc(x->size);
    int rc = QT_OK;
    for (uint32_t k = 0; k < x->quota[me] && rc == QT_OK; k++) {
        size_t len;
        uint32_t id, seq;
        int r = mproc_queue_get(x->q, m, x->size, &len, QT_DEADLINE);
        if (r == -ETIMEDOUT)
            rc = mproc_queue_qsize(x->q) > 0 ? QT_ASLEEP_BESIDE_MSG : QT_TIMED_OUT;
        else if (r < 0)
            rc = QT_ERROR;
        else if (!qt_check(m, len, x->size, &id, &seq) || id >= QT_MAX || seq >= x->per)
            rc = QT_BAD_MSG;
        else if (atomic_exchange(&x->seen[(size_t)id * x->per + seq], 1))
            rc = QT_DUPLICATE;
    }
    free(m);
    return rc;
}

/* Called on each new queue of qt_nxm_run, where set. */
static void (*qt_nxm_setup)(mproc_queue *q);

/* Every big message copied outside the locks from the first put and get,
   as when several producers and consumers share the queue (src/queue.c,
   COPIES OUTSIDE THE LOCKS): a setup for qt_nxm_run. */
static inline void qt_split_always(mproc_queue *q)
{
    q->h->psplit = UINT32_MAX;
    q->h->gsplit = UINT32_MAX;
}

/* n producers and m consumers exchange numbered messages of size bytes: each
   consumer takes its share and stops, so one that sleeps beside a message
   is left with nobody to take it. Every message arrives once, whole. */
static inline void qt_nxm_run(bool threads, int n, int m, size_t size)
{
    /* Enough messages for many full and empty turns of a ring that holds
       only a few of them, and a few seconds at most. */
    uint32_t total = size <= 64 ? 400000 : size <= 4096 ? 80000 : size <= 65536 ? 16000 : 2400;
    total /= QT_SCALE;
    total -= total % 4; /* divisible among 1, 2 or 4 producers */
    size_t bytes = sizeof(qt_nxm) + total;
    qt_nxm *x = qt_shared(bytes);
    x->size = size;
    x->per = total / (uint32_t)n;
    for (int i = 0; i < m; i++)
        x->quota[i] = total / (uint32_t)m + (i < (int)(total % (uint32_t)m) ? 1 : 0);
    mproc_queue_opts o = { .bytes = size <= 64 ? 4096 : 4 * size };
    ASSERT_OK(mproc_queue_new(&x->q, &o));
    if (qt_nxm_setup)
        qt_nxm_setup(x->q);
    qt_crew c = { .threads = threads };
    for (int i = 0; i < m; i++)
        qt_start(&c, qt_consumer, x);
    for (int i = 0; i < n; i++)
        qt_start(&c, qt_producer, x);
    int rcs[QT_MAX];
    qt_finish(&c, rcs);
    for (int i = 0; i < n + m; i++)
        ck_assert_msg(rcs[i] == QT_OK,
                      "%dx%d, %zu B: %s %d ended %d (2: asleep beside a message, 3: timed out, "
                      "5: a message twice, 6: a put that never found room)",
                      n, m, size, i < m ? "consumer" : "producer", i < m ? i : i - m, rcs[i]);
    ck_assert_int_eq(mproc_queue_qsize(x->q), 0);
    for (uint32_t i = 0; i < total; i++)
        ck_assert_msg(atomic_load(&x->seen[i]), "message %u of producer %u lost", i % x->per,
                      i / x->per);
    mproc_queue_free(x->q);
    munmap(x, bytes);
}

/* The N x M exchange with qt_split_always, i in [0, QT_SPLIT_CASES): 64 KiB
   (the smallest message copied outside the locks), 256 KiB, 1 MiB x 2x2,
   4x1, 1x4, 4x4. */
#define QT_SPLIT_CASES 12

static inline void qt_split_case(bool threads, int i)
{
    static const size_t sizes[] = { 65536, 262144, (size_t)1 << 20 };
    static const int shapes[][2] = { { 2, 2 }, { 4, 1 }, { 1, 4 }, { 4, 4 } };
    qt_nxm_setup = qt_split_always;
    qt_nxm_run(threads, shapes[i % 4][0], shapes[i % 4][1], sizes[i / 4]);
}

/* The shapes and sizes, one loop index each: 4 sizes x {1,2,4} x {1,2,4}. */
#define QT_NXM_CASES 36

static inline void qt_nxm_case(bool threads, int i)
{
    static const size_t sizes[] = { 64, 4096, 65536, (size_t)1 << 20 };
    static const int counts[] = { 1, 2, 4 };
    qt_nxm_run(threads, counts[i % 9 / 3], counts[i % 3], sizes[i / 9]);
}

#endif
