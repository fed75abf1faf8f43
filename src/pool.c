/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool.c: the process pool as its owner sees it: creating it, submitting
 * tasks, and its lifecycle (close, join, terminate, free). The DESIGN
 * paragraph is in pool_internal.h. */
#include "pool_ext.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- creating ------------------------------------------------------------------ */

_Atomic unsigned mproc__pool_fork_gen;

static void pool_after_fork_child(void)
{
    atomic_fetch_add(&mproc__pool_fork_gen, 1);
}

__attribute__((constructor)) static void pool_init(void)
{
    pthread_atfork(NULL, NULL, pool_after_fork_child);
}

void mproc__pool_unref(mproc_pool *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->ext_mu);
    pthread_cond_destroy(&p->cv);
    mproc__pool_window_unmap(p);
    mproc__pool_ext_lists_free(p);
    free(p->inflight);
    free(p->lost_sig);
    free(p->segs);
    free(p);
}

static void send_cmd(mproc_pool *p)
{
    uint64_t one = 1;
    (void)!write(p->cmd_fd, &one, sizeof one);
}

static void wake_workers(mproc_pool *p)
{
    mproc__wake_all_workers(p->sh);
}

static void release_shared(mproc_pool *p)
{
    if (p->sh) {
        munmap(p->sh, p->sh_size);
        p->sh = NULL;
    }
    mproc__close(p->arena_fd);
    mproc__close(p->cmd_fd);
    p->arena_fd = p->cmd_fd = -1;
}

/* A time limit in seconds as the ring keeps it: 0 for none. */
static int64_t timeout_ns(double t)
{
    /* A limit past 31 years is no limit (and past 292 would not fit). */
    if (t <= 0 || t > 1e9)
        return 0;
    int64_t ns = (int64_t)(t * 1e9);
    return ns ? ns : 1;
}

int mproc_pool_new(mproc_pool **out, const mproc_pool_opts *opts)
{
    int procs = opts ? opts->processes : 0;
    if (procs < 0 || procs > MPROC__MAX_WORKERS)
        return -EINVAL;
    unsigned n = procs ? (unsigned)procs : (unsigned)mproc_cpu_count();
    return mproc__pool_new_n(out, opts, n > MPROC__MAX_WORKERS ? MPROC__MAX_WORKERS : n);
}

int mproc__pool_new_n(mproc_pool **out, const mproc_pool_opts *opts, unsigned n)
{
    mproc_pool_opts o = { 0 };
    if (opts)
        o = *opts;
    if (!out || n > MPROC__MAX_WORKERS || isnan(o.task_timeout) || o.task_timeout < 0)
        return -EINVAL;

    int err = 0;
    int start[2] = { -1, -1 };
    mproc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->ext_mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->refs, 1);
    p->gen = atomic_load(&mproc__pool_fork_gen);
    atomic_init(&p->spin, OWNER_SPIN_MAX);
    p->arena_fd = p->cmd_fd = -1;
    p->sup_reaped = true;
    p->nprocs = n ? n : 1;
    p->inflight = calloc(MPROC__SLOTS, sizeof *p->inflight);
    p->lost_sig = calloc(n, sizeof *p->lost_sig);
    if (!p->inflight || !p->lost_sig) {
        err = -ENOMEM;
        goto out;
    }
    mproc__pool_dl_snapshot(p);

    p->sh_size = mproc__shared_size(n);
    void *m = mmap(NULL, p->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        err = mproc__err();
        goto out;
    }
    p->sh = m;
    /* memfd: no name in /dev/shm to leak, gone with its last descriptor
       and mapping. Sparse: only the ranges in use hold memory. */
    p->arena_fd = memfd_create("mproc-pool", MFD_CLOEXEC);
    if (p->arena_fd < 0 || ftruncate(p->arena_fd, (off_t)MPROC__ARENA_SIZE) < 0) {
        err = mproc__err();
        goto out;
    }
    mproc__pool_window_map(p);
    p->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->cmd_fd < 0 || pipe2(start, O_CLOEXEC) < 0) {
        err = mproc__err();
        goto out;
    }
    mproc__shared *sh = p->sh;
    sh->nworkers = n;
    sh->maxtasks = o.maxtasksperchild;
    sh->timeout_ns = timeout_ns(o.task_timeout);
    atomic_init(&sh->min_timeout_ns, sh->timeout_ns);
    sh->win = p->win;
    sh->win_size = p->win_size;
    sh->hpage = p->hpage;
    atomic_init(&sh->huge, p->hpage != 0);
    sh->init = o.initializer;
    sh->initarg = o.initarg;
    size_t head = sizeof(mproc__shared) + (size_t)n * sizeof(mproc__wrec);
    sh->slots_off = (head + 63) & ~(size_t)63;

    mproc__sup_args args = {
        .sh = sh,
        .arena_fd = p->arena_fd,
        .cmd_fd = p->cmd_fd,
        .start_fd = start[1],
        .owner = getpid(),
    };
    fflush(NULL);
    mproc__block_all(&args.worker_mask);
    mproc__fork_begin();
    pid_t pid = fork();
    if (pid == 0) {
        mproc__close(start[0]);
        mproc__pool_supervise(&args);
    }
    if (pid > 0)
        mproc__child_own(pid);
    else
        err = mproc__err();
    mproc__fork_end();
    mproc__restore_mask(&args.worker_mask);
    if (pid < 0)
        goto out;
    p->sup_pid = pid;
    p->sup_reaped = false;
    mproc__close(start[1]);
    start[1] = -1;

    int status = 0;
    ssize_t got = mproc__read_full(start[0], &status, sizeof status);
    if (got != (ssize_t)sizeof status)
        status = got < 0 ? (int)got : -EAGAIN;
    if (status < 0) {
        err = status;
        atomic_store(&sh->stop, STOP_TERMINATE);
        send_cmd(p);
        mproc__pool_reap_supervisor(p, true);
        goto out;
    }
    p->next_sup_check = mproc__now() + SUP_CHECK;
    *out = p;
