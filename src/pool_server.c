/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_server.c: the pool's supervisor process and its workers: forking,
 * the task loop, and replacing workers that die, time out or retire.
 *
 * DESIGN. mproc_pool_new forks one supervisor; it is single-threaded, so
 * every worker it forks, first or replacement, is the child of a process
 * with one thread and sees the program as it was when the pool was made.
 * The supervisor sleeps in one poll(2): a signalfd for SIGCHLD (it reaps
 * only its own workers, with waitpid), an eventfd on which the owner says
 * "look at sh->stop", the workers' readiness eventfd, and a pidfd of the
 * owner, so that the pool dies with its owner however the owner ends.
 * There is no PR_SET_PDEATHSIG here: the kernel sends it when the forking
 * *thread* exits, which would kill a pool made by a short-lived thread, or
 * by a main thread that ends with pthread_exit while the program goes on.
 *
 * Workers take tasks straight from the shared ring (ring.h): the
 * supervisor is not on the path of a task, only of a failure. When a
 * worker dies, the supervisor finds the one slot marked RUNNING with that
 * worker's name and settles it (MPROC_EWORKER, or MPROC_ETASKTIMEOUT when
 * the supervisor killed it for running too long) before it forks the
 * replacement, so a task is never lost and never run twice.
 */
#include "pool_internal.h"

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long an idle worker polls the ring before it sleeps, adapting
   between these bounds: the longest while tasks come within it, shorter
   while they come later. A cross-CPU wakeup costs tens of microseconds; a short
   poll costs nothing when the next task is already on its way (one task at
   a time, or a producer that keeps up). Polls that keep failing only steal
   the CPU from the owner and from other programs, and a poller that lost
   its CPU answers later than a sleeper. */
#define WORKER_SPIN_MAX_NS 20000
#define WORKER_SPIN_MIN_NS 500

/* A task's output. Small results are written into the worker's own
   buffer and copied into the slot; a result that grows past the inline
   limit moves, once, into an extent of the worker's place, and the task's
   further writes go straight there: that extent is what the owner reads. */
struct mproc_out {
    char *buf;          /* where the bytes go: priv, or the extent at off */
    size_t len, cap;    /* in an extent, cap leaves room for the NUL */
    bool failed;        /* an allocation failed: the task's result is -ENOMEM */
    int ext;            /* buf is extent record ext of the place; -1 a one-off; NO_EXT: priv */
    uint64_t off;
    size_t ext_cap;
    char *priv;
    size_t priv_cap;
    mproc__shared *sh;  /* where extents come from */
    int arena_fd;
    unsigned place;
};

#define NO_EXT (-2)

/* Gives back the pages of the place's free extents that no task has
   used for a while (MPROC__EXT_AGE). The owner moves only LENT extents: a
   free one is this worker's. */
static void trim_idle(mproc_out *o)
{
    mproc__wrec *rec = &o->sh->w[o->place];
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        mproc__ext *e = &rec->ext[i];
        uint64_t w = atomic_load(&e->word);
        if (mproc__ext_state(w) != EXT_FREE || (e->cap & EXT_PUNCHED) ||
            e->used + MPROC__EXT_AGE >= rec->ext_uses)
            continue;
        mproc__arena_release(o->arena_fd, mproc__ext_off(w), e->cap);
        e->cap |= EXT_PUNCHED;
    }
}

/* Takes an extent of at least need bytes for this worker's output, marked
   OUT: the smallest free one of the place that fits; else a new one, in an
   empty record or in place of a free one too small (its pages punched out,
   its range left behind); else a one-off that no record keeps (*k = -1). */
static int ext_take(mproc_out *o, size_t need, int *k, uint64_t *off, size_t *cap)
{
    mproc__ext *e = o->sh->w[o->place].ext;
    int fit = -1, empty = -1, small = -1;
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        unsigned st = mproc__ext_state(atomic_load(&e[i].word));
        if (st == EXT_FREE && (e[i].cap & ~EXT_PUNCHED) >= need) {
            if (fit < 0 || e[i].cap < e[fit].cap)
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
        *cap = e[fit].cap;
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
            mproc__arena_release(o->arena_fd, mproc__ext_off(old), e[*k].cap & ~EXT_PUNCHED);
        e[*k].cap = size;
        e[*k].used = ++o->sh->w[o->place].ext_uses;
        atomic_store(&e[*k].word, mproc__ext_word(*off, EXT_OUT));
    }
    trim_idle(o);
    return 0;
}

