/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_dl.c: which task functions the workers can run: those in code that
 * was loaded when the pool was made. */
#include "pool_internal.h"

#include <link.h>
#include <stdlib.h>

typedef struct seg_acc {
    seg *v;
    size_t n, cap;
    unsigned long long adds;
    bool nomem;
} seg_acc;

static int seg_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    seg_acc *a = data;
    a->adds = info->dlpi_adds;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        if (mproc__grow(&a->v, &a->cap, a->n + 1, sizeof *a->v, 32) < 0) {
            a->nomem = true;
            return 1;
        }
        a->v[a->n].lo = info->dlpi_addr + ph->p_vaddr;
        a->v[a->n].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        a->n++;
    }
    return 0;
}

static int adds_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(unsigned long long *)data = info->dlpi_adds;
    return 1;
}

void mproc__pool_dl_snapshot(mproc_pool *p)
{
    seg_acc acc = { 0 };
    dl_iterate_phdr(seg_cb, &acc);
    if (acc.nomem) {
        /* Without the list every function passes, as before dlopen. */
        free(acc.v);
        return;
    }
    p->segs = acc.v;
    p->nsegs = acc.n;
    p->dl_adds = acc.adds;
}

/* The workers do not have code loaded after the pool was made. Costs one
   dl_iterate_phdr step unless libraries were loaded since. */
int mproc__pool_check_fn(mproc_pool *p, mproc_task_fn fn)
{
    /* The function the last task used passed already. */
    if (!p->segs || atomic_load(&p->fn_ok) == (uintptr_t)fn)
        return 0;
    unsigned long long adds = 0;
    dl_iterate_phdr(adds_cb, &adds);
    if (adds == p->dl_adds) {
        atomic_store(&p->fn_ok, (uintptr_t)fn);
        return 0;
    }
    uintptr_t a = (uintptr_t)fn;
    for (size_t i = 0; i < p->nsegs; i++) {
        if (a >= p->segs[i].lo && a < p->segs[i].hi) {
            atomic_store(&p->fn_ok, a);
            return 0;
        }
    }
    return -EFAULT;
}