out:
    mproc__close(start[0]);
    mproc__close(start[1]);
    if (err < 0) {
        release_shared(p);
        mproc__pool_unref(p);
    }
    return err;
}

/* ---- submitting ------------------------------------------------------------------ */

int mproc__pool_refuse(mproc_pool *p)
{
    if (p->state != P_OPEN)
        return -EINVAL;
    if (atomic_load(&p->sh->broken))
        return MPROC_EINIT;
    if (p->lost)
        return -EPIPE;
    return 0;
}

/* Publishes one task for r. Mutex held; may wait for a free slot. */
static int publish(mproc_pool *p, mproc_result *r, const task *t)
{
    mproc__shared *sh = p->sh;
    int err;
    for (;;) {
        if ((err = mproc__pool_refuse(p)) < 0)
            return err;
        if (!p->inflight[p->tail % MPROC__SLOTS])
            break;
        mproc__pool_collect(p);
        if (!p->inflight[p->tail % MPROC__SLOTS])
            break;
        mproc__pool_wait_progress(p, INFINITY);
    }
    uint64_t pos = p->tail;
    mproc__slot *s = mproc__slot_at(sh, pos);
    s->fn = (uint64_t)(uintptr_t)t->fn;
    s->arg_len = t->arg_len;
    s->arg_off = r->arg_off;
    s->kind = t->kind;
    s->item_size = t->item_size;
    s->count = t->count;
    s->res_len = 0;
    s->res_off = 0;
    s->res_ext = -1;
    s->arg_kept = 0;
    s->res_is_arg = 0;
    s->arg_huge = r->arg_huge;
    s->res_huge = 0;
    s->code = s->detail = s->sig = 0;
    s->timeout_ns = t->own_timeout ? t->timeout_ns : sh->timeout_ns;
    if (s->timeout_ns) {
        int64_t m = atomic_load(&sh->min_timeout_ns);
        if (!m || s->timeout_ns < m) {
            /* The supervisor must look more often from now on. */
            atomic_store(&sh->min_timeout_ns, s->timeout_ns);
            send_cmd(p);
        }
    }
    if (t->arg_len <= MPROC__INLINE && t->arg_len)
        memcpy(s->data, t->arg, t->arg_len);
    p->inflight[pos % MPROC__SLOTS] = r;
    p->ninflight++;
    if (r->has_cb) {
        /* The callback thread may be asleep with nothing in flight: it
           collects this outcome only once woken. */
        if (p->cb_inflight++ == 0)
            pthread_cond_broadcast(&p->cv);
    }
    p->tail = pos + 1;
    atomic_store(&s->word, mproc__word(pos, 0, SLOT_READY));
    atomic_store(&sh->tail, pos + 1);
    mproc__wake_worker_if_needed(sh);
    if (atomic_load(&sh->broken)) {
        /* The supervisor may have swept the queue just before this task
           arrived; settle it the way the sweep would have. */
        if (mproc__task_take(sh, pos, OWNER_SUP))
            mproc__task_post(sh, pos, OWNER_SUP, MPROC_EINIT, 0, 0);
    }
    return 0;
}

/* Copies a large argument into an extent (or has t->fill write it there),
   outside the pool's mutex: the one copy of its bytes on the way to the
   worker. The extent is as large as a result of that length takes, and
   the NUL is written after the bytes, so that it can carry a result later
   (ring.h), this very task's too when the result is the argument
   (pool_out.c). */
