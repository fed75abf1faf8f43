/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* ring.c: the pool's shared memory: its size, the
 * publishing of completions, and the arena for large payloads. */
#include "pool_ext.h"

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

void mproc__done_publish(mproc__shared *sh)
{
    atomic_fetch_add(&sh->done_seq, 1);
    /* One wake per sleep, not one per completion: a sleeper that is slow to
       run would otherwise cost a system call for every task meanwhile. */
    if (atomic_load(&sh->done_wake) && atomic_exchange(&sh->done_wake, 0))
        mproc__futex_wake(&sh->done_seq, INT_MAX);
}

bool mproc__task_take(mproc__shared *sh, uint64_t pos, unsigned owner)
{
    mproc__slot *s = mproc__slot_at(sh, pos);
    uint64_t v = mproc__word(pos, 0, SLOT_READY);
    return atomic_compare_exchange_strong(&s->word, &v, mproc__word(pos, owner, SLOT_RUNNING));
}

int mproc__task_claim(mproc__shared *sh, unsigned owner, uint64_t *pos)
{
    uint64_t h = atomic_load(&sh->head);
    if (h >= atomic_load(&sh->tail))
        return 0;
    mproc__slot *s = mproc__slot_at(sh, h);
    uint64_t v = atomic_load(&s->word);
    if (v == mproc__word(h, 0, SLOT_READY) && mproc__task_take(sh, h, owner)) {
        uint64_t hh = h;
        atomic_compare_exchange_strong(&sh->head, &hh, h + 1);
        *pos = h;
        return 1;
    }
    v = atomic_load(&s->word);
    if (mproc__word_pos(v) >= h) {
        /* Claimed by someone who has not moved the head yet (or died
           before it could): move it for them. */
        uint64_t hh = h;
        atomic_compare_exchange_strong(&sh->head, &hh, h + 1);
    } else {
        mproc__cpu_relax();
    }
    return -EAGAIN;
}

void mproc__task_post(mproc__shared *sh, uint64_t pos, unsigned owner, int code, int detail,
                      int sig)
{
    mproc__slot *s = mproc__slot_at(sh, pos);
    s->code = code;
    s->detail = detail;
    s->sig = sig;
    atomic_store(&s->word, mproc__word(pos, owner, SLOT_DONE));
    mproc__done_publish(sh);
}

static void wake_place(mproc__shared *sh, unsigned place)
{
    atomic_fetch_add(&sh->w[place].futex, 1);
    mproc__futex_wake(&sh->w[place].futex, 1);
}

void mproc__wake_worker_if_needed(mproc__shared *sh)
{
    unsigned words = (sh->nworkers + 63) / 64;
    uint64_t any = 0;
    for (unsigned i = 0; i < words && !any; i++)
        any = atomic_load(&sh->sleeping[i]);
    if (!any)
        return;
    uint64_t t = atomic_load(&sh->tail), h = atomic_load(&sh->head);
    uint64_t spinners = 0;
    for (unsigned i = 0; i < words; i++)
        spinners += (uint64_t)__builtin_popcountll(atomic_load(&sh->spinning[i]));
    if (t <= h || t - h <= spinners)
        return;
    /* Take one sleeper's bit, then wake that one: a second waker sees the
       bit gone and does not wake it again. */
    for (unsigned i = 0; i < words; i++) {
        uint64_t m = atomic_load(&sh->sleeping[i]);
        while (m) {
            uint64_t b = m & -m;
            if (atomic_fetch_and(&sh->sleeping[i], ~b) & b) {
                wake_place(sh, i * 64 + (unsigned)__builtin_ctzll(b));
                return;
            }
            m &= ~b;
        }
    }
}

void mproc__wake_all_workers(mproc__shared *sh)
{
    for (unsigned i = 0; i < sh->nworkers; i++)
        wake_place(sh, i);
}

size_t mproc__page_round(size_t len)
{
    /* Asked once: several extents' sizes are worked out for every task. */
    static _Atomic size_t page_size;
    size_t page = atomic_load_explicit(&page_size, memory_order_relaxed);
    if (!page) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&page_size, page, memory_order_relaxed);
    }
    return (len + page - 1) & ~(page - 1);
}