/* The worker is done with an OUT extent it did not lend. */
static void ext_drop(mproc_out *o, int k, uint64_t off, size_t cap)
{
    if (k >= 0)
        atomic_store(&o->sh->w[o->place].ext[k].word, mproc__ext_word(off, EXT_FREE));
    else
        mproc__arena_release(o->arena_fd, off, cap);
}

/* Records in slot s that its result is len bytes in the OUT extent (k,
   off) at p, NUL after them, and lends the extent to the owner. The slot
   says it first, so that the supervisor can give the extent back if this
   worker dies before the outcome is posted. */
static void ext_lend(mproc_out *o, mproc__slot *s, int k, uint64_t off, char *p, size_t len,
                     size_t cap)
{
    p[len] = 0;
    s->res_off = off;
    s->res_len = len;
    s->res_ext = k;
    if (k >= 0)
        atomic_store(&o->sh->w[o->place].ext[k].word, mproc__ext_word(off, EXT_LENT));
    mproc__arena_done(o->sh, p, off, cap);
}

/* Room for extra more bytes after the result's len. */
static int out_reserve(mproc_out *out, size_t extra)
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
    int err = ext_take(out, need + 1, &k, &off, &cap);
    char *b = err < 0 ? NULL : mproc__arena_at(out->sh, out->arena_fd, off, cap, true);
    if (!b) {
        if (err == 0)
            ext_drop(out, k, off, cap);
        out->failed = true;
        return -ENOMEM;
    }
    if (out->len)
        memcpy(b, out->buf, out->len);
    if (out->ext != NO_EXT) {
        mproc__arena_done(out->sh, out->buf, out->off, out->ext_cap);
        ext_drop(out, out->ext, out->off, out->ext_cap);
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
static void out_post(mproc_out *out, mproc__slot *s)
{
    s->res_ext = -1;
    s->res_off = 0;
    s->res_len = out->len;
    if (out->len <= MPROC__INLINE) {
        if (out->len)
            memcpy(s->data, out->buf, out->len);
        return;
    }
    assert(out->ext != NO_EXT);
    ext_lend(out, s, out->ext, out->off, out->buf, out->len, out->ext_cap);
    out->buf = out->priv;
    out->cap = out->priv_cap;
    out->ext = NO_EXT;
}

int mproc_out_write(mproc_out *out, const void *data, size_t len)
{
    if (!out || (!data && len))
        return -EINVAL;
    if (len == 0)
        return 0;
    int err = out_reserve(out, len);
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
    int err = out_reserve(out, 64);
    if (err < 0)
        return err;
    va_start(ap, fmt);
    int n = vsnprintf(out->buf + out->len, out->cap - out->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= out->cap - out->len) {
        if ((err = out_reserve(out, (size_t)n + 1)) < 0)
            return err;
        va_start(ap, fmt);
        vsnprintf(out->buf + out->len, out->cap - out->len, fmt, ap);
        va_end(ap);
    }
    out->len += (size_t)n;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the worker ------------------------------------------------------------- */

typedef struct worker {
    mproc__shared *sh;
    int arena_fd;
    unsigned place; /* index into sh->w */
    unsigned me;    /* owner name in slot words: place + 1 */
    uint64_t bit;   /* in sh->spinning[place / 64] */
    int64_t spin_ns; /* how long it polls before it sleeps */
    int32_t *codes;  /* chunk buffers, for cap_items items */
    uint64_t *ends;
    uint64_t cap_items;
    mproc_out out;
} worker;

/* Takes the next task: returns its position, or UINT64_MAX when the worker
   should leave (the pool is closing and drained, terminating, or broken). */
static uint64_t claim(worker *wk)
{
    mproc__shared *sh = wk->sh;
    unsigned spins = 0;
    int64_t idle_since = 0, idle_start = 0;
    bool spinning = false;
    uint64_t got = UINT64_MAX;
    for (;;) {
        if (atomic_load(&sh->broken) || atomic_load(&sh->stop) == STOP_TERMINATE)
            break;
        int c = mproc__task_claim(sh, wk->me, &got);
        if (c > 0)
            break;
        if (c < 0)
            continue;
        if (atomic_load(&sh->stop) == STOP_CLOSE)
            break;
        if (!spinning) {
            spinning = true;
            atomic_fetch_or(&sh->spinning[wk->place / 64], wk->bit);
            idle_since = now_ns();
            if (!idle_start)
                idle_start = idle_since;
            spins = 0;
        }
        if ((++spins & 63) != 0) {
            mproc__cpu_relax();
            continue;
        }
        int64_t idle = now_ns() - idle_since;
        if (idle < wk->spin_ns) {
            mproc__cpu_relax();
            continue;
        }
        _Atomic uint32_t *fx = &sh->w[wk->place].futex;
        uint32_t seq = atomic_load(fx);
        atomic_fetch_or(&sh->sleeping[wk->place / 64], wk->bit);
        atomic_fetch_and(&sh->spinning[wk->place / 64], ~wk->bit);
        spinning = false;
        /* Looked at again after announcing the sleep: a producer that
           published before it saw no sleeper, and we see its task. */
        if (atomic_load(&sh->head) >= atomic_load(&sh->tail) && !atomic_load(&sh->stop) &&
            !atomic_load(&sh->broken))
            mproc__futex_wait(fx, seq, INFINITY);
        atomic_fetch_and(&sh->sleeping[wk->place / 64], ~wk->bit);
    }
    if (spinning)
        atomic_fetch_and(&sh->spinning[wk->place / 64], ~wk->bit);
    if (idle_start && got != UINT64_MAX) {
        /* Would the longest poll have caught this task? Then poll long;
           else poll less. Judged by the idle time, not by whether this
           poll succeeded, so that a short poll can grow again. */
        if (now_ns() - idle_start <= WORKER_SPIN_MAX_NS)
            wk->spin_ns = WORKER_SPIN_MAX_NS;
        else
            wk->spin_ns = wk->spin_ns / 2 > WORKER_SPIN_MIN_NS ? wk->spin_ns / 2 : WORKER_SPIN_MIN_NS;
    }
    /* More waiting than we took: pass the wakeup on. */
    if (got != UINT64_MAX)
        mproc__wake_worker_if_needed(sh);
    return got;
}

/* Runs fn over every item of a chunk. The result (ring.h, CHUNK_*) is
   uint64 count, uint64 uniform, then, unless every item returned 0 and
   wrote the same number of bytes (uniform = CHUNK_UNIFORM | that number),
   int32 codes[count] (padded to 8) and uint64 ends[count]; then the items'
   bytes, each followed by a NUL, laid out as mproc__chunk_stride says:
   item i ends (its NUL included) at ends[i]. The uniform case, the usual
   one for a map, carries the results and nothing else. */
static int run_chunk(worker *wk, mproc__slot *s, mproc_task_fn fn, const char *items)
{
    uint64_t n = s->count;
    size_t isz = (size_t)s->item_size;
    if (n > wk->cap_items) {
        /* Kept from chunk to chunk: fresh large buffers would cost page
           faults every time. */
        int32_t *c = realloc(wk->codes, n * sizeof *c);
        if (c)
            wk->codes = c;
        uint64_t *e = c ? realloc(wk->ends, n * sizeof *e) : NULL;
        if (e)
            wk->ends = e;
        if (!c || !e)
            return -ENOMEM;
        wk->cap_items = n;
    }
    int32_t *codes = wk->codes;
    uint64_t *ends = wk->ends;
    mproc_out *o = &wk->out;
    bool uniform = true;
    size_t len0 = 0;
    for (uint64_t i = 0; i < n; i++) {
        /* Every item starts 8-aligned, as a result of its own would. */
        size_t pad = (8 - (o->len & 7)) & 7;
        if (pad) {
            if (out_reserve(o, pad) < 0)
                return -ENOMEM;
            memset(o->buf + o->len, 0, pad);
            o->len += pad;
        }
        size_t start = o->len;
        int rc = fn(items + i * isz, isz, o);
        /* Each item's bytes end with a NUL of their own, as every result. */
        if (o->failed || out_reserve(o, 1) < 0)
            return -ENOMEM;
        o->buf[o->len++] = 0;
        codes[i] = rc;
        ends[i] = o->len;
        size_t len = o->len - 1 - start;
        if (i == 0)
            len0 = len;
        uniform = uniform && rc == 0 && len == len0;
    }
    size_t stride = mproc__chunk_stride(len0), wrote = (len0 + 1 + 7) & ~(size_t)7;
    uint64_t head[2] = { n, uniform && n ? MPROC__CHUNK_UNIFORM | len0 : 0 };
    size_t codes_sz = uniform ? 0 : ((size_t)n * sizeof(int32_t) + 7) & ~(size_t)7;
    size_t ends_sz = uniform ? 0 : (size_t)n * 8;
    size_t data_sz = uniform ? (size_t)n * stride : o->len;
    size_t total = sizeof head + codes_sz + ends_sz + data_sz;
    char inline_buf[MPROC__INLINE];
    char *dst = inline_buf;
    int k = NO_EXT;
    uint64_t off = 0;
    size_t cap = 0;
    if (total > MPROC__INLINE) {
        int err = ext_take(o, total + 1, &k, &off, &cap);
        if (err < 0)
            return err;
        if (!(dst = mproc__arena_at(wk->sh, wk->arena_fd, off, cap, true))) {
            ext_drop(o, k, off, cap);
            return -ENOMEM;
        }
    }
    memcpy(dst, head, sizeof head);
    if (!uniform) {
        memcpy(dst + sizeof head, codes, n * sizeof(int32_t));
        memcpy(dst + sizeof head + codes_sz, ends, ends_sz);
    }
    char *data = dst + sizeof head + codes_sz + ends_sz;
    if (!uniform || stride == wrote) {
        memcpy(data, o->buf, data_sz);
    } else {
        /* Closer than 8 apart where the items' own alignment allows. */
        memset(data, 0, data_sz);
        for (uint64_t i = 0; i < n; i++)
            memcpy(data + i * stride, o->buf + i * wrote, len0 + 1);
    }
    if (k == NO_EXT) {
        memcpy(s->data, dst, total);
        s->res_len = total;
        s->res_off = 0;
        s->res_ext = -1;
    } else {
        ext_lend(o, s, k, off, dst, total, cap);
    }
    return 0;
}

static void run_task(worker *wk, uint64_t pos)
{
    mproc__shared *sh = wk->sh;
    mproc__slot *s = mproc__slot_at(sh, pos);
    mproc__wrec *rec = &sh->w[wk->place];
    /* Seen by the supervisor no later than task_pos, which is stored after. */
    atomic_store_explicit(&rec->limit_ns, s->timeout_ns, memory_order_relaxed);
    atomic_store(&rec->started_ns, now_ns());
    atomic_store(&rec->task_pos, pos + 1);

    mproc_task_fn fn = (mproc_task_fn)(uintptr_t)s->fn;
    size_t alen = (size_t)s->arg_len;
    const void *arg = s->data;
    void *amap = NULL;
    int code = 0, detail = 0;
    s->res_ext = -1;
    if (alen > MPROC__INLINE) {
        /* Read in place: in the window, no system call. */
        amap = mproc__arena_at(sh, wk->arena_fd, s->arg_off, alen, false);
        if (!amap) {
            code = mproc__err();
            goto publish;
        }
        arg = amap;
    }
    wk->out.len = 0;
    wk->out.failed = false;
    if (s->kind == TASK_CHUNK) {
        code = run_chunk(wk, s, fn, arg);
    } else {
        int rc = fn(alen ? arg : NULL, alen, &wk->out);
        /* The argument is no longer read: the slot's bytes may now carry
           the result. */
        if (wk->out.failed) {
            code = -ENOMEM;
        } else {
            out_post(&wk->out, s);
            code = rc ? MPROC_ETASK : 0;
            detail = rc;
        }
    }
publish:
    if (amap)
        mproc__arena_done(sh, amap, s->arg_off, alen);
    if (code < 0 && code != MPROC_ETASK) {
        s->res_len = 0;
        s->res_off = 0;
        s->res_ext = -1;
    }
    uint64_t mine = pos + 1;
    if (!atomic_compare_exchange_strong(&rec->task_pos, &mine, 0)) {
        /* The supervisor has claimed this task as timed out and its
           SIGKILL is on the way: the outcome is the timeout. */
        for (;;)
            pause();
    }
    mproc__task_post(sh, pos, wk->me, code, detail, 0);
}

static _Noreturn void worker_main(mproc__shared *sh, int arena_fd, int ready_fd, unsigned place,
                                  pid_t sup, const sigset_t *mask,
                                  const struct sigaction *chld)
{
    /* Our pid is known from our first instruction on, even if the
       supervisor dies before fork returns there: an owner that is a
       subreaper then adopts and reaps us by it. */
    atomic_store(&sh->w[place].pid, getpid());
    /* Our parent is the single-threaded supervisor, so the death signal
       follows the process, not a thread. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != sup)
        _exit(0);
    sigaction(SIGCHLD, chld, NULL);
    prctl(PR_SET_NAME, "mproc-worker");
    mproc__restore_mask(mask);
    mproc__wrec *rec = &sh->w[place];
    if (sh->init && sh->init(sh->initarg) != 0) {
        atomic_store(&rec->state, W_INIT_FAILED);
        fflush(NULL);
        _exit(0);
    }
    atomic_store(&rec->state, W_READY);
    uint64_t one = 1;
    (void)!write(ready_fd, &one, sizeof one);
    worker wk = { .sh = sh, .arena_fd = arena_fd, .place = place, .me = place + 1,
                  .bit = (uint64_t)1 << (place % 64), .spin_ns = WORKER_SPIN_MAX_NS,
                  .out = { .ext = NO_EXT, .sh = sh, .arena_fd = arena_fd, .place = place } };
    unsigned done = 0;
    for (;;) {
        uint64_t pos = claim(&wk);
        if (pos == UINT64_MAX)
            break;
        run_task(&wk, pos);
        /* What the task printed shows now, not when the worker ends (a
           terminated worker never flushes). */
        fflush(stdout);
        if (sh->maxtasks && ++done >= sh->maxtasks)
            break;
    }
    fflush(NULL);
    _exit(0);
}

/* ---- the supervisor ---------------------------------------------------------- */

typedef struct sup {
    const mproc__sup_args *a;
    mproc__shared *sh;
    int sigfd, ownerfd, readyfd;
    unsigned alive;
    bool reported;   /* the startup status has been written */
    bool spawn_failed;
    int spawn_err;
    struct sigaction chld; /* the owner's SIGCHLD disposition, for workers */
    bool *timed_out;
} sup;

static void publish_outcome(mproc__shared *sh, mproc__slot *s, uint64_t pos, unsigned owner,
                            int code, int detail, int sig)
{
    s->res_len = 0;
    s->res_off = 0;
    mproc__task_post(sh, pos, owner, code, detail, sig);
}

/* A dead worker's output extents are free for its replacement. */
static void free_out_extents(mproc__shared *sh, unsigned place)
{
    mproc__ext *e = sh->w[place].ext;
    for (int i = 0; i < MPROC__PLACE_EXTS; i++) {
        uint64_t w = atomic_load(&e[i].word);
        if (mproc__ext_state(w) == EXT_OUT)
            atomic_store(&e[i].word, mproc__ext_word(mproc__ext_off(w), EXT_FREE));
    }
}

/* Settle the task a dead worker was running, if any. */
static void fail_running(sup *S, unsigned place, int status)
{
    mproc__shared *sh = S->sh;
    mproc__slot *base = mproc__slot_at(sh, 0);
    for (unsigned i = 0; i < MPROC__SLOTS; i++) {
        mproc__slot *s = base + i;
        uint64_t v = atomic_load(&s->word);
        if (mproc__word_state(v) != SLOT_RUNNING || mproc__word_owner(v) != place + 1)
            continue;
        if (s->res_len > MPROC__INLINE) {
            /* The extent its result went to, before it could post it. */
            if (s->res_ext >= 0 && s->res_ext < MPROC__PLACE_EXTS)
                atomic_store(&sh->w[place].ext[s->res_ext].word,
                             mproc__ext_word(s->res_off, EXT_FREE));
            else
                mproc__arena_release(S->a->arena_fd, s->res_off,
                                     mproc__ext_size(mproc__res_span(s->res_len)));
        }
        int code = MPROC_EWORKER, detail = 0, sig = 0;
        if (S->timed_out[place]) {
            code = MPROC_ETASKTIMEOUT;
            sig = SIGKILL;
        } else if (WIFSIGNALED(status)) {
            sig = WTERMSIG(status);
        } else {
            detail = WEXITSTATUS(status);
        }
        publish_outcome(sh, s, mproc__word_pos(v), place + 1, code, detail, sig);
    }
    S->timed_out[place] = false;
}

/* The pool is broken: every queued task ends with MPROC_EINIT. The owner
   settles the same way any task it publishes after this, and the swap from
   READY decides who settles each one. */
static void fail_ready(sup *S)
{
    mproc__shared *sh = S->sh;
    uint64_t t = atomic_load(&sh->tail);
    uint64_t h = atomic_load(&sh->head);
    for (uint64_t pos = h; pos < t; pos++) {
        if (mproc__task_take(sh, pos, OWNER_SUP))
            publish_outcome(sh, mproc__slot_at(sh, pos), pos, OWNER_SUP, MPROC_EINIT, 0, 0);
    }
}

static void wake_workers(mproc__shared *sh)
{
    mproc__wake_all_workers(sh);
}

static int spawn(sup *S, unsigned place)
{
    mproc__shared *sh = S->sh;
    mproc__wrec *rec = &sh->w[place];
    atomic_store(&rec->state, W_STARTING);
    atomic_store(&rec->task_pos, 0);
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        mproc__close(S->sigfd);
        mproc__close(S->ownerfd);
        worker_main(sh, S->a->arena_fd, S->readyfd, place, self, &S->a->worker_mask, &S->chld);
    }
    if (pid < 0) {
        atomic_store(&rec->state, W_EMPTY);
        return mproc__err();
    }
    atomic_store(&rec->pid, pid);
    S->alive++;
    return 0;
}

