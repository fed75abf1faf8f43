/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_ext.c: the pool's side of its private interface for libmproc-mpi
 * (pool_ext.h): attaching a second consumer of the ring, and the few
 * accessors it needs. */
#include "pool_ext.h"

void mproc__pool_set_procs(mproc_pool *p, unsigned nprocs)
{
    pthread_mutex_lock(&p->mu);
    p->nprocs = nprocs ? nprocs : 1;
    pthread_mutex_unlock(&p->mu);
}

void mproc__pool_attach(mproc_pool *p, const mproc__pool_ext *ext)
{
    pthread_mutex_lock(&p->mu);
    p->ext = *ext;
    p->has_ext = true;
    pthread_mutex_unlock(&p->mu);
}

void mproc__pool_stop_ext(mproc_pool *p)
{
    if (!p->has_ext)
        return;
    p->has_ext = false;
    p->ext.stop(p->ext.ctx);
}

mproc__shared *mproc__pool_ring(mproc_pool *p, int *arena_fd)
{
    *arena_fd = p->arena_fd;
    return p->sh;
}

int mproc__pool_submit_raw(mproc_pool *p, mproc_task_fn fn, const void *arg, size_t arg_len,
                           const mproc__fill *fill, unsigned kind, uint64_t item_size,
                           uint64_t count, mproc_result **out)
{
    if (!p || !fn || !out || (!arg && !fill && arg_len) || (fill && arg_len <= MPROC__INLINE) ||
        (kind != TASK_APPLY && kind != TASK_CHUNK))
        return -EINVAL;
    task t = { .fn = fn, .arg = arg, .arg_len = arg_len, .kind = kind, .item_size = item_size,
               .count = count };
    if (fill) {
        t.fill = fill->fn;
        t.fill_ctx = fill->ctx;
    }
    return mproc__pool_submit_task(p, &t, out);
}

void mproc__pool_drop_waiting(mproc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    for (uint64_t pos = p->coll; p->sh && pos < p->tail; pos++) {
        /* The take decides against a worker claiming it now. */
        if (p->inflight[pos % MPROC__SLOTS] && mproc__task_take(p->sh, pos, OWNER_SUP))
            mproc__task_post(p->sh, pos, OWNER_SUP, -ECANCELED, 0, 0);
    }
    pthread_mutex_unlock(&p->mu);
}

void *mproc__ext_result_begin(mproc_pool *pool, mproc__slot *s, size_t len, int *err)
{
    *err = 0;
    s->res_off = 0;
    s->res_len = len;
    s->res_ext = -1;
    s->res_huge = 0;
    if (len <= MPROC__INLINE)
        return s->data;
    /* From the owner's lists, where the extents of results freed before
       wait populated: a fresh extent would cost a fault and a cleared page
       per 4 KiB written, more than the bytes themselves. */
    size_t span = mproc__res_span(len);
    uint64_t off;
    unsigned flags;
    int e = mproc__pool_ext_get(pool, span, &off, &flags);
    char *p = e < 0 ? NULL : mproc__arena_at(pool->sh, pool->arena_fd, off, mproc__ext_size(span), true);
    if (!p) {
        *err = e < 0 ? e : -ENOMEM;
        if (e == 0)
            mproc__pool_ext_put(pool, off, span, flags);
        s->res_len = 0;
        return NULL;
    }
    s->res_off = off;
    s->res_huge = (flags & EXT_HUGE) != 0;
    return p;
}

void mproc__ext_result_end(mproc__shared *sh, void *p, mproc__slot *s)
{
    if (!p || p == (void *)s->data)
        return;
    size_t len = (size_t)s->res_len;
    ((char *)p)[len] = 0;
    mproc__arena_done(sh, p, s->res_off, mproc__ext_size(mproc__res_span(len)));
}
