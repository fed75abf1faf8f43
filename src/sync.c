/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* sync.c: process-shared locks, semaphores, events, conditions, barriers.
 *
 * DESIGN. Everything lives in memory the processes share and holds no
 * pointer, so it works at any mapping address. Locks are POSIX robust,
 * process-shared mutexes: the kernel walks a dying thread's robust list and
 * hands the next acquirer EOWNERDEAD, and the uncontended path is one atomic
 * compare-and-swap in the C library. The other objects are built on 32-bit
 * futex words that are changed with single atomic operations, so a process
 * killed at any instruction cannot leave them half-updated; the one
 * exception, the barrier's bookkeeping, sits under an internal robust mutex
 * and turns an owner-died result into a broken barrier. Waiter counters
 * only decide whether a wake-up system call is needed: one left raised by a
 * dead waiter costs a useless wake, never a lost one.
 */
#include "ipc_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- robust mutexes ------------------------------------------------------- */

int mproc__rmutex_init(pthread_mutex_t *m, bool recursive)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!r)
        r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    /* Error-checking rather than normal: relocking by the holder is
       -EDEADLK instead of a silent self-deadlock. */
    if (!r)
        r = pthread_mutexattr_settype(&a, recursive ? PTHREAD_MUTEX_RECURSIVE
                                                    : PTHREAD_MUTEX_ERRORCHECK);
    if (!r)
        r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -r;
}

int mproc__rmutex_lock(pthread_mutex_t *m, double deadline)
{
    if (isinf(deadline))
        return -pthread_mutex_lock(m);
    /* Never pthread_mutex_trylock: glibc's, on a robust mutex made
       unrecoverable, takes the lock word and keeps it while returning
       ENOTRECOVERABLE, wedging the mutex for good. A timed lock whose
       deadline has passed is a try (POSIX: no timeout when the mutex can be
       taken at once) and releases the word on that path. */
    struct timespec ts;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 30) && \
    !defined(__SANITIZE_THREAD__)
    mproc__timespec(deadline, &ts);
    return -pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
#else
    /* Without clocklock (or under ThreadSanitizer, which does not intercept
       it and would then miss the lock) the wait is on CLOCK_REALTIME:
       convert, accepting that a clock step moves the deadline. */
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    double left = deadline - mproc__now();
    double abs = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9 + (left > 0 ? left : 0);
    mproc__timespec(abs, &ts);
    return -pthread_mutex_timedlock(m, &ts);
#endif
}

int mproc__ilock(pthread_mutex_t *m, double deadline)
{
    int r = mproc__rmutex_lock(m, deadline);
    if (r == -EOWNERDEAD) {
        pthread_mutex_consistent(m);
        return 1;
    }
    return r;
}

/* ---- shared mappings ------------------------------------------------------- */

void *mproc__shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mproc__shared_free(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}

/* ---- lock ---------------------------------------------------------------------- */

/* A lock whose holder died stays usable only if the acquirer that got
   EOWNERDEAD declares it consistent; released without that it is lost for
   good. The C library tracks this too, but not reliably for every way of
   acquiring (see mproc__rmutex_lock), and a caller already asleep in the
   mutex cannot be told: so the lock keeps its own word. dead is 0 for a
   healthy lock, the thread id of the acquirer that inherited it from a
   dead holder, or DEAD_LOST once released inconsistent. Only the holder
   writes it; acquirers read it first and never touch a lost mutex. */
#define DEAD_LOST (-1)

typedef struct {
    pthread_mutex_t m;
    _Atomic int32_t dead;
} lock_impl;
_Static_assert(sizeof(lock_impl) <= sizeof(mproc_lock), "mproc_lock too small");
_Static_assert(sizeof(lock_impl) <= sizeof(mproc_rlock), "mproc_rlock too small");

static pthread_mutex_t *lock_m(void *l)
{
    return &((lock_impl *)l)->m;
}

static int32_t self_tid(void)
{
    return (int32_t)syscall(SYS_gettid);
}

