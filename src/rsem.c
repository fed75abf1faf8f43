/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* rsem.c: the robust named counting semaphore, whose units come back when
 * their owner dies.
 *
 * DESIGN. A semaphore of N units is a named shared block of N slots, each a
 * robust process-shared mutex: holding a unit is holding a slot's mutex.
 * The C library puts every robust mutex a thread holds on that thread's
 * robust list, and the kernel walks the list when the thread ends (exit,
 * any signal, exec): each slot it held gets FUTEX_OWNER_DIED in its lock
 * word, and a waiter sleeping on that word is woken. A taker that finds
 * the owner-died mark takes the slot and marks it consistent on the spot:
 * a slot protects no state, so there is nothing to repair.
 *
 * Waiting for "any of N slots" is one futex_waitv on a generation word
 * (bumped by every release) and on the lock words of the held slots, each
 * with FUTEX_WAITERS set as the C library's own lock path sets it, so that
 * both the library's unlock and the kernel's owner-died handling wake us.
 * Where the lock word sits inside pthread_mutex_t is learnt once per
 * process from the kernel's robust list itself (get_robust_list after
 * locking a probe mutex: the list head names the mutex just locked, and
 * futex_offset leads to its word), so no C library layout is assumed.
 *
 * The name is counted by OFD read locks: each open handle holds a shared
 * lock on byte 0 of the block's file, which the kernel drops when the last
 * descriptor of that open file goes (close, death, exec). A closer opens
 * the file afresh, drops its own handle, and tries for an exclusive lock:
 * getting it means no handle is left, so it removes the name. An opener
 * that raced with that removal sees a link count of 0 and starts over.
 */
#include "ipc_internal.h"

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449 /* the same number on every architecture */
#endif
#define WAITV_MAX 128        /* FUTEX_WAITV_MAX */
#define WAITV_SIZE_U32 0x02u /* FUTEX2_SIZE_U32; not FUTEX2_PRIVATE: shared */
#define POLL_SLICE 0.05      /* seconds, where a death cannot wake us */

/* struct futex_waitv, declared here for kernel headers older than 5.16. */
typedef struct {
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
} waitv_entry;

typedef struct {
    pthread_mutex_t m;
} __attribute__((aligned(64))) rsem_slot;
_Static_assert(sizeof(rsem_slot) == 64, "one slot a cache line");

typedef struct {
    uint32_t count;
    _Atomic uint32_t gen;     /* futex word: bumped by every release */
    _Atomic uint32_t waiters; /* only decides whether a release wakes */
    _Atomic uint32_t deaths;  /* slots taken from dead owners, ever */
    unsigned char pad_[64 - 16];
    rsem_slot slot[]; /* count of them */
} rsem_hdr;
_Static_assert(sizeof(rsem_hdr) == 64, "rsem header layout");

struct mproc_rsem {
    mproc_shm *shm;
    rsem_hdr *h;
    char *name;
    uint32_t deaths; /* h->deaths when opened */
};

/* How long a closer waits for a dead owner's process to finish dying (see
   mproc_rsem_close), in steps of a millisecond. */
#define DYING_STEPS 100

/* ---- the lock word inside pthread_mutex_t (see DESIGN) ------------------- */

static long word_off = -1;
static pthread_once_t word_once = PTHREAD_ONCE_INIT;
static _Atomic bool waitv_missing; /* ENOSYS seen: kernel before 5.16 */

static uint32_t self_tid(void)
{
    return (uint32_t)syscall(SYS_gettid);
}

static void find_word(void)
{
    pthread_mutex_t m;
    if (mproc__rmutex_init(&m, false) < 0)
        return;
    if (pthread_mutex_lock(&m) == 0) {
        struct robust_list_head *head = NULL;
        size_t len = 0;
        if (syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head) {
            /* The low bit of an entry marks a PI mutex; it is not ours. */
            char *entry = (char *)((uintptr_t)head->list.next & ~(uintptr_t)1);
            char *w = entry + head->futex_offset;
            char *lo = (char *)&m, *hi = lo + sizeof m;
            if (w >= lo && w + sizeof(uint32_t) <= hi && (uintptr_t)w % 4 == 0 &&
                (*(volatile uint32_t *)w & FUTEX_TID_MASK) == self_tid())
                word_off = w - lo;
        }
        pthread_mutex_unlock(&m);
    }
    pthread_mutex_destroy(&m);
}

