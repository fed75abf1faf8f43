/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_out.c: a task's output (mproc_out_write, mproc_out_printf) and the
 * result extents of a worker place that large outputs are written into:
 * taking, lending, and giving back their pages when idle.
 *
 * Huge pages (ring.h, mproc__arena_collapse): a record's extent that is
 * written again (EXT_FILLED) is collapsed once the result is in it, and a
 * worker drops its mapping of a huge extent as soon as it is done with it
 * (a result once lent, an argument once read: pool_worker.c), so that its
 * RSS holds the extents of the task it runs, not of every task that went
 * round.
 */
#include "pool_worker.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Gives back the pages of the place's free extents that no task has
   used for a while (MPROC__EXT_AGE). The owner moves only LENT extents: a
   free one is this worker's. */
static void trim_idle(mproc_out *o)
{
    mproc__wrec *rec = &o->sh->w[o->place];
    /* Ages are counted in hundreds of uses: a look every 16 is soon enough. */
    if (rec->ext_uses % 16)
        return;
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        mproc__ext *e = &rec->ext[i];
        uint64_t w = atomic_load(&e->word);
        if (mproc__ext_state(w) != EXT_FREE || (e->cap & EXT_PUNCHED) ||
            e->used + MPROC__EXT_AGE >= rec->ext_uses)
            continue;
        mproc__arena_release(o->arena_fd, mproc__ext_off(w), mproc__ext_cap(e->cap));
        e->cap = mproc__ext_cap(e->cap) | EXT_PUNCHED; /* empty: neither filled nor huge */
    }
}

/* Takes an extent of at least need bytes for this worker's output, marked
   OUT: the smallest free one of the place that fits; else a new one, in an
   empty record or in place of a free one too small (its pages punched out,
   its range left behind); else a one-off that no record keeps (*k = -1). */
int mproc__out_ext_take(mproc_out *o, size_t need, int *k, uint64_t *off, size_t *cap)
{
    mproc__ext *e = o->sh->w[o->place].ext;
    int fit = -1, empty = -1, small = -1;
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        unsigned st = mproc__ext_state(atomic_load(&e[i].word));
        if (st == EXT_FREE && mproc__ext_cap(e[i].cap) >= need) {
            /* Of the same size, the one used last: extents are taken as
               from a stack, so one left idle for MPROC__EXT_AGE uses was
               beyond what the tasks of that while needed at once, and
               trim_idle gives back only such ones. */
            uint64_t c = mproc__ext_cap(e[i].cap), fc = fit < 0 ? 0 : mproc__ext_cap(e[fit].cap);
            if (fit < 0 || c < fc || (c == fc && e[i].used > e[fit].used))
                fit = i;
        } else if (st == EXT_FREE) {
            small = i;
        } else if (st == EXT_EMPTY && empty < 0) {
            empty = i;
        }
    }
    if (fit >= 0) {
        *k = fit;
        *off = mproc__ext_off(atomic_load(&e[fit].word));
        e[fit].cap &= ~EXT_PUNCHED; /* in use: populated again */
        e[fit].used = ++o->sh->w[o->place].ext_uses;
        *cap = mproc__ext_cap(e[fit].cap);
        atomic_store(&e[fit].word, mproc__ext_word(*off, EXT_OUT));
        trim_idle(o);
        return 0;
    }
    size_t size = mproc__ext_size(need);
    int err = mproc__arena_alloc(o->sh, size, off);
    if (err < 0)
        return err;
    *cap = size;
    *k = empty >= 0 ? empty : small;
    if (*k >= 0) {
        /* Emptied first: a worker killed in between leaves an empty record,
           never one whose size belongs to another range. */
        uint64_t old = atomic_exchange(&e[*k].word, 0);
        if (*k == small)
            mproc__arena_release(o->arena_fd, mproc__ext_off(old), mproc__ext_cap(e[*k].cap));
        e[*k].cap = size;
        e[*k].used = ++o->sh->w[o->place].ext_uses;
        atomic_store(&e[*k].word, mproc__ext_word(*off, EXT_OUT));
    }
    trim_idle(o);
    return 0;
}

/* The worker is done with an OUT extent it did not lend. */
void mproc__out_ext_drop(mproc_out *o, int k, uint64_t off, size_t cap)
{
    if (k >= 0)
        atomic_store(&o->sh->w[o->place].ext[k].word, mproc__ext_word(off, EXT_FREE));
    else
        mproc__arena_release(o->arena_fd, off, cap);
}