/* A lost mutex, released, wakes one sleeper; glibc's and musl's sleeper
   that then finds it unrecoverable returns without waking the next, who
   would sleep forever. So wake them all: each retries and sees the mutex
   unrecoverable. The futex word is the C library's: the first int in
   glibc's mutex, the second in musl's (_m_lock). A spurious wake is
   harmless to both. */
static void wake_all_waiters(pthread_mutex_t *m)
{
#ifdef __GLIBC__
    void *word = &m->__data.__lock;
#else
    void *word = (int *)m + 1;
#endif
    mproc__futex_wake(word, INT_MAX);
}

/* After the mutex said no: note an inheritance, or tell a timeout on a
   lock lost meanwhile for what it is. */
static int lk_acquired(lock_impl *k, int r)
{
    if (r == -EOWNERDEAD)
        atomic_store(&k->dead, self_tid());
    else if (r == -ETIMEDOUT && atomic_load(&k->dead) == DEAD_LOST)
        r = -ENOTRECOVERABLE; /* lost while we waited */
    return r;
}

/* The word is read relaxed: a stale "healthy" only sends us to the mutex,
   which, taken by a (timed) lock, reports a lost one itself. */
static inline int lk_acquire(void *l, double deadline)
{
    lock_impl *k = l;
    if (__builtin_expect(atomic_load_explicit(&k->dead, memory_order_relaxed) == DEAD_LOST, 0))
        return -ENOTRECOVERABLE;
    int r = isinf(deadline) ? -pthread_mutex_lock(&k->m) : mproc__rmutex_lock(&k->m, deadline);
    return __builtin_expect(r == 0, 1) ? 0 : lk_acquired(k, r);
}

static int lk_consistent(void *l)
{
    lock_impl *k = l;
    int32_t d = atomic_load(&k->dead);
    if (d <= 0 || d != self_tid())
        return -EINVAL;
    int r = pthread_mutex_consistent(&k->m);
    if (r == 0)
        atomic_store(&k->dead, 0);
    return -r;
}

/* Releasing a lock inherited from a dead holder and not repaired. */
static int lk_release_dead(lock_impl *k, int32_t d)
{
    /* Lost before the mutex can pass on: whoever comes next must see it. */
    if (d > 0 && d == self_tid())
        atomic_store(&k->dead, DEAD_LOST);
    int r = pthread_mutex_unlock(&k->m);
    if (d > 0 && r == 0)
        wake_all_waiters(&k->m);
    /* glibc reports an inner release of an inconsistent recursive lock
       so; the hold was dropped all the same. */
    return r == ENOTRECOVERABLE ? 0 : -r;
}

static inline int lk_release(void *l)
{
    lock_impl *k = l;
    /* Written only by the holder (the caller, if the release is valid). */
    int32_t d = atomic_load_explicit(&k->dead, memory_order_relaxed);
    if (__builtin_expect(d == 0, 1))
        return -pthread_mutex_unlock(&k->m);
    return lk_release_dead(k, d);
}

static int timeout_deadline(double timeout, double *deadline)
{
    if (!mproc__timeout_ok(timeout))
        return -EINVAL;
    *deadline = mproc__deadline(timeout);
    return 0;
}

int mproc_lock_init(mproc_lock *l)
{
    if (!l)
        return -EINVAL;
    memset(l, 0, sizeof *l);
    return mproc__rmutex_init(lock_m(l), false);
}

int mproc_lock_destroy(mproc_lock *l)
{
    if (!l)
        return -EINVAL;
    return -pthread_mutex_destroy(lock_m(l));
}

int mproc_lock_new(mproc_lock **out)
{
    if (!out)
        return -EINVAL;
    mproc_lock *l = mproc__shared_alloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    int r = mproc_lock_init(l);
    if (r < 0) {
        mproc__shared_free(l, sizeof *l);
        return r;
    }
    *out = l;
    return 0;
}

void mproc_lock_free(mproc_lock *l)
{
    mproc__shared_free(l, sizeof *l);
}