static int stage_arg(mproc_pool *p, mproc_result *r, const task *t)
{
    size_t len = t->arg_len, need = mproc__res_span(len);
    if (len <= MPROC__INLINE)
        return 0;
    uint64_t off;
    unsigned flags;
    int err = mproc__pool_ext_get(p, need, &off, &flags);
    if (err < 0)
        return err;
    char *m = mproc__arena_at(p->sh, p->arena_fd, off, need, true);
    if (!m) {
        err = mproc__err();
        mproc__pool_ext_put(p, off, need, flags);
        return err;
    }
    if (t->fill)
        err = t->fill(t->fill_ctx, m, len);
    else
        memcpy(m, t->arg, len);
    m[len] = 0;
    /* Once written, the owner never reads an argument back: its huge pages
       leave this process's RSS now (pool_arena.c). A fill that failed may
       have left any part unwritten, which a collapse would refuse. */
    if (err == 0)
        flags = (unsigned)mproc__arena_written(p->sh, m, off, mproc__ext_size(need), need, flags);
    else
        mproc__arena_drop(p->sh, m, off, mproc__ext_size(need), flags & EXT_HUGE);
    mproc__arena_done(p->sh, m, off, need);
    if (err < 0) {
        mproc__pool_ext_put(p, off, need, flags);
        return err;
    }
    r->arg_off = off;
    r->arg_len = len;
    r->arg_huge = flags & EXT_HUGE;
    return 0;
}

void mproc__pool_unstage_arg(mproc_pool *p, mproc_result *r)
{
    if (r->arg_len > MPROC__INLINE)
        mproc__pool_ext_put(p, r->arg_off, mproc__res_span(r->arg_len),
                            r->arg_huge ? EXT_HUGE : 0);
    r->arg_len = 0;
}

int mproc__pool_submit_task(mproc_pool *p, const task *t, mproc_result **out)
{
    int err = 0;
    if (t->arg_len > MPROC__INLINE) {
        /* Not worth copying a large argument for a pool that refuses. */
        pthread_mutex_lock(&p->mu);
        err = p->sh ? mproc__pool_refuse(p) : -EINVAL;
        pthread_mutex_unlock(&p->mu);
        if (err < 0)
            return err;
    }
    if ((err = mproc__pool_check_fn(p, t->fn)) < 0)
        return err;
    mproc_result *r = mproc__result_new(p);
    if (!r)
        return -ENOMEM;
    if ((err = stage_arg(p, r, t)) < 0) {
        mproc__result_discard(r);
        return err;
    }
    r->arg_len = t->arg_len;
    if (t->on_ok || t->on_err) {
        r->on_ok = t->on_ok;
        r->on_err = t->on_err;
        r->cookie = t->cookie;
        r->has_cb = true;
    }
    pthread_mutex_lock(&p->mu);
    err = p->sh ? 0 : -EINVAL;
    if (!err && r->has_cb)
        err = mproc__pool_cb_start(p);
    if (!err)
        err = publish(p, r, t);
    if (err < 0)
        mproc__pool_unstage_arg(p, r);
    pthread_mutex_unlock(&p->mu);
    if (err < 0) {
        mproc__result_discard(r);
        return err;
    }
    *out = r;
    return 0;
}

int mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn, const void *arg, size_t arg_len,
                           mproc_result **out)
{
    if (!pool || !mproc__pool_here(pool->gen) || !fn || !out || (!arg && arg_len))
        return -EINVAL;
    task t = { .fn = fn, .arg = arg, .arg_len = arg_len, .kind = TASK_APPLY };
    return mproc__pool_submit_task(pool, &t, out);
}

int mproc_pool_submit(mproc_pool *pool, mproc_task_fn fn, const void *arg, size_t arg_len,
                      const mproc_submit_opts *opts, mproc_result **out)
{
    if (!pool || !mproc__pool_here(pool->gen) || !fn || !out || (!arg && arg_len) ||
        (opts && (isnan(opts->timeout) || opts->timeout < 0)))
        return -EINVAL;
    task t = { .fn = fn, .arg = arg, .arg_len = arg_len, .kind = TASK_APPLY };
    if (opts) {
        t.on_ok = opts->on_success;
        t.on_err = opts->on_error;
        t.cookie = opts->cookie;
        t.own_timeout = opts->timeout > 0;
        t.timeout_ns = timeout_ns(opts->timeout);
    }
    return mproc__pool_submit_task(pool, &t, out);
}