/* The worker has written len bytes into the OUT extent (k, off) at p and
   touches it no more: collapsed when it is written for the second time,
   then dropped from this process when it is in huge pages (ring.h). */
static void out_ext_written(mproc_out *o, int k, uint64_t off, char *p, size_t len, size_t cap)
{
    if (k < 0)
        return; /* a one-off, used once */
    uint64_t *c = &o->sh->w[o->place].ext[k].cap;
    *c = mproc__ext_cap(*c) |
         mproc__arena_written(o->sh, p, off, cap, len, *c & (EXT_FILLED | EXT_HUGE));
}

/* Records in slot s that its result is len bytes in the OUT extent (k,
   off) at p, NUL after them, and lends the extent to the owner. The slot
   says it first, so that the supervisor can give the extent back if this
   worker dies before the outcome is posted. */
void mproc__out_ext_lend(mproc_out *o, mproc__slot *s, int k, uint64_t off, char *p, size_t len,
                         size_t cap)
{
    p[len] = 0;
    /* Before the owner can see the extent: its flags are fixed while it is
       lent. */
    out_ext_written(o, k, off, p, len + 1, cap);
    s->res_off = off;
    s->res_len = len;
    s->res_ext = k;
    if (k >= 0)
        atomic_store(&o->sh->w[o->place].ext[k].word, mproc__ext_word(off, EXT_LENT));
    mproc__arena_done(o->sh, p, off, cap);
}

void mproc__out_keep_arg(mproc_out *o, mproc__slot *s)
{
    if (s->arg_len <= MPROC__INLINE || s->res_len <= MPROC__INLINE || s->res_ext < 0 ||
        s->res_ext >= MPROC__PLACE_EXTS)
        return;
    mproc__ext *e = o->sh->w[o->place].ext;
    size_t size = mproc__ext_size(mproc__res_span(s->arg_len));
    if (mproc__ext_cap(e[s->res_ext].cap) != size)
        return;
    /* Only this worker fills an empty record (the owner empties lent ones,
       the supervisor frees a dead worker's). */
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        if (mproc__ext_state(atomic_load(&e[i].word)) != EXT_EMPTY)
            continue;
        /* Said first: a worker killed before the record is written loses
           the extent (its pages stay until the pool is freed), and never
           leaves it to both the owner and the place. */
        s->arg_kept = 1;
        e[i].cap = size | EXT_FILLED | (s->arg_huge ? EXT_HUGE : 0);
        e[i].used = ++o->sh->w[o->place].ext_uses;
        atomic_store(&e[i].word, mproc__ext_word(s->arg_off, EXT_FREE));
        return;
    }
}

/* Back to the private buffer from an alias: nothing of the argument is
   the output any more. */
static void out_unalias(mproc_out *out)
{
    out->alias = false;
    out->buf = out->priv;
    out->cap = out->priv_cap;
}

void mproc__out_start(mproc_out *out)
{
    out->len = 0;
    out->failed = false;
    /* An alias outlives its task only when the copy out failed. */
    if (out->alias)
        out_unalias(out);
}

/* Room for extra more bytes after the result's len. */
int mproc__out_reserve(mproc_out *out, size_t extra)
{
    if (extra > SIZE_MAX - 1 - out->len)
        return -ENOMEM;
    size_t need = out->len + extra;
    if (need <= out->cap)
        return 0;
    if (need <= MPROC__INLINE) {
        /* The private buffer holds exactly what fits in a slot: more goes
           to an extent. */
        size_t cap = MPROC__INLINE;
        char *b = realloc(out->priv, cap);
        if (!b) {
            out->failed = true;
            return -ENOMEM;
        }
        out->buf = out->priv = b;
        out->cap = out->priv_cap = cap;
        return 0;
    }
    int k;
    uint64_t off;
    size_t cap;
    int err = mproc__out_ext_take(out, need + 1, &k, &off, &cap);
    char *b = err < 0 ? NULL : mproc__arena_at(out->sh, out->arena_fd, off, cap, true);
    if (!b) {
        if (err == 0)
            mproc__out_ext_drop(out, k, off, cap);
        out->failed = true;
        return -ENOMEM;
    }
    /* The bytes so far move: from the private buffer, the smaller extent,
       or the argument an alias is (never written to: it is copied first). */
    if (out->len)
        memcpy(b, out->buf, out->len);
    out->alias = false;
    if (out->ext != MPROC__NO_EXT) {
        out_ext_written(out, out->ext, out->off, out->buf, out->len, out->ext_cap);
        mproc__arena_done(out->sh, out->buf, out->off, out->ext_cap);
        mproc__out_ext_drop(out, out->ext, out->off, out->ext_cap);
    }
    out->buf = b;
    out->cap = cap - 1;
    out->ext = k;
    out->off = off;
    out->ext_cap = cap;
    return 0;
}