int mproc_lock_acquire(mproc_lock *l, double timeout)
{
    if (!l)
        return -EINVAL;
    /* The uncontended path first: no clock read, no float work. */
    if (timeout < 0)
        return lk_acquire(l, INFINITY);
    double deadline;
    int r = timeout_deadline(timeout, &deadline);
    return r < 0 ? r : lk_acquire(l, deadline);
}

int mproc_lock_consistent(mproc_lock *l)
{
    return l ? lk_consistent(l) : -EINVAL;
}

int mproc_lock_release(mproc_lock *l)
{
    return l ? lk_release(l) : -EINVAL;
}

/* ---- recursive lock ----------------------------------------------------------- */

int mproc_rlock_init(mproc_rlock *l)
{
    if (!l)
        return -EINVAL;
    memset(l, 0, sizeof *l);
    return mproc__rmutex_init(lock_m(l), true);
}

int mproc_rlock_destroy(mproc_rlock *l)
{
    if (!l)
        return -EINVAL;
    return -pthread_mutex_destroy(lock_m(l));
}

int mproc_rlock_new(mproc_rlock **out)
{
    if (!out)
        return -EINVAL;
    mproc_rlock *l = mproc__shared_alloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    int r = mproc_rlock_init(l);
    if (r < 0) {
        mproc__shared_free(l, sizeof *l);
        return r;
    }
    *out = l;
    return 0;
}

void mproc_rlock_free(mproc_rlock *l)
{
    mproc__shared_free(l, sizeof *l);
}

int mproc_rlock_acquire(mproc_rlock *l, double timeout)
{
    if (!l)
        return -EINVAL;
    double deadline;
    int r = timeout_deadline(timeout, &deadline);
    return r < 0 ? r : lk_acquire(l, deadline);
}

int mproc_rlock_consistent(mproc_rlock *l)
{
    return l ? lk_consistent(l) : -EINVAL;
}

int mproc_rlock_release(mproc_rlock *l)
{
    return l ? lk_release(l) : -EINVAL;
}

/* ---- semaphore ------------------------------------------------------------------ */

#define SEM_VMAX 0x7fffffffU

typedef struct {
    _Atomic uint32_t value; /* the futex word */
    _Atomic uint32_t waiters;
    uint32_t max; /* 0: unbounded */
} sem_impl;
_Static_assert(sizeof(sem_impl) <= sizeof(mproc_sem), "mproc_sem too small");

int mproc_sem_init(mproc_sem *s, unsigned value, unsigned max)
{
    if (!s || value > SEM_VMAX || max > SEM_VMAX || (max && value > max))
        return -EINVAL;
    memset(s, 0, sizeof *s);
    sem_impl *m = (sem_impl *)s;
    atomic_init(&m->value, value);
    atomic_init(&m->waiters, 0);
    m->max = max;
    return 0;
}

int mproc_sem_destroy(mproc_sem *s)
{
    return s ? 0 : -EINVAL;
}

int mproc_sem_new(mproc_sem **out, unsigned value, unsigned max)
{
    if (!out)
        return -EINVAL;
    mproc_sem *s = mproc__shared_alloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    int r = mproc_sem_init(s, value, max);
    if (r < 0) {
        mproc__shared_free(s, sizeof *s);
        return r;
    }
    *out = s;
    return 0;
}

void mproc_sem_free(mproc_sem *s)
{
    mproc__shared_free(s, sizeof *s);
}

static bool sem_try(sem_impl *m)
{
    uint32_t v = atomic_load(&m->value);
    while (v > 0)
        if (atomic_compare_exchange_weak(&m->value, &v, v - 1))
            return true;
    return false;
}