int mproc__arena_alloc(mproc__shared *sh, size_t len, uint64_t *off)
{
    uint64_t size = mproc__page_round(len);
    if (size == 0 || size > MPROC__ARENA_SIZE)
        return -ENOMEM;
    /* One swap moves the bump pointer past the aligned extent: a process
       dying anywhere in here leaves the arena as it was, or the extent
       spent. */
    uint64_t align = sh->hpage && size >= sh->hpage ? sh->hpage : 1;
    uint64_t at = atomic_load(&sh->arena_next), start;
    do {
        start = (at + align - 1) & ~(align - 1);
        if (start < at || start > MPROC__ARENA_SIZE - size)
            return -ENOMEM;
    } while (!atomic_compare_exchange_weak(&sh->arena_next, &at, start + size));
    *off = start;
    return 0;
}

/* The PMD's value everywhere; older headers lack it. */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

static bool huge_class(const mproc__shared *sh, uint64_t off, size_t ext)
{
    return sh->hpage && ext >= sh->hpage && (off & (sh->hpage - 1)) == 0 &&
           mproc__arena_in_window(sh, off, ext);
}

bool mproc__arena_collapse(mproc__shared *sh, void *p, uint64_t off, size_t ext, size_t filled)
{
    if (!filled || !atomic_load_explicit(&sh->huge, memory_order_relaxed) ||
        !huge_class(sh, off, ext))
        return false;
    /* Every huge page of the range must hold a written byte already: the
       kernel refuses (EINVAL) a range with one it has no page for. */
    size_t len = (filled + sh->hpage - 1) & ~(size_t)(sh->hpage - 1);
    if (len > ext)
        len = ext;
    /* EAGAIN: a page was busy for a moment; try again a little. */
    for (int i = 0; i < 3; i++) {
        if (madvise(p, len, MADV_COLLAPSE) == 0)
            return true;
        if (errno != EAGAIN)
            break;
    }
    atomic_store(&sh->huge, 0);
    return false;
}

uint64_t mproc__arena_written(mproc__shared *sh, void *p, uint64_t off, size_t ext, size_t len,
                              uint64_t flags)
{
    if ((flags & (EXT_FILLED | EXT_HUGE)) == EXT_FILLED && mproc__arena_collapse(sh, p, off, ext, len))
        flags |= EXT_HUGE;
    mproc__arena_drop(sh, p, off, ext, flags & EXT_HUGE);
    return flags | EXT_FILLED;
}

void mproc__arena_drop(const mproc__shared *sh, void *p, uint64_t off, size_t ext, bool huge)
{
    /* Only for huge pages: dropping 4 KiB ones costs more than it saves.
       DONTNEED on a MAP_SHARED mapping of the memfd never loses a byte:
       the next access maps the arena's page again. Only where workers map
       the arena too: an owner alone (a pool whose tasks only an extension
       runs, rank 0 of libmproc-mpi) maps each page once whatever it does,
       while each drop flushes the TLB of every CPU its threads ran on (on
       2 CPUs, 1 MiB echoes over MPI ran 15% slower for it). */
    if (huge && p && sh->nworkers > 0 && huge_class(sh, off, ext))
        (void)madvise(p, ext, MADV_DONTNEED);
}

bool mproc__arena_in_window(const mproc__shared *sh, uint64_t off, size_t len)
{
    return off < sh->win_size && len <= sh->win_size - off;
}

void *mproc__arena_at(const mproc__shared *sh, int fd, uint64_t off, size_t len, bool writable)
{
    if (mproc__arena_in_window(sh, off, len))
        return sh->win + off;
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    /* Every page of the range is about to be touched: one populating call
       costs far less than a fault per page. */
    void *p = mmap(NULL, len, prot, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);
    return p == MAP_FAILED ? NULL : p;
}

void mproc__arena_done(const mproc__shared *sh, void *p, uint64_t off, size_t len)
{
    if (p && !mproc__arena_in_window(sh, off, len))
        munmap(p, len);
}

size_t mproc__ext_size(size_t need)
{
    size_t size = mproc__page_round(need ? need : 1);
    size_t page = mproc__page_round(1);
    size_t c = page;
    while (c < size && c <= SIZE_MAX / 2)
        c *= 2;
    return c < size ? size : c;
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