static _Atomic uint32_t *slot_word(rsem_hdr *h, unsigned i)
{
    return (_Atomic uint32_t *)((char *)&h->slot[i].m + word_off);
}

static bool slot_free(rsem_hdr *h, unsigned i)
{
    return (atomic_load(slot_word(h, i)) & FUTEX_TID_MASK) == 0;
}

/* ---- taking and waiting ---------------------------------------------------- */

/* Take any free slot, starting from one that depends on the caller so that
   takers spread over the slots. */
static bool try_take(rsem_hdr *h)
{
    unsigned n = h->count, start = self_tid() % n;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (start + k) % n;
        if (!slot_free(h, i))
            continue;
        int r = pthread_mutex_trylock(&h->slot[i].m);
        if (r == EOWNERDEAD) {
            /* The dead owner left nothing to repair: a slot guards no
               state. */
            r = pthread_mutex_consistent(&h->slot[i].m);
            assert(r == 0);
            (void)r;
            atomic_fetch_add(&h->deaths, 1);
            return true;
        }
        if (r == 0)
            return true;
    }
    return false;
}

/* Sleep until a release, an owner's death, or the deadline, unless the
   state already moved on from what the caller saw (gen g; for a taker
   (idle false), a free slot). 0: look again; -ETIMEDOUT. */
static int sleep_on(rsem_hdr *h, uint32_t g, bool idle, double deadline)
{
    waitv_entry w[WAITV_MAX];
    unsigned n = 0;
    bool unwatched = false;
    w[n++] = (waitv_entry){ .val = g, .uaddr = (uintptr_t)&h->gen, .flags = WAITV_SIZE_U32 };
    for (unsigned i = 0; i < h->count; i++) {
        _Atomic uint32_t *word = slot_word(h, i);
        uint32_t v = atomic_load(word);
        if ((v & FUTEX_TID_MASK) == 0) {
            if (!idle)
                return 0;
            continue;
        }
        if (n == WAITV_MAX) {
            unwatched = true;
            continue;
        }
        /* As the C library's lock path does: the owner's unlock, and the
           kernel at the owner's death, wake a sleeper only when this bit
           is set. */
        if (!(v & FUTEX_WAITERS) && !atomic_compare_exchange_strong(word, &v, v | FUTEX_WAITERS))
            return 0;
        w[n++] = (waitv_entry){ .val = v | FUTEX_WAITERS, .uaddr = (uintptr_t)word,
                                .flags = WAITV_SIZE_U32 };
    }
    double until = deadline;
    if (unwatched || atomic_load(&waitv_missing)) {
        double slice = mproc__now() + POLL_SLICE;
        until = slice < deadline ? slice : deadline;
    }
    if (atomic_load(&waitv_missing)) {
        int r = mproc__futex_wait(&h->gen, g, until);
        return r == -ETIMEDOUT && until < deadline ? 0 : r == -EINTR ? 0 : r;
    }
    struct timespec ts, *tsp = NULL;
    if (!isinf(until)) {
        if (mproc__now() >= until)
            return until < deadline ? 0 : -ETIMEDOUT;
        mproc__timespec(until, &ts);
        tsp = &ts;
    }
    long r = syscall(SYS_futex_waitv, w, n, 0, tsp, CLOCK_MONOTONIC);
    if (r >= 0 || errno == EAGAIN || errno == EINTR)
        return 0;
    if (errno == ENOSYS) {
        atomic_store(&waitv_missing, true);
        return 0;
    }
    if (errno == ETIMEDOUT)
        return mproc__now() >= deadline ? -ETIMEDOUT : 0;
    return mproc__err();
}