int mproc_sem_acquire(mproc_sem *s, double timeout)
{
    if (!s || !mproc__timeout_ok(timeout))
        return -EINVAL;
    sem_impl *m = (sem_impl *)s;
    if (sem_try(m))
        return 0;
    double deadline = mproc__deadline(timeout);
    for (;;) {
        /* Raise the waiter count before the last look at the value: a
           releaser increments the value, then reads the count (both
           sequentially consistent), so one of us sees the other. */
        atomic_fetch_add(&m->waiters, 1);
        int r = 0;
        if (atomic_load(&m->value) == 0)
            r = mproc__futex_wait(&m->value, 0, deadline);
        atomic_fetch_sub(&m->waiters, 1);
        if (sem_try(m))
            return 0;
        if (r == -ETIMEDOUT || (r == 0 && mproc__now() >= deadline)) {
            /* A wake-up meant for us may have come as we gave up: pass it
               on if units are left. */
            if (atomic_load(&m->value) > 0 && atomic_load(&m->waiters) > 0)
                mproc__futex_wake(&m->value, 1);
            return -ETIMEDOUT;
        }
        if (r < 0 && r != -EINTR)
            return r;
    }
}

int mproc_sem_release(mproc_sem *s)
{
    if (!s)
        return -EINVAL;
    sem_impl *m = (sem_impl *)s;
    uint32_t limit = m->max ? m->max : SEM_VMAX;
    uint32_t v = atomic_load(&m->value);
    do {
        if (v >= limit)
            return -EOVERFLOW;
    } while (!atomic_compare_exchange_weak(&m->value, &v, v + 1));
    if (atomic_load(&m->waiters) > 0)
        mproc__futex_wake(&m->value, 1);
    return 0;
}

int mproc_sem_value(mproc_sem *s)
{
    if (!s)
        return -EINVAL;
    return (int)atomic_load(&((sem_impl *)s)->value);
}

/* ---- event ---------------------------------------------------------------------- */

typedef struct {
    _Atomic uint32_t flag; /* the futex word */
    _Atomic uint32_t waiters;
} event_impl;
_Static_assert(sizeof(event_impl) <= sizeof(mproc_event), "mproc_event too small");

int mproc_event_init(mproc_event *e)
{
    if (!e)
        return -EINVAL;
    memset(e, 0, sizeof *e);
    event_impl *m = (event_impl *)e;
    atomic_init(&m->flag, 0);
    atomic_init(&m->waiters, 0);
    return 0;
}

int mproc_event_destroy(mproc_event *e)
{
    return e ? 0 : -EINVAL;
}

int mproc_event_new(mproc_event **out)
{
    if (!out)
        return -EINVAL;
    mproc_event *e = mproc__shared_alloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    mproc_event_init(e);
    *out = e;
    return 0;
}

void mproc_event_free(mproc_event *e)
{
    mproc__shared_free(e, sizeof *e);
}

int mproc_event_set(mproc_event *e)
{
    if (!e)
        return -EINVAL;
    event_impl *m = (event_impl *)e;
    atomic_store(&m->flag, 1);
    if (atomic_load(&m->waiters) > 0)
        mproc__futex_wake(&m->flag, INT_MAX);
    return 0;
}

int mproc_event_clear(mproc_event *e)
{
    if (!e)
        return -EINVAL;
    atomic_store(&((event_impl *)e)->flag, 0);
    return 0;
}

bool mproc_event_is_set(mproc_event *e)
{
    return e && atomic_load(&((event_impl *)e)->flag) != 0;
}

int mproc_event_wait(mproc_event *e, double timeout)
{
    if (!e || !mproc__timeout_ok(timeout))
        return -EINVAL;
    event_impl *m = (event_impl *)e;
    if (atomic_load(&m->flag))
        return 0;
    double deadline = mproc__deadline(timeout);
    for (;;) {
        atomic_fetch_add(&m->waiters, 1);
        int r = 0;
        if (!atomic_load(&m->flag))
            r = mproc__futex_wait(&m->flag, 0, deadline);
        atomic_fetch_sub(&m->waiters, 1);
        if (atomic_load(&m->flag))
            return 0;
        if (r == -ETIMEDOUT)
            return r;
        if (r < 0 && r != -EINTR)
            return r;
    }
}

