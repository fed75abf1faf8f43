/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_map.c: map, imap and imap_unordered over chunks of items, and
 * their iterators. */
#include "pool_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- map and iterators ----------------------------------------------------------- */

typedef struct chunk_view {
    uint64_t count;
    uint64_t uniform;       /* every item's length, when all returned 0 and were as long */
    bool ok;                /* the chunk ran: per-item outcomes are here */
    const int32_t *codes;
    const uint64_t *ends;
    const char *data;
} chunk_view;

struct mproc_map {
    unsigned gen; /* the fork generation of the pool's process */
    size_t n, chunksize, nchunks;
    mproc_result **chunks;
    chunk_view *views;
};

struct mproc_iter {
    mproc_map m;
    bool ordered;
    size_t next_chunk;  /* ordered: the chunk being given */
    size_t next_item;   /* within the chunk being given */
    size_t cur;         /* unordered: the chunk being given, or SIZE_MAX */
    size_t left;        /* unordered: chunks not yet given */
    size_t cursor;      /* unordered: where the last ready chunk was found */
    mproc_result **pending; /* unordered: chunks not yet given */
    size_t *pending_idx;
};

/* Reads a chunk's result (layout in pool_worker.c, run_chunk). */
static bool view_chunk(mproc_result *r, chunk_view *v)
{
    const char *d = r->data;
    if (r->code != 0 || r->len < 16 || !d)
        return false;
    uint64_t head[2];
    memcpy(head, d, sizeof head);
    v->count = head[0];
    v->ok = true;
    if (head[1] & MPROC__CHUNK_UNIFORM) {
        v->uniform = head[1] & ~MPROC__CHUNK_UNIFORM;
        v->data = d + 16;
        return true;
    }
    size_t codes_sz = ((size_t)v->count * sizeof(int32_t) + 7) & ~(size_t)7;
    v->codes = (const int32_t *)(d + 16);
    v->ends = (const uint64_t *)(d + 16 + codes_sz);
    v->data = d + 16 + codes_sz + (size_t)v->count * 8;
    return true;
}

static void item_of(const mproc_map *m, size_t i, mproc_item *it)
{
    size_t c = i / m->chunksize, j = i % m->chunksize;
    mproc_result *r = m->chunks[c];
    const chunk_view *v = &m->views[c];
    it->index = i;
    it->data = NULL;
    it->len = 0;
    if (!v->ok) {
        it->code = r->code;
        it->detail = mproc_result_code(r);
        return;
    }
    /* Each item's bytes are followed by their NUL (run_chunk). */
    if (!v->codes) {
        it->code = it->detail = 0;
        it->len = (size_t)v->uniform;
        it->data = v->data + j * mproc__chunk_stride(it->len);
        return;
    }
    int32_t rc = v->codes[j];
    uint64_t lo = j ? (v->ends[j - 1] + 7) & ~(uint64_t)7 : 0, hi = v->ends[j];
    it->code = rc ? MPROC_ETASK : 0;
    it->detail = rc;
    it->data = v->data + lo;
    it->len = (size_t)(hi - lo) - 1;
}

static size_t default_chunksize(mproc_pool *p, size_t n)
{
    /* Python: chunksize, extra = divmod(n, processes * 4); +1 if extra. */
    size_t d = (size_t)p->nprocs * 4;
    size_t c = n / d + (n % d ? 1 : 0);
    return c ? c : 1;
}

static void map_release(mproc_map *m)
{
    if (m->chunks)
        for (size_t i = 0; i < m->nchunks; i++)
            mproc_result_free(m->chunks[i]);
    free(m->chunks);
    free(m->views);
}