static int rsem_wait(mproc_rsem *s, double timeout, bool idle)
{
    if (!s || !mproc__timeout_ok(timeout))
        return -EINVAL;
    rsem_hdr *h = s->h;
    if (!idle && try_take(h))
        return 0;
    double deadline = mproc__deadline(timeout);
    for (;;) {
        /* Raised before the last look: a releaser frees its slot, bumps
           gen, then reads waiters (all sequentially consistent), so either
           it sees us or our look sees the freed slot or the new gen. */
        atomic_fetch_add(&h->waiters, 1);
        uint32_t g = atomic_load(&h->gen);
        int r = 0;
        bool done = idle ? mproc_rsem_value(s) == (int)h->count : try_take(h);
        if (!done)
            r = sleep_on(h, g, idle, deadline);
        atomic_fetch_sub(&h->waiters, 1);
        if (done)
            return 0;
        if (r == -ETIMEDOUT) {
            /* An owner-died wake-up (the kernel wakes one sleeper) may have
               come to us as we gave up: pass it on. */
            if (!idle && mproc_rsem_value(s) > 0 && atomic_load(&h->waiters) > 0) {
                atomic_fetch_add(&h->gen, 1);
                mproc__futex_wake(&h->gen, INT_MAX);
            }
            return -ETIMEDOUT;
        }
        if (r < 0)
            return r;
    }
}

/* ---- the public API ------------------------------------------------------ */

static size_t rsem_size(unsigned count)
{
    return sizeof(rsem_hdr) + (size_t)count * sizeof(rsem_slot);
}

static int init_slots(void *data, size_t size, void *arg)
{
    (void)size;
    rsem_hdr *h = data;
    h->count = *(unsigned *)arg;
    for (unsigned i = 0; i < h->count; i++) {
        int r = mproc__rmutex_init(&h->slot[i].m, false);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The OFD lock on byte 0 that counts open handles (see DESIGN). */
static int name_lock(int fd, short type, bool wait)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    for (;;) {
        if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
            return 0;
        if (errno != EINTR)
            return mproc__err();
    }
}

/* Open (or create) the block under name and count this handle on it. */
static int open_block(mproc_shm **out, const char *name, unsigned count)
{
    for (;;) {
        mproc_shm *b = NULL;
        int err = mproc__shm_open_name(&b, name, MPROC__SHM_MAGIC_RSEM);
        if (err == -ENOENT && count > 0) {
            err = mproc__shm_make(&b, name, rsem_size(count), NULL, MPROC__SHM_MAGIC_RSEM,
                                  init_slots, &count);
            if (err == -EEXIST)
                continue;
        }
        if (err < 0)
            return err;
        struct stat st;
        err = name_lock(mproc_shm_fd(b), F_RDLCK, true);
        if (err == 0 && fstat(mproc_shm_fd(b), &st) < 0)
            err = mproc__err();
        if (err < 0) {
            mproc_shm_free(b);
            return err;
        }
        if (st.st_nlink > 0) {
            *out = b;
            return 0;
        }
        /* The last closer removed the name as we opened it: start over,
           with a semaphore of our own. */
        mproc_shm_free(b);
    }
}

int mproc_rsem_open(mproc_rsem **out, const char *name, unsigned count)
{
    if (!out || !name || count > MPROC_RSEM_MAX)
        return -EINVAL;
    pthread_once(&word_once, find_word);
    if (word_off < 0)
        return -ENOSYS;
    int err = 0;
    mproc_rsem *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        err = -ENOMEM;
        goto out;
    }
    err = open_block(&s->shm, name, count);
    if (err < 0)
        goto out;
    s->h = mproc_shm_ptr(s->shm);
    s->deaths = atomic_load(&s->h->deaths);
    if (s->h->count < 1 || s->h->count > MPROC_RSEM_MAX ||
        mproc_shm_size(s->shm) < rsem_size(s->h->count)) {
        err = -EINVAL;
        goto out;
    }
    *out = s;
out:
    if (err < 0 && s) {
        /* Our handle goes without removing a name others may use. */
        mproc_shm_free(s->shm);
        free(s->name);
        free(s);
    }
    return err;
}

