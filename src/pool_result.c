/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_result.c: result objects (references, settling), the result API
 * (waits, outcomes) and the callback thread. */
#include "pool_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- result objects ---------------------------------------------------------------- */

void mproc__result_release_bytes(mproc_pool *p, mproc_result *r)
{
    if (!r->in_arena) {
        free(r->data);
        r->data = NULL;
        return;
    }
    size_t span = mproc__res_span(r->len);
    if (r->data && r->unmap)
        munmap(r->data, span);
    if (p->sh && r->ext >= 0) {
        /* Back to the worker place that lent it, populated; or, when the
           place kept the task's argument extent in exchange, to the owner's
           lists, its record left empty. Its size and flags are fixed while
           it is lent. Nobody reads the result here any more: a huge-page
           extent leaves the owner's RSS first (ring.h). */
        mproc__ext *e = &p->sh->w[r->ext_place].ext[r->ext];
        uint64_t lent = mproc__ext_word(r->off, EXT_LENT);
        uint64_t c = e->cap;
        size_t cap = mproc__ext_cap(c);
        if (r->data && !r->unmap)
            mproc__arena_drop(p->sh, r->data, r->off, cap, c & EXT_HUGE);
        if (!r->swap)
            atomic_compare_exchange_strong(&e->word, &lent, mproc__ext_word(r->off, EXT_FREE));
        else if (atomic_compare_exchange_strong(&e->word, &lent, 0))
            mproc__pool_ext_put(p, r->off, cap, (unsigned)(c & EXT_HUGE));
    } else if (p->sh) {
        if (r->data && !r->unmap)
            mproc__arena_drop(p->sh, r->data, r->off, mproc__ext_size(span), r->res_huge);
        mproc__pool_ext_put(p, r->off, span, r->res_huge ? EXT_HUGE : 0);
    }
    r->data = NULL;
    r->in_arena = false;
}

void mproc__result_drop(mproc_result *r, bool locked)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    mproc_pool *p = r->pool;
    if (locked) {
        mproc__result_release_bytes(p, r);
    } else {
        pthread_mutex_lock(&p->mu);
        mproc__result_release_bytes(p, r);
        pthread_mutex_unlock(&p->mu);
    }
    free(r);
    /* Under the mutex the pool has another reference: the caller's. */
    mproc__pool_unref(p);
}

/* Queues r for the callback thread. With the pool's mutex held. */
static void cbq_push(mproc_pool *p, mproc_result *r)
{
    r->cb_next = NULL;
    if (p->cbq_tail)
        p->cbq_tail->cb_next = r;
    else
        p->cbq_head = r;
    p->cbq_tail = r;
}

/* Marks r ready; hands it to the callback thread or drops the pool's
   reference. With the pool's mutex held. */
void mproc__result_settle(mproc_pool *p, mproc_result *r)
{
    atomic_store(&r->ready, true);
    if (r->has_cb) {
        p->cb_inflight--;
        if (!atomic_load(&r->user_freed)) {
            cbq_push(p, r);
            pthread_cond_broadcast(&p->cv);
            return; /* the queue keeps the pool's reference */
        }
    }
    if (atomic_load(&r->user_freed))
        mproc__result_release_bytes(p, r);
    mproc__result_drop(r, true);
}

mproc_result *mproc__result_new(mproc_pool *p)
{
    mproc_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pool = p;
    atomic_init(&r->refs, 2);
    atomic_fetch_add(&p->refs, 1);
    return r;
}

void mproc__result_discard(mproc_result *r)
{
    mproc_pool *p = r->pool;
    free(r);
    mproc__pool_unref(p);
}

/* ---- the result API ---------------------------------------------------------------- */