static _Noreturn void shutdown_now(sup *S)
{
    mproc__shared *sh = S->sh;
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        if (pid > 0)
            kill(pid, SIGKILL);
    }
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        if (pid > 0) {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            atomic_store(&sh->w[i].pid, 0);
        }
    }
    _exit(0);
}

static void report(sup *S, int status)
{
    if (S->reported)
        return;
    S->reported = true;
    (void)mproc__write_full(S->a->start_fd, &status, sizeof status);
    mproc__close(S->a->start_fd);
}

static void reap(sup *S)
{
    mproc__shared *sh = S->sh;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (unsigned i = 0; i < sh->nworkers; i++) {
            if (atomic_load(&sh->w[i].pid) != pid)
                continue;
            atomic_store(&sh->w[i].pid, 0);
            atomic_fetch_and(&sh->spinning[i / 64], ~((uint64_t)1 << (i % 64)));
            atomic_fetch_and(&sh->sleeping[i / 64], ~((uint64_t)1 << (i % 64)));
            S->alive--;
            uint32_t ws = atomic_load(&sh->w[i].state);
            /* An initializer that crashes (abort, a fault, _exit) fails as
               surely as one that returns non-zero. Without an initializer
               a worker dying before it is ready was killed from outside,
               and is replaced. */
            if (ws == W_INIT_FAILED || (ws == W_STARTING && sh->init)) {
                /* No respawn loop: the pool is broken, and says so. */
                atomic_store(&sh->broken, 1);
                wake_workers(sh);
                fail_ready(S);
            } else {
                fail_running(S, i, status);
            }
            free_out_extents(sh, i);
            /* The worker may have died between marking a task DONE and
               counting it in done_seq: count one more, so the owner looks
               again; an extra count only costs it one scan. */
            mproc__done_publish(sh);
            atomic_store(&sh->w[i].state, W_EMPTY);
            break;
        }
    }
}