/* Submits every chunk of a map. */
static int map_start(mproc_pool *p, mproc_task_fn fn, const void *items, size_t item_size,
                     size_t n, size_t chunksize, mproc_map *m)
{
    memset(m, 0, sizeof *m);
    if (!p || !mproc__pool_here(p->gen) || !fn || (n && (!items || !item_size)))
        return -EINVAL;
    m->gen = p->gen;
    if (n && item_size > SIZE_MAX / n)
        return -ENOMEM;
    m->n = n;
    m->chunksize = chunksize ? chunksize : 1;
    m->nchunks = n ? (n - 1) / m->chunksize + 1 : 0;
    m->chunks = calloc(m->nchunks ? m->nchunks : 1, sizeof *m->chunks);
    m->views = calloc(m->nchunks ? m->nchunks : 1, sizeof *m->views);
    if (!m->chunks || !m->views) {
        map_release(m);
        return -ENOMEM;
    }
    if (n == 0) {
        /* Nothing to run, but the pool must be usable to say so. */
        pthread_mutex_lock(&p->mu);
        int err = p->sh ? mproc__pool_refuse(p) : -EINVAL;
        pthread_mutex_unlock(&p->mu);
        if (err < 0)
            map_release(m);
        return err;
    }
    for (size_t c = 0; c < m->nchunks; c++) {
        size_t first = c * m->chunksize;
        size_t cnt = n - first < m->chunksize ? n - first : m->chunksize;
        task t = { .fn = fn, .arg = (const char *)items + first * item_size,
                   .arg_len = cnt * item_size, .kind = TASK_CHUNK,
                   .item_size = item_size, .count = cnt };
        int err = mproc__pool_submit_task(p, &t, &m->chunks[c]);
        if (err < 0) {
            map_release(m);
            return err;
        }
    }
    return 0;
}

int mproc_pool_map(mproc_pool *pool, mproc_task_fn fn, const void *items, size_t item_size,
                   size_t n, size_t chunksize, mproc_map **out)
{
    if (!out || !pool)
        return -EINVAL;
    mproc_map *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int err = map_start(pool, fn, items, item_size, n, chunksize ? chunksize : default_chunksize(pool, n), m);
    if (err < 0) {
        free(m);
        return err;
    }
    for (size_t c = 0; c < m->nchunks; c++) {
        mproc_result_wait(m->chunks[c], -1);
        view_chunk(m->chunks[c], &m->views[c]);
    }
    *out = m;
    return 0;
}

size_t mproc_map_count(const mproc_map *m)
{
    return m && mproc__pool_here(m->gen) ? m->n : 0;
}

int mproc_map_get(const mproc_map *m, size_t i, const void **data, size_t *len)
{
    if (!m || !mproc__pool_here(m->gen) || i >= m->n)
        return -EINVAL;
    mproc_item it;
    item_of(m, i, &it);
    if (it.code == 0 || it.code == MPROC_ETASK) {
        if (data)
            *data = it.data;
        if (len)
            *len = it.len;
    }
    return it.code;
}

int mproc_map_error(const mproc_map *m, size_t *index)
{
    if (!m || !mproc__pool_here(m->gen))
        return -EINVAL;
    for (size_t c = 0; c < m->nchunks; c++) {
        const chunk_view *v = &m->views[c];
        if (!v->ok) {
            if (index)
                *index = c * m->chunksize;
            return m->chunks[c]->code;
        }
        if (!v->codes)
            continue;
        for (uint64_t j = 0; j < v->count; j++) {
            if (v->codes[j]) {
                if (index)
                    *index = c * m->chunksize + (size_t)j;
                return MPROC_ETASK;
            }
        }
    }
    return 0;
}

void mproc_map_free(mproc_map *m)
{
    if (!m || !mproc__pool_here(m->gen))
        return;
    map_release(m);
    free(m);
}