/* ---- condition -------------------------------------------------------------------- */

typedef struct {
    _Atomic uint32_t seq; /* the futex word: bumped by every notify */
    _Atomic uint32_t waiters;
} cond_impl;
_Static_assert(sizeof(cond_impl) <= sizeof(mproc_cond), "mproc_cond too small");

int mproc_cond_init(mproc_cond *c)
{
    if (!c)
        return -EINVAL;
    memset(c, 0, sizeof *c);
    cond_impl *m = (cond_impl *)c;
    atomic_init(&m->seq, 0);
    atomic_init(&m->waiters, 0);
    return 0;
}

int mproc_cond_destroy(mproc_cond *c)
{
    return c ? 0 : -EINVAL;
}

int mproc_cond_new(mproc_cond **out)
{
    if (!out)
        return -EINVAL;
    mproc_cond *c = mproc__shared_alloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    mproc_cond_init(c);
    *out = c;
    return 0;
}

void mproc_cond_free(mproc_cond *c)
{
    mproc__shared_free(c, sizeof *c);
}

int mproc_cond_wait(mproc_cond *c, mproc_lock *lock, double timeout)
{
    if (!c || !lock || !mproc__timeout_ok(timeout))
        return -EINVAL;
    cond_impl *m = (cond_impl *)c;
    double deadline = mproc__deadline(timeout);
    /* The sequence is read while the lock is held: a notify made after we
       release it changes the word, so the futex wait below returns at once
       instead of missing it. */
    uint32_t seq = atomic_load(&m->seq);
    atomic_fetch_add(&m->waiters, 1);
    int r = lk_release(lock);
    if (r < 0) {
        atomic_fetch_sub(&m->waiters, 1);
        return r;
    }
    int w;
    do
        w = mproc__futex_wait(&m->seq, seq, deadline);
    while (w == -EINTR && atomic_load(&m->seq) == seq);
    atomic_fetch_sub(&m->waiters, 1);
    r = lk_acquire(lock, INFINITY);
    if (r < 0)
        return r;
    return w == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

int mproc_cond_notify(mproc_cond *c, unsigned n)
{
    if (!c)
        return -EINVAL;
    if (n == 0)
        return 0;
    cond_impl *m = (cond_impl *)c;
    atomic_fetch_add(&m->seq, 1);
    if (atomic_load(&m->waiters) > 0)
        mproc__futex_wake(&m->seq, n > INT_MAX ? INT_MAX : (int)n);
    return 0;
}

int mproc_cond_notify_all(mproc_cond *c)
{
    return mproc_cond_notify(c, UINT_MAX);
}

/* ---- barrier ---------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t m;          /* guards count, broken and the generation bump */
    _Atomic uint32_t gen;       /* the futex word: bumped when a round ends */
    _Atomic uint32_t count;     /* arrived in this round */
    _Atomic uint32_t broken;    /* sticky until reset */
    _Atomic uint32_t dead_gen;  /* the last round that ended broken ... */
    _Atomic uint32_t dead_any;  /* ... valid once one has */
    uint32_t parties;
} barrier_impl;
_Static_assert(sizeof(barrier_impl) <= sizeof(mproc_barrier), "mproc_barrier too small");

int mproc_barrier_init(mproc_barrier *b, unsigned parties)
{
    if (!b || parties == 0 || parties > SEM_VMAX)
        return -EINVAL;
    memset(b, 0, sizeof *b);
    barrier_impl *m = (barrier_impl *)b;
    m->parties = parties;
    return mproc__rmutex_init(&m->m, false);
}

int mproc_barrier_destroy(mproc_barrier *b)
{
    if (!b)
        return -EINVAL;
    return -pthread_mutex_destroy(&((barrier_impl *)b)->m);
}

int mproc_barrier_new(mproc_barrier **out, unsigned parties)
{
    if (!out)
        return -EINVAL;
    mproc_barrier *b = mproc__shared_alloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    int r = mproc_barrier_init(b, parties);
    if (r < 0) {
        mproc__shared_free(b, sizeof *b);
        return r;
    }
    *out = b;
    return 0;
}