int mproc_rsem_acquire(mproc_rsem *s, double timeout)
{
    return rsem_wait(s, timeout, false);
}

int mproc_rsem_wait_idle(mproc_rsem *s, double timeout)
{
    return rsem_wait(s, timeout, true);
}

/* A slot the calling thread holds, or -1. */
static int own_slot(rsem_hdr *h)
{
    uint32_t tid = self_tid();
    for (unsigned i = 0; i < h->count; i++)
        if ((atomic_load(slot_word(h, i)) & FUTEX_TID_MASK) == tid)
            return (int)i;
    return -1;
}

int mproc_rsem_release(mproc_rsem *s)
{
    if (!s)
        return -EINVAL;
    rsem_hdr *h = s->h;
    int i = own_slot(h);
    if (i < 0)
        return -EPERM;
    int r = pthread_mutex_unlock(&h->slot[i].m);
    if (r)
        return -r;
    atomic_fetch_add(&h->gen, 1);
    if (atomic_load(&h->waiters) > 0)
        mproc__futex_wake(&h->gen, INT_MAX);
    return 0;
}

int mproc_rsem_value(mproc_rsem *s)
{
    if (!s)
        return -EINVAL;
    int n = 0;
    for (unsigned i = 0; i < s->h->count; i++)
        n += slot_free(s->h, i);
    return n;
}

int mproc_rsem_count(mproc_rsem *s)
{
    return s ? (int)s->h->count : -EINVAL;
}

/* Whether an owner died while we had the semaphore open, or died and its
   slot was not taken since. */
static bool saw_a_death(mproc_rsem *s)
{
    if (atomic_load(&s->h->deaths) != s->deaths)
        return true;
    for (unsigned i = 0; i < s->h->count; i++)
        if (atomic_load(slot_word(s->h, i)) & FUTEX_OWNER_DIED)
            return true;
    return false;
}

/* Whether a and b are descriptors of the same file. */
static bool same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

void mproc_rsem_close(mproc_rsem *s)
{
    if (!s)
        return;
    /* The calling thread's units first: a robust mutex must leave the
       thread's robust list before its memory is unmapped. */
    while (mproc_rsem_release(s) == 0) {
    }
    /* A fresh open file of the same name, whose exclusive lock succeeds
       only once our handle's shared lock, and everyone else's, is gone. */
    mproc_shm *probe = NULL;
    if (mproc__shm_open_name(&probe, s->name, MPROC__SHM_MAGIC_RSEM) == 0 &&
        !same_file(mproc_shm_fd(probe), mproc_shm_fd(s->shm))) {
        mproc_shm_free(probe);
        probe = NULL;
    }
    /* Someone alive holds or waits for a unit: they will close later. */
    bool idle = mproc_rsem_value(s) == (int)s->h->count && atomic_load(&s->h->waiters) == 0;
    bool death = probe && idle && saw_a_death(s);
    mproc_shm_free(s->shm);
    /* A process gives back its units (the kernel walks its robust list)
       before it closes its files, so the handle of an owner that has just
       died may still hold its shared lock for a moment: after a death,
       with nobody left holding or waiting, give it that moment. */
    bool last = probe && name_lock(mproc_shm_fd(probe), F_WRLCK, false) == 0;
    for (int k = 0; probe && !last && death && k < DYING_STEPS; k++) {
        mproc__sleep(0.001);
        last = name_lock(mproc_shm_fd(probe), F_WRLCK, false) == 0;
    }
    if (last)
        (void)mproc_shm_unlink(s->name); /* ENOENT: an unlink beat us to it */
    mproc_shm_free(probe);
    free(s->name);
    free(s);
}

int mproc_rsem_unlink(const char *name)
{
    return mproc_shm_unlink(name);
}