int mproc_result_wait(mproc_result *r, double timeout)
{
    if (!r || !mproc__pool_here(r->pool->gen) || !mproc__timeout_ok(timeout))
        return -EINVAL;
    if (atomic_load(&r->ready))
        return 0;
    mproc_pool *p = r->pool;
    double deadline = mproc__deadline(timeout);
    int err = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        mproc__pool_collect(p);
        if (atomic_load(&r->ready))
            break;
        if (mproc__now() >= deadline || !p->sh) {
            err = -ETIMEDOUT;
            break;
        }
        mproc__pool_wait_progress(p, deadline);
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

bool mproc_result_ready(mproc_result *r)
{
    if (!r || !mproc__pool_here(r->pool->gen))
        return false;
    if (atomic_load(&r->ready))
        return true;
    mproc_pool *p = r->pool;
    /* Collect what is there, without waiting for a busy collector. */
    if (pthread_mutex_trylock(&p->mu) == 0) {
        mproc__pool_collect(p);
        pthread_mutex_unlock(&p->mu);
    }
    return atomic_load(&r->ready);
}

int mproc_result_get(mproc_result *r, double timeout, const void **data, size_t *len)
{
    int err = mproc_result_wait(r, timeout);
    if (err < 0)
        return err;
    if (r->code == 0 || r->code == MPROC_ETASK) {
        if (data)
            *data = r->data ? r->data : "";
        if (len)
            *len = r->len;
    }
    return r->code;
}

int mproc_result_code(const mproc_result *r)
{
    if (r && !mproc__pool_here(r->pool->gen))
        return -EINVAL;
    if (!r || !atomic_load(&r->ready))
        return 0;
    if (r->code == MPROC_ETASK || (r->code == MPROC_EWORKER && r->sig == 0))
        return r->detail;
    return 0;
}

int mproc_result_signal(const mproc_result *r)
{
    if (r && !mproc__pool_here(r->pool->gen))
        return -EINVAL;
    if (!r || !atomic_load(&r->ready))
        return 0;
    return r->code == MPROC_EWORKER || r->code == MPROC_ETASKTIMEOUT ? r->sig : 0;
}

void mproc_result_free(mproc_result *r)
{
    if (!r || !mproc__pool_here(r->pool->gen))
        return;
    atomic_store(&r->user_freed, true);
    mproc__result_drop(r, false);
}

int mproc_result_wait_any(mproc_result *const *rs, size_t n, double timeout)
{
    if (!rs || n == 0 || !mproc__timeout_ok(timeout))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!rs[i] || rs[i]->pool != rs[0]->pool)
            return -EINVAL;
    if (!mproc__pool_here(rs[0]->pool->gen))
        return -EINVAL;
    mproc_pool *p = rs[0]->pool;
    double deadline = mproc__deadline(timeout);
    int found = -ETIMEDOUT;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        mproc__pool_collect(p);
        for (size_t i = 0; i < n && found < 0; i++)
            if (atomic_load(&rs[i]->ready))
                found = i > INT_MAX ? INT_MAX : (int)i;
        if (found >= 0 || mproc__now() >= deadline || !p->sh)
            break;
        mproc__pool_wait_progress(p, deadline);
    }
    pthread_mutex_unlock(&p->mu);
    return found;
}

/* ---- callbacks --------------------------------------------------------------------- */

static void *cb_main(void *arg)
{
    mproc_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        mproc_result *r = p->cbq_head;
        if (r) {
            p->cbq_head = r->cb_next;
            if (!p->cbq_head)
                p->cbq_tail = NULL;
            p->cb_busy = true;
            pthread_mutex_unlock(&p->mu);
            if (!atomic_load(&r->user_freed)) {
                mproc_result_cb fn = r->code == 0 ? r->on_ok : r->on_err;
                if (fn)
                    fn(r, r->cookie);
            }
            mproc__result_drop(r, false);
            pthread_mutex_lock(&p->mu);
            p->cb_busy = false;
            if (!p->cbq_head)
                pthread_cond_broadcast(&p->cv); /* for mproc__pool_wait_callbacks */
            continue;
        }
        if (p->cb_stop)
            break;
        if (p->cb_inflight > 0 && p->sh) {
            /* Outcomes with callbacks come even when nobody waits: this
               thread collects them. */
            mproc__pool_collect(p);
            if (!p->cbq_head && p->cb_inflight > 0)
                mproc__pool_wait_progress(p, INFINITY);
            continue;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    mproc__pool_unref(p);
    return NULL;
}

int mproc__pool_cb_start(mproc_pool *p)
{
    if (p->cb_started || p->cb_stop)
        return 0;
    sigset_t old;
    mproc__block_all(&old);
    atomic_fetch_add(&p->refs, 1);
    int e = pthread_create(&p->cb_thread, NULL, cb_main, p);
    mproc__restore_mask(&old);
    if (e) {
        atomic_fetch_sub(&p->refs, 1);
        return -EAGAIN;
    }
    p->cb_started = true;
    return 0;
}

void mproc__pool_wait_callbacks(mproc_pool *p)
{
    /* A callback that joins would wait for itself. */
    if (!p->cb_started || pthread_equal(p->cb_thread, pthread_self()))
        return;
    while (p->cbq_head || p->cb_busy)
        pthread_cond_wait(&p->cv, &p->mu);
}

int mproc_result_on_ready(mproc_result *r, mproc_result_cb on_success, mproc_result_cb on_error,
                          void *cookie)
{
    if (!r || !mproc__pool_here(r->pool->gen))
        return -EINVAL;
    mproc_pool *p = r->pool;
    int err = 0;
    pthread_mutex_lock(&p->mu);
    if (r->has_cb) {
        err = -EBUSY;
        goto out;
    }
    if (p->freed) {
        /* The pool is gone, so r is ready (-ECANCELED or an outcome) and
           no thread of the pool's is left to run the callback: run it
           here, now. */
        r->has_cb = true;
        pthread_mutex_unlock(&p->mu);
        mproc_result_cb fn = r->code == 0 ? on_success : on_error;
        if (fn)
            fn(r, cookie);
        return 0;
    }
    if ((err = mproc__pool_cb_start(p)) < 0)
        goto out;
    r->on_ok = on_success;
    r->on_err = on_error;
    r->cookie = cookie;
    r->has_cb = true;
    if (atomic_load(&r->ready)) {
        atomic_fetch_add(&r->refs, 1);
        cbq_push(p, r);
    } else {
        p->cb_inflight++;
    }
    pthread_cond_broadcast(&p->cv);
out:
    pthread_mutex_unlock(&p->mu);
    return err;
}