void mproc_barrier_free(mproc_barrier *b)
{
    mproc__shared_free(b, sizeof *b);
}

/* End the current round as broken (with the mutex held): everyone waiting
   in it, and every later caller until reset, gets -EPIPE. */
static void barrier_break(barrier_impl *m, bool sticky)
{
    if (sticky)
        atomic_store(&m->broken, 1);
    atomic_store(&m->dead_gen, atomic_load(&m->gen));
    atomic_store(&m->dead_any, 1);
    atomic_store(&m->count, 0);
    atomic_fetch_add(&m->gen, 1);
}

int mproc_barrier_wait(mproc_barrier *b, double timeout)
{
    if (!b || !mproc__timeout_ok(timeout))
        return -EINVAL;
    barrier_impl *m = (barrier_impl *)b;
    double deadline = mproc__deadline(timeout);
    int r = mproc__ilock(&m->m, deadline);
    if (r < 0)
        return r;
    if (r == 1) {
        /* Its last holder died in the middle of the bookkeeping. */
        barrier_break(m, true);
        pthread_mutex_unlock(&m->m);
        mproc__futex_wake(&m->gen, INT_MAX);
        return -EPIPE;
    }
    if (atomic_load(&m->broken)) {
        pthread_mutex_unlock(&m->m);
        return -EPIPE;
    }
    uint32_t idx = atomic_load(&m->count);
    uint32_t gen = atomic_load(&m->gen);
    if (idx + 1 == m->parties) {
        atomic_store(&m->count, 0);
        atomic_fetch_add(&m->gen, 1);
        pthread_mutex_unlock(&m->m);
        mproc__futex_wake(&m->gen, INT_MAX);
        return (int)idx;
    }
    atomic_store(&m->count, idx + 1);
    pthread_mutex_unlock(&m->m);
    while (atomic_load(&m->gen) == gen) {
        r = mproc__futex_wait(&m->gen, gen, deadline);
        if (r == -ETIMEDOUT) {
            int l = mproc__ilock(&m->m, INFINITY);
            bool mine = atomic_load(&m->gen) == gen;
            if (mine || l == 1)
                barrier_break(m, true);
            pthread_mutex_unlock(&m->m);
            mproc__futex_wake(&m->gen, INT_MAX);
            if (mine)
                return -ETIMEDOUT;
            break;
        }
        if (r < 0 && r != -EINTR)
            return r;
    }
    if (atomic_load(&m->dead_any) && atomic_load(&m->dead_gen) == gen)
        return -EPIPE;
    return (int)idx;
}

int mproc_barrier_abort(mproc_barrier *b)
{
    if (!b)
        return -EINVAL;
    barrier_impl *m = (barrier_impl *)b;
    mproc__ilock(&m->m, INFINITY);
    barrier_break(m, true);
    pthread_mutex_unlock(&m->m);
    mproc__futex_wake(&m->gen, INT_MAX);
    return 0;
}

int mproc_barrier_reset(mproc_barrier *b)
{
    if (!b)
        return -EINVAL;
    barrier_impl *m = (barrier_impl *)b;
    mproc__ilock(&m->m, INFINITY);
    if (atomic_load(&m->count) > 0)
        barrier_break(m, false);
    atomic_store(&m->broken, 0);
    pthread_mutex_unlock(&m->m);
    mproc__futex_wake(&m->gen, INT_MAX);
    return 0;
}

int mproc_barrier_parties(mproc_barrier *b)
{
    return b ? (int)((barrier_impl *)b)->parties : -EINVAL;
}

int mproc_barrier_n_waiting(mproc_barrier *b)
{
    return b ? (int)atomic_load(&((barrier_impl *)b)->count) : -EINVAL;
}

bool mproc_barrier_broken(mproc_barrier *b)
{
    return b && atomic_load(&((barrier_impl *)b)->broken) != 0;
}