int mproc_pool_apply(mproc_pool *pool, mproc_task_fn fn, const void *arg, size_t arg_len,
                     void **data, size_t *len)
{
    mproc_result *r;
    int err = mproc_pool_apply_async(pool, fn, arg, arg_len, &r);
    if (err < 0)
        return err;
    const void *d;
    size_t n;
    err = mproc_result_get(r, -1, &d, &n);
    if ((err == 0 || err == MPROC_ETASK) && data) {
        void *copy = NULL;
        if (n) {
            copy = malloc(n + 1);
            if (!copy) {
                mproc_result_free(r);
                return -ENOMEM;
            }
            memcpy(copy, d, n + 1); /* with the NUL that follows */
        }
        *data = copy;
    }
    if ((err == 0 || err == MPROC_ETASK) && len)
        *len = n;
    mproc_result_free(r);
    return err;
}

/* ---- lifecycle --------------------------------------------------------------------- */

int mproc_pool_close(mproc_pool *pool)
{
    if (!pool || !mproc__pool_here(pool->gen))
        return -EINVAL;
    pthread_mutex_lock(&pool->mu);
    if (pool->state == P_OPEN) {
        pool->state = P_CLOSED;
        if (pool->sh) {
            atomic_store(&pool->sh->stop, STOP_CLOSE);
            send_cmd(pool);
            wake_workers(pool);
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return 0;
}

static void terminate_locked(mproc_pool *p)
{
    if (p->state == P_TERMINATED || !p->sh) {
        p->state = P_TERMINATED;
        return;
    }
    p->state = P_TERMINATED;
    atomic_store(&p->sh->stop, STOP_TERMINATE);
    send_cmd(p);
    wake_workers(p);
    /* The supervisor kills and reaps every worker before it exits. */
    mproc__pool_reap_supervisor(p, true);
    mproc__pool_stop_ext(p);
    mproc__pool_collect(p);
    mproc__pool_settle_all(p, -ECANCELED);
    mproc__pool_wake_owners(p);
}

int mproc_pool_terminate(mproc_pool *pool)
{
    if (!pool || !mproc__pool_here(pool->gen))
        return -EINVAL;
    pthread_mutex_lock(&pool->mu);
    terminate_locked(pool);
    pthread_mutex_unlock(&pool->mu);
    return 0;
}

int mproc_pool_join(mproc_pool *pool)
{
    if (!pool || !mproc__pool_here(pool->gen))
        return -EINVAL;
    pthread_mutex_lock(&pool->mu);
    int err = 0;
    if (pool->state == P_OPEN) {
        err = -EINVAL;
        goto out;
    }
    if (!pool->joined && pool->sh) {
        /* An extension's tasks get their outcomes from it, not from the
           supervisor's workers. */
        while (pool->ninflight > 0 && (!pool->sup_reaped || pool->has_ext)) {
            mproc__pool_collect(pool);
            if (pool->ninflight == 0)
                break;
            mproc__pool_wait_progress(pool, INFINITY);
        }
        /* The supervisor leaves once closing finds the ring drained; when
           the extension took the last tasks no worker's exit wakes it. */
        if (pool->has_ext)
            send_cmd(pool);
        mproc__pool_reap_supervisor(pool, true);
        mproc__pool_collect(pool);
        mproc__pool_settle_all(pool, atomic_load(&pool->sh->broken) ? MPROC_EINIT : 0);
        pool->joined = true;
    }
    /* Every outcome is known now, and no task can be added (the pool is
       closed): what is left is the callbacks queued for them, as Python's
       join waits for its result handler. */
    mproc__pool_wait_callbacks(pool);
out:
    pthread_mutex_unlock(&pool->mu);
    return err;
}

void mproc_pool_free(mproc_pool *pool)
{
    if (!pool || !mproc__pool_here(pool->gen))
        return;
    pthread_mutex_lock(&pool->mu);
    terminate_locked(pool);
    pool->joined = true;
    pool->freed = true;
    /* Threads still inside a wait on the shared futex must leave it before
       the mapping goes. */
    while (pool->local_sleepers > 0) {
        if (pool->sh)
            mproc__pool_wake_owners(pool);
        pthread_cond_wait(&pool->cv, &pool->mu);
    }
    bool join_cb = false;
    pthread_t cb = pool->cb_thread;
    if (pool->cb_started) {
        pool->cb_stop = true;
        pthread_cond_broadcast(&pool->cv);
        join_cb = !pthread_equal(cb, pthread_self());
    }
    pthread_mutex_unlock(&pool->mu);
    if (join_cb)
        pthread_join(cb, NULL);
    else if (pool->cb_started)
        pthread_detach(cb);
    pthread_mutex_lock(&pool->mu);
    release_shared(pool);
    pthread_mutex_unlock(&pool->mu);
    mproc__pool_unref(pool);
}

