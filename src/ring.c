/* ring.c: the pool's shared memory: its size, the process-shared futex
 * wait and wake under the rings, and the arena for large payloads. */
#include "ring.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

size_t mproc__shared_size(unsigned n)
{
    size_t head = sizeof(mproc__shared) + (size_t)n * sizeof(mproc__wrec);
    head = (head + 63) & ~(size_t)63;
    return mproc__page_round(head + (size_t)MPROC__SLOTS * MPROC__SLOT_SIZE);
}

void mproc__futex_wait(_Atomic uint32_t *addr, uint32_t val, double deadline)
{
    struct timespec ts, *tsp = NULL;
    if (!isinf(deadline)) {
        double left = deadline - mproc__now();
        if (left <= 0)
            return;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        tsp = &ts;
    }
    /* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. EINTR,
       EAGAIN (the word moved) and ETIMEDOUT all send the caller back to
       look at its condition again. */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, tsp, NULL, 0);
}

void mproc__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

void mproc__done_publish(mproc__shared *sh)
{
    atomic_fetch_add(&sh->done_seq, 1);
    if (atomic_load(&sh->done_sleepers) > 0)
        mproc__futex_wake(&sh->done_seq, INT_MAX);
}

void mproc__wake_worker_if_needed(mproc__shared *sh)
{
    unsigned words = (sh->nworkers + 63) / 64;
    uint64_t sleepers = 0;
    for (unsigned i = 0; i < words && !sleepers; i++)
        sleepers = atomic_load(&sh->sleeping[i]);
    if (!sleepers)
        return;
    uint64_t t = atomic_load(&sh->tail), h = atomic_load(&sh->head);
    uint64_t spinners = 0;
    for (unsigned i = 0; i < words; i++)
        spinners += (uint64_t)__builtin_popcountll(atomic_load(&sh->spinning[i]));
    if (t > h && t - h > spinners) {
        atomic_fetch_add(&sh->task_seq, 1);
        mproc__futex_wake(&sh->task_seq, 1);
    }
}

size_t mproc__page_round(size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (len + page - 1) & ~(page - 1);
}

int mproc__arena_alloc(mproc__shared *sh, size_t len, uint64_t *off)
{
    uint64_t size = mproc__page_round(len);
    if (size == 0 || size > MPROC__ARENA_SIZE)
        return -ENOMEM;
    uint64_t at = atomic_fetch_add(&sh->arena_next, size);
    if (at > MPROC__ARENA_SIZE - size)
        return -ENOMEM;
    *off = at;
    return 0;
}

void *mproc__arena_map(int fd, uint64_t off, size_t len, bool writable)
{
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    /* Every page of the range is about to be touched: one populating call
       costs far less than a fault per page. */
    void *p = mmap(NULL, len, prot, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);
    return p == MAP_FAILED ? NULL : p;
}

void mproc__arena_unmap(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

void mproc__arena_release(int fd, uint64_t off, size_t len)
{
    if (fd < 0 || len == 0)
        return;
    /* A hole frees the pages; the file keeps its size, so the offsets of
       every other range stay valid. */
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
              (off_t)mproc__page_round(len));
}