static int imap_new(mproc_pool *pool, mproc_task_fn fn, const void *items, size_t item_size,
                    size_t n, size_t chunksize, bool ordered, mproc_iter **out)
{
    if (!out || !pool)
        return -EINVAL;
    mproc_iter *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    int err = map_start(pool, fn, items, item_size, n, chunksize ? chunksize : 1, &it->m);
    if (err < 0) {
        free(it);
        return err;
    }
    it->ordered = ordered;
    it->cur = SIZE_MAX;
    if (!ordered) {
        it->pending = malloc((it->m.nchunks ? it->m.nchunks : 1) * sizeof *it->pending);
        it->pending_idx = malloc((it->m.nchunks ? it->m.nchunks : 1) * sizeof *it->pending_idx);
        if (!it->pending || !it->pending_idx) {
            mproc_iter_free(it);
            return -ENOMEM;
        }
        for (size_t c = 0; c < it->m.nchunks; c++) {
            it->pending[c] = it->m.chunks[c];
            it->pending_idx[c] = c;
        }
        it->left = it->m.nchunks;
    }
    *out = it;
    return 0;
}

int mproc_pool_imap(mproc_pool *pool, mproc_task_fn fn, const void *items, size_t item_size,
                    size_t n, size_t chunksize, mproc_iter **out)
{
    return imap_new(pool, fn, items, item_size, n, chunksize, true, out);
}

int mproc_pool_imap_unordered(mproc_pool *pool, mproc_task_fn fn, const void *items,
                              size_t item_size, size_t n, size_t chunksize, mproc_iter **out)
{
    return imap_new(pool, fn, items, item_size, n, chunksize, false, out);
}

/* Items of chunk c in it. */
static size_t chunk_items(const mproc_map *m, size_t c)
{
    size_t first = c * m->chunksize;
    return m->n - first < m->chunksize ? m->n - first : m->chunksize;
}

int mproc_iter_next(mproc_iter *it, double timeout, mproc_item *item)
{
    if (!it || !mproc__pool_here(it->m.gen) || !item || !mproc__timeout_ok(timeout))
        return -EINVAL;
    mproc_map *m = &it->m;
    if (it->ordered) {
        if (it->next_chunk >= m->nchunks)
            return 0;
        size_t c = it->next_chunk;
        if (it->next_item == 0) {
            int err = mproc_result_wait(m->chunks[c], timeout);
            if (err < 0)
                return err;
            view_chunk(m->chunks[c], &m->views[c]);
        }
        item_of(m, c * m->chunksize + it->next_item, item);
        if (++it->next_item >= chunk_items(m, c)) {
            it->next_item = 0;
            it->next_chunk++;
        }
        return 1;
    }
    if (it->cur == SIZE_MAX) {
        if (it->left == 0)
            return 0;
        /* Collect what is there, then look from where the last ready chunk
           was: chunks mostly finish in the order they were queued, so the
           next one is usually close, and the scan stays short. */
        size_t k = SIZE_MAX;
        mproc_result_ready(it->pending[it->cursor % it->left]);
        for (size_t j = 0; j < it->left && k == SIZE_MAX; j++) {
            size_t q = (it->cursor + j) % it->left;
            if (atomic_load(&it->pending[q]->ready))
                k = q;
        }
        if (k == SIZE_MAX) {
            int w = mproc_result_wait_any(it->pending, it->left, timeout);
            if (w < 0)
                return w;
            k = (size_t)w;
        }
        it->cursor = k;
        it->cur = it->pending_idx[k];
        it->pending[k] = it->pending[it->left - 1];
        it->pending_idx[k] = it->pending_idx[it->left - 1];
        it->left--;
        it->next_item = 0;
        view_chunk(m->chunks[it->cur], &m->views[it->cur]);
    }
    item_of(m, it->cur * m->chunksize + it->next_item, item);
    if (++it->next_item >= chunk_items(m, it->cur))
        it->cur = SIZE_MAX;
    return 1;
}

void mproc_iter_free(mproc_iter *it)
{
    if (!it || !mproc__pool_here(it->m.gen))
        return;
    map_release(&it->m);
    free(it->pending);
    free(it->pending_idx);
    free(it);
}
