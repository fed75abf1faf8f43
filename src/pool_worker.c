/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_worker.c: a worker of the pool: claiming tasks from the ring,
 * running them (one apply, or a chunk of map items), posting outcomes,
 * and how it polls and sleeps while idle.
 */
#include "pool_internal.h"
#include "pool_worker.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
            idle_since = mproc__now_ns();
            if (!idle_start)
                idle_start = idle_since;
            spins = 0;
        }
        if ((++spins & 63) != 0) {
            mproc__cpu_relax();
            continue;
        }
        int64_t idle = mproc__now_ns() - idle_since;
        if (idle < wk->spin_ns) {
            /* A poller must not keep a CPU from the process it waits for
               (the owner, or the worker whose task the owner waits for)
               when there are fewer CPUs than runnable processes: then the
               yield runs that one here; else it returns at once. */
            sched_yield();
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
        if (mproc__now_ns() - idle_start <= WORKER_SPIN_MAX_NS)
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
            if (mproc__out_reserve(o, pad) < 0)
                return -ENOMEM;
            memset(o->buf + o->len, 0, pad);
            o->len += pad;
        }
        size_t start = o->len;
        int rc = fn(items + i * isz, isz, o);
        /* Each item's bytes end with a NUL of their own, as every result. */
        if (o->failed || mproc__out_reserve(o, 1) < 0)
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
    int k = MPROC__NO_EXT;
    uint64_t off = 0;
    size_t cap = 0;
    if (total > MPROC__INLINE) {
        int err = mproc__out_ext_take(o, total + 1, &k, &off, &cap);
        if (err < 0)
            return err;
        if (!(dst = mproc__arena_at(wk->sh, wk->arena_fd, off, cap, true))) {
            mproc__out_ext_drop(o, k, off, cap);
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
    if (k == MPROC__NO_EXT) {
        memcpy(s->data, dst, total);
        s->res_len = total;
        s->res_off = 0;
        s->res_ext = -1;
    } else {
        mproc__out_ext_lend(o, s, k, off, dst, total, cap);
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
    atomic_store(&rec->started_ns, mproc__now_ns());
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
    mproc__out_start(&wk->out);
    if (s->kind == TASK_CHUNK) {
        code = run_chunk(wk, s, fn, arg);
    } else {
        /* Only an apply's whole argument can be its result (pool_out.c). */
        wk->out.arg = amap;
        wk->out.arg_len = alen;
        int rc = fn(alen ? arg : NULL, alen, &wk->out);
        wk->out.arg = NULL;
        /* The argument is no longer read: the slot's bytes may now carry
           the result. */
        if (wk->out.failed) {
            code = -ENOMEM;
        } else {
            mproc__out_post(&wk->out, s);
            code = rc ? MPROC_ETASK : 0;
            detail = rc;
        }
    }
publish:
    if (amap) {
        /* Read no more here: a huge-page argument leaves this worker's RSS
           (ring.h); kept for a later result, it is mapped again then. */
        mproc__arena_drop(sh, amap, s->arg_off, mproc__ext_size(mproc__res_span(alen)),
                          s->arg_huge);
        mproc__arena_done(sh, amap, s->arg_off, alen);
    }
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
    if (amap && (code == 0 || code == MPROC_ETASK))
        mproc__out_keep_arg(&wk->out, s);
    mproc__task_post(sh, pos, wk->me, code, detail, 0);
}

_Noreturn void mproc__worker_main(mproc__shared *sh, int arena_fd, int ready_fd, unsigned place,
                                  pid_t sup, const sigset_t *mask, const struct sigaction *chld)
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
                  .out = { .ext = MPROC__NO_EXT, .sh = sh, .arena_fd = arena_fd, .place = place } };
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