/* Puts the task's output in slot s as its result: inline, or by lending
   the extent it was written into. The output starts afresh. */
void mproc__out_post(mproc_out *out, mproc__slot *s)
{
    s->res_ext = -1;
    s->res_off = 0;
    if (out->alias) {
        /* Said first: a worker killed from here on leaves the extent to
           the owner, who gave it (mproc__place_reclaim_result). */
        s->res_is_arg = 1;
        s->res_off = s->arg_off;
        s->res_huge = s->arg_huge;
        s->res_len = out->len;
        out_unalias(out);
        return;
    }
    s->res_len = out->len;
    if (out->len <= MPROC__INLINE) {
        if (out->len)
            memcpy(s->data, out->buf, out->len);
        return;
    }
    assert(out->ext != MPROC__NO_EXT);
    mproc__out_ext_lend(out, s, out->ext, out->off, out->buf, out->len, out->ext_cap);
    out->buf = out->priv;
    out->cap = out->priv_cap;
    out->ext = MPROC__NO_EXT;
}

int mproc_out_write(mproc_out *out, const void *data, size_t len)
{
    if (!out || (!data && len))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (data == out->arg && len == out->arg_len && out->len == 0 && out->ext == MPROC__NO_EXT) {
        /* The task returns its argument: its bytes are in the arena
           already, NUL after them, where the owner can read them. */
        out->alias = true;
        out->buf = (char *)out->arg; /* read only: the reserve copies it out before a write */
        out->len = out->cap = len;
        return 0;
    }
    int err = mproc__out_reserve(out, len);
    if (err < 0)
        return err;
    if (len <= 16) {
        /* A map item's few bytes: cheaper than a call to memcpy. */
        char *d = out->buf + out->len;
        const char *src = data;
        for (size_t i = 0; i < len; i++)
            d[i] = src[i];
    } else {
        memcpy(out->buf + out->len, data, len);
    }
    out->len += len;
    return 0;
}

int mproc_out_printf(mproc_out *out, const char *fmt, ...)
{
    if (!out || !fmt)
        return -EINVAL;
    va_list ap;
    /* Formatted straight into the result: where it fits in the room left,
       once; else again into room made for its exact length. */
    int err = mproc__out_reserve(out, 64);
    if (err < 0)
        return err;
    va_start(ap, fmt);
    int n = vsnprintf(out->buf + out->len, out->cap - out->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= out->cap - out->len) {
        if ((err = mproc__out_reserve(out, (size_t)n + 1)) < 0)
            return err;
        va_start(ap, fmt);
        vsnprintf(out->buf + out->len, out->cap - out->len, fmt, ap);
        va_end(ap);
    }
    out->len += (size_t)n;
    return 0;
}

void mproc__place_reclaim_result(mproc__shared *sh, int arena_fd, unsigned place,
                                 const mproc__slot *s)
{
    if (s->res_len <= MPROC__INLINE || s->res_is_arg)
        return;
    if (s->res_ext >= 0 && s->res_ext < MPROC__PLACE_EXTS)
        atomic_store(&sh->w[place].ext[s->res_ext].word, mproc__ext_word(s->res_off, EXT_FREE));
    else
        mproc__arena_release(arena_fd, s->res_off, mproc__ext_size(mproc__res_span(s->res_len)));
}

void mproc__place_free_out(mproc__shared *sh, unsigned place)
{
    mproc__ext *e = sh->w[place].ext;
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        uint64_t w = atomic_load(&e[i].word);
        if (mproc__ext_state(w) == EXT_OUT)
            atomic_store(&e[i].word, mproc__ext_word(mproc__ext_off(w), EXT_FREE));
    }
}
