/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_arena.c: the owner's side of the arena: the window mapped once for
 * every process of the pool, and the size-class lists of extents that
 * carry large arguments (and recycle the one-off extents of results, and
 * the extents of results taken in exchange for arguments' that a worker
 * kept: ring.h), so that their pages stay populated from one task to the
 * next.
 *
 * DESIGN. Only the owner uses these lists (under ext_mu), so they need no
 * care about processes dying. The extents of tasks in flight are not on a
 * list; one comes back when its task is collected and is taken again by a
 * later submission. An idle extent keeps its pages while it was put back
 * within the last MPROC__EXT_AGE uses of the lists; older ones have their
 * pages punched out and wait, empty, on the cold lists, so that memory
 * follows the tasks of now, not of the past, and the arena's address space
 * is reused rather than spent by churn.
 *
 * Huge pages (ring.h, mproc__arena_collapse): an extent taken from the hot
 * list has been written before, so it is going round; the first time such
 * an extent is written again it is collapsed, and the owner drops its
 * mapping of every huge extent as soon as it is done with it (an argument
 * once written, a result once freed). The lists keep each extent's flag.
 */
#include "pool_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The window: as large as the system lets us map, from this down. */
#define WIN_MAX ((uint64_t)64 << 30)
#define WIN_MIN ((uint64_t)64 << 20)

/* The size of a PMD-mapped huge page, as the kernel says; 0 when it does
   not (no transparent huge pages), or says something unusable. */
static uint64_t hpage_size(void)
{
    char buf[32];
    int fd = open("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = mproc__read_full(fd, buf, sizeof buf - 1);
    mproc__close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    uint64_t page = mproc__page_round(1);
    if (v < page || v > WIN_MIN / 4 || (v & (v - 1)) != 0)
        return 0;
    return v;
}

void mproc__pool_window_map(mproc_pool *p)
{
    /* A huge page can map an extent only where the window's address and
       the arena's offsets agree modulo its size: the window starts on a
       huge-page boundary (every process has it at this address), carved
       out of a reservation that is one huge page larger. */
    uint64_t hpage = hpage_size();
    uint64_t slack = hpage ? hpage : 0;
    /* MAP_NORESERVE: address space only; pages are the memfd's, allocated
       on first touch. A limit on the address space (RLIMIT_AS) makes the
       larger sizes fail: then a smaller window, or none. */
    for (uint64_t size = WIN_MAX; size >= WIN_MIN; size /= 2) {
        char *r = mmap(NULL, size + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (r == MAP_FAILED)
            continue;
        char *base = slack ? (char *)(((uintptr_t)r + slack - 1) & ~(uintptr_t)(slack - 1)) : r;
        void *w = mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED,
                       p->arena_fd, 0);
        if (w == MAP_FAILED) {
            munmap(r, size + slack);
            continue;
        }
        if (base > r)
            munmap(r, (size_t)(base - r));
        if (r + size + slack > base + size)
            munmap(base + size, (size_t)(r + size + slack - (base + size)));
        p->win = w;
        p->win_size = size;
        p->hpage = hpage;
        return;
    }
}

void mproc__pool_window_unmap(mproc_pool *p)
{
    if (p->win)
        munmap(p->win, p->win_size);
    p->win = NULL;
    p->win_size = 0;
}

static unsigned ext_class(size_t need)
{
    size_t size = mproc__ext_size(need), page = mproc__page_round(1);
    unsigned c = 0;
    while ((page << c) < size && c < MPROC__EXT_CLASSES - 1)
        c++;
    return c;
}

static bool list_push(mproc__ext_list *l, uint64_t off, uint64_t used, unsigned flags)
{
    if (mproc__grow(&l->v, &l->cap, l->n + 1, sizeof *l->v, 8) < 0)
        return false;
    l->v[l->n++] = (mproc__ext_entry){ off, used, flags };
    return true;
}

/* Punches out the pages of the extents idle for too long. A list's oldest
   entry is at its bottom. */
static void cool_old(mproc_pool *p)
{
    for (unsigned c = 0; c < MPROC__EXT_CLASSES; c++) {
        mproc__ext_list *hot = &p->ext_hot[c];
        size_t old = 0;
        while (old < hot->n && hot->v[old].used + MPROC__EXT_AGE < p->ext_uses)
            old++;
        if (!old)
            continue;
        size_t size = mproc__page_round(1) << c;
        for (size_t i = 0; i < old; i++) {
            /* Its memory goes back to the system now; its range is reused
               later. One that no list can take only costs address space. */
            mproc__arena_release(p->arena_fd, hot->v[i].off, size);
            (void)list_push(&p->ext_cold[c], hot->v[i].off, 0, 0);
        }
        memmove(hot->v, hot->v + old, (hot->n - old) * sizeof *hot->v);
        hot->n -= old;
    }
}

int mproc__pool_ext_get(mproc_pool *p, size_t need, uint64_t *off, unsigned *flags)
{
    unsigned c = ext_class(need);
    int err = 0;
    *flags = 0;
    pthread_mutex_lock(&p->ext_mu);
    p->ext_uses++;
    mproc__ext_list *hot = &p->ext_hot[c], *cold = &p->ext_cold[c];
    if (hot->n) {
        hot->n--;
        *off = hot->v[hot->n].off;
        *flags = EXT_FILLED | hot->v[hot->n].flags;
    } else if (cold->n) {
        *off = cold->v[--cold->n].off;
    } else {
        err = mproc__arena_alloc(p->sh, mproc__ext_size(need), off);
    }
    pthread_mutex_unlock(&p->ext_mu);
    return err;
}

void mproc__pool_ext_put(mproc_pool *p, uint64_t off, size_t need, unsigned flags)
{
    unsigned c = ext_class(need);
    pthread_mutex_lock(&p->ext_mu);
    p->ext_uses++;
    if (!list_push(&p->ext_hot[c], off, p->ext_uses, flags & EXT_HUGE))
        mproc__arena_release(p->arena_fd, off, mproc__ext_size(need));
    cool_old(p);
    pthread_mutex_unlock(&p->ext_mu);
}

void mproc__pool_ext_lists_free(mproc_pool *p)
{
    for (unsigned c = 0; c < MPROC__EXT_CLASSES; c++) {
        free(p->ext_hot[c].v);
        free(p->ext_cold[c].v);
    }
}