static bool queue_empty(mproc__shared *sh)
{
    return atomic_load(&sh->head) >= atomic_load(&sh->tail);
}

static void check_timeouts(sup *S)
{
    mproc__shared *sh = S->sh;
    int64_t now = now_ns();
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        uint64_t tp = atomic_load(&sh->w[i].task_pos);
        if (pid <= 0 || !tp || S->timed_out[i])
            continue;
        int64_t st = atomic_load(&sh->w[i].started_ns);
        int64_t limit = atomic_load(&sh->w[i].limit_ns);
        if (!limit || now - st < limit)
            continue;
        /* Claim the kill on this very task: if the worker finished it in
           the meantime (and may have begun the next), the swap fails and
           nobody is killed; once it succeeds, the worker cannot publish
           and waits for the signal. */
        if (!atomic_compare_exchange_strong(&sh->w[i].task_pos, &tp, tp | MPROC__KILL_BIT))
            continue;
        S->timed_out[i] = true;
        kill(pid, SIGKILL);
    }
}

static int tick_ms(sup *S)
{
    int ms = -1;
    int64_t lim = atomic_load(&S->sh->min_timeout_ns);
    if (lim) {
        int64_t t = lim / 10 / 1000000;
        ms = t < 1 ? 1 : t > 20 ? 20 : (int)t;
    }
    if (S->ownerfd < 0 && (ms < 0 || ms > 100))
        ms = 100;
    if (S->spawn_failed && (ms < 0 || ms > 10))
        ms = 10;
    return ms;
}

_Noreturn void mproc__pool_supervise(const mproc__sup_args *a)
{
    sup S = { .a = a, .sh = a->sh, .sigfd = -1, .ownerfd = -1, .readyfd = -1 };
    mproc__shared *sh = a->sh;
    S.ownerfd = mproc__pidfd_open(a->owner);
    if (S.ownerfd < 0)
        S.ownerfd = -1;
    /* The owner may have died before the pidfd was in place: then there is
       nobody to serve. */
    if (getppid() != a->owner)
        _exit(0);
    (void)mproc__stdin_devnull();
    prctl(PR_SET_NAME, "mproc-pool");

    static bool timed_out[MPROC__MAX_WORKERS];
    S.timed_out = timed_out;

    /* SIGCHLD must be delivered for us to reap, whatever the owner set
       (SIG_IGN would make the kernel reap our workers out of our hands);
       the workers get the owner's disposition back. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &S.chld);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    S.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    S.readyfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (S.sigfd < 0 || S.readyfd < 0) {
        report(&S, mproc__err());
        _exit(0);
    }

    for (unsigned i = 0; i < sh->nworkers; i++) {
        int e = spawn(&S, i);
        if (e < 0) {
            report(&S, e);
            shutdown_now(&S);
        }
    }
    /* A pool whose tasks only an extension runs (pool_ext.h) has none. */
    if (sh->nworkers == 0)
        report(&S, 0);

    for (;;) {
        struct pollfd p[4] = {
            { .fd = S.sigfd, .events = POLLIN },
            { .fd = a->cmd_fd, .events = POLLIN },
            { .fd = S.readyfd, .events = POLLIN },
            { .fd = S.ownerfd, .events = POLLIN },
        };
        int n = poll(p, S.ownerfd >= 0 ? 4 : 3, tick_ms(&S));
        if (n < 0 && errno != EINTR)
            shutdown_now(&S);
        if ((S.ownerfd >= 0 && p[3].revents) || getppid() != a->owner)
            shutdown_now(&S);

        struct signalfd_siginfo si;
        while (read(S.sigfd, &si, sizeof si) > 0)
            ;
        uint64_t cnt;
        (void)!read(S.readyfd, &cnt, sizeof cnt);
        (void)!read(a->cmd_fd, &cnt, sizeof cnt);

        reap(&S);
        unsigned stop = atomic_load(&sh->stop);
        if (stop == STOP_TERMINATE)
            shutdown_now(&S);

        if (!S.reported) {
            if (atomic_load(&sh->broken)) {
                report(&S, MPROC_EINIT);
            } else {
                unsigned ready = 0;
                for (unsigned i = 0; i < sh->nworkers; i++)
                    ready += atomic_load(&sh->w[i].state) == W_READY;
                if (ready == sh->nworkers)
                    report(&S, 0);
            }
        }
        if (atomic_load(&sh->min_timeout_ns))
            check_timeouts(&S);

        bool broken = atomic_load(&sh->broken);
        bool closing = stop == STOP_CLOSE;
        if (broken || (closing && queue_empty(sh))) {
            if (closing)
                wake_workers(sh);
            if (S.alive == 0)
                _exit(0);
            continue;
        }
        /* Replace the workers that left: crashed, timed out, retired. */
        S.spawn_failed = false;
        for (unsigned i = 0; i < sh->nworkers; i++) {
            if (atomic_load(&sh->w[i].state) != W_EMPTY)
                continue;
            if (spawn(&S, i) < 0)
                S.spawn_failed = true;
        }
    }
}
