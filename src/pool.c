/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool.c: the process pool as its owner sees it: submitting tasks,
 * collecting outcomes into result objects, callbacks, and the lifecycle.
 *
 * DESIGN. The owner publishes tasks into the shared ring (ring.h) and
 * collects outcomes from it; there is no thread of the library on that
 * path. Whoever needs an outcome collects: a thread waiting for a result,
 * apply_async finding the ring full, close/join/terminate. Collection runs
 * under the pool's mutex, scans the slots between the oldest uncollected
 * position and the tail for DONE ones (sh->done_seq counts completions, so
 * a scan stops as soon as it has found every one published), moves each
 * outcome into its result object and frees the slot. Waiting spins for a
 * few microseconds, then sleeps on the done_seq futex, which workers wake
 * only when somebody sleeps there.
 *
 * Results are reference-counted: the user holds one reference, the pool
 * another while the task is in flight (and while its callback is queued).
 * Each result holds a reference to the pool's struct, so a result outlives
 * mproc_pool_free: the struct is released with its last result.
 */
#include "pool_ext.h"

#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a waiting owner thread polls before it sleeps (seconds): it
   adapts between these bounds, the longest while outcomes come within it,
   shorter while they come later. A poll that keeps failing only takes a
   CPU the workers need (on a busy machine the poller and a worker end up
   sharing one); then sleeping at once, as a pipe reader does, is faster. */
#define OWNER_SPIN_MAX 20e-6
#define OWNER_SPIN_MIN 0.5e-6
/* A sleeping owner thread looks at the supervisor this often. */
#define SUP_CHECK 0.1

enum { P_OPEN, P_CLOSED, P_TERMINATED };

struct mproc_result {
    mproc_pool *pool;      /* fixed; the result holds a reference to it */
    _Atomic int refs;
    _Atomic bool ready;
    _Atomic bool user_freed;
    int code, detail, sig;
    void *data;
    size_t len;
    bool mapped;           /* data is an arena mapping of len bytes at off */
    uint64_t off;
    uint64_t arg_off;      /* the argument's arena range, while in flight */
    size_t arg_len;
    bool has_cb;
    mproc_result_cb on_ok, on_err;
    void *cookie;
    mproc_result *cb_next;
};

/* A loaded object's address range, as it was when the pool was made. */
typedef struct seg {
    uintptr_t lo, hi;
} seg;

struct mproc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* local_sleepers reached 0; the callback queue */
    _Atomic int refs;
    int state;
    bool joined;
    bool sup_reaped;
    bool lost;               /* the supervisor died from outside */
    mproc__shared *sh;
    size_t sh_size;
    int arena_fd, cmd_fd;
    pid_t sup_pid;
    unsigned nprocs;
    uint64_t tail;           /* next position to publish */
    uint64_t coll;           /* oldest position not yet collected */
    uint32_t collected;      /* completions collected, against sh->done_seq */
    size_t ninflight;
    mproc_result **inflight; /* by slot */
    int local_sleepers;      /* owner threads sleeping on the shared futex */
    _Atomic double spin;     /* how long a waiter polls before it sleeps */
    double next_sup_check;
    /* callbacks */
    bool cb_started, cb_stop;
    bool freed; /* mproc_pool_free has begun: no callback thread any more */
    pthread_t cb_thread;
    mproc_result *cbq_head, *cbq_tail;
    size_t cb_inflight;      /* in-flight results with callbacks */
    /* libraries loaded when the pool was made */
    unsigned long long dl_adds;
    seg *segs;
    size_t nsegs;
    _Atomic uintptr_t fn_ok; /* a task function known to be in them */
    /* a second consumer of the ring (pool_ext.h), or none */
    bool has_ext;
    mproc__pool_ext ext;
};

static void pool_unref(mproc_pool *p);

/* ---- loaded objects, for the -EFAULT check ------------------------------------ */

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
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 32;
            seg *v = realloc(a->v, cap * sizeof *v);
            if (!v) {
                a->nomem = true;
                return 1;
            }
            a->v = v;
            a->cap = cap;
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

/* -EFAULT when fn lies in code loaded after the pool was made: the workers
   do not have it. Costs one dl_iterate_phdr step unless libraries were
   loaded since. */
static int check_fn(mproc_pool *p, mproc_task_fn fn)
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

/* ---- results ---------------------------------------------------------------- */

/* Frees r's outcome bytes; with the pool's mutex held (or the pool's shared
   state gone). */
static void result_release_locked(mproc_pool *p, mproc_result *r)
{
    if (r->mapped) {
        mproc__arena_unmap(r->data, r->len);
        mproc__arena_release(p->arena_fd, r->off, r->len);
    } else {
        free(r->data);
    }
    r->data = NULL;
    r->mapped = false;
}

static void result_drop(mproc_result *r, bool locked)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    mproc_pool *p = r->pool;
    if (locked) {
        result_release_locked(p, r);
    } else {
        pthread_mutex_lock(&p->mu);
        result_release_locked(p, r);
        pthread_mutex_unlock(&p->mu);
    }
    free(r);
    /* Under the mutex the pool has another reference: the caller's. */
    pool_unref(p);
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
static void settle(mproc_pool *p, mproc_result *r)
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
        result_release_locked(p, r);
    result_drop(r, true);
}

/* ---- collecting outcomes ---------------------------------------------------- */

static void free_slot(mproc_pool *p, uint64_t pos, mproc__slot *s)
{
    p->inflight[pos % MPROC__SLOTS] = NULL;
    p->ninflight--;
    atomic_store(&s->word, mproc__word(pos, 0, SLOT_FREE));
}

static void finish(mproc_pool *p, uint64_t pos, mproc__slot *s)
{
    mproc_result *r = p->inflight[pos % MPROC__SLOTS];
    int code = s->code;
    r->code = code;
    r->detail = s->detail;
    r->sig = s->sig;
    size_t len = (size_t)s->res_len;
    if ((code == 0 || code == MPROC_ETASK) && !atomic_load(&r->user_freed) && len) {
        if (len <= MPROC__INLINE) {
            r->data = malloc(len);
            if (r->data) {
                memcpy(r->data, s->data, len);
                r->len = len;
            } else {
                r->code = -ENOMEM;
            }
        } else {
            /* Large results stay where the worker wrote them: mapped, not
               copied, until the result is freed. */
            r->data = mproc__arena_map(p->arena_fd, s->res_off, len, false);
            if (r->data) {
                r->mapped = true;
                r->off = s->res_off;
                r->len = len;
            } else {
                r->code = -ENOMEM;
                mproc__arena_release(p->arena_fd, s->res_off, len);
            }
        }
    } else if (len > MPROC__INLINE) {
        mproc__arena_release(p->arena_fd, s->res_off, len);
    }
    if (r->arg_len > MPROC__INLINE)
        mproc__arena_release(p->arena_fd, r->arg_off, r->arg_len);
    free_slot(p, pos, s);
    settle(p, r);
}

/* Moves every published outcome into its result. Mutex held. */
static void collect(mproc_pool *p)
{
    mproc__shared *sh = p->sh;
    if (!sh || p->ninflight == 0)
        return;
    uint32_t seq = atomic_load(&sh->done_seq);
    if ((int32_t)(seq - p->collected) <= 0)
        return;
    uint64_t pos;
    for (pos = p->coll; pos < p->tail && (int32_t)(seq - p->collected) > 0; pos++) {
        if (!p->inflight[pos % MPROC__SLOTS])
            continue;
        mproc__slot *s = mproc__slot_at(sh, pos);
        uint64_t v = atomic_load(&s->word);
        if (mproc__word_state(v) == SLOT_DONE && mproc__word_pos(v) == pos) {
            finish(p, pos, s);
            p->collected++;
        }
    }
    /* The whole window seen and fewer outcomes found than counted (the
       supervisor counts once more after each worker death): every outcome
       counted up to seq is collected. */
    if (pos >= p->tail && (int32_t)(seq - p->collected) > 0)
        p->collected = seq;
    while (p->coll < p->tail && !p->inflight[p->coll % MPROC__SLOTS])
        p->coll++;
}

/* Ends every task still in flight with code, without a worker. Used once
   no worker and no supervisor is left. Mutex held. */
static void settle_all(mproc_pool *p, int code)
{
    for (uint64_t pos = p->coll; pos < p->tail; pos++) {
        mproc_result *r = p->inflight[pos % MPROC__SLOTS];
        if (!r)
            continue;
        mproc__slot *s = mproc__slot_at(p->sh, pos);
        uint64_t v = atomic_load(&s->word);
        if (mproc__word_state(v) == SLOT_DONE && mproc__word_pos(v) == pos) {
            finish(p, pos, s);
            continue;
        }
        if (s->res_len > MPROC__INLINE && mproc__word_state(v) == SLOT_RUNNING)
            mproc__arena_release(p->arena_fd, s->res_off, s->res_len);
        if (r->arg_len > MPROC__INLINE)
            mproc__arena_release(p->arena_fd, r->arg_off, r->arg_len);
        r->code = code;
        free_slot(p, pos, s);
        settle(p, r);
    }
    p->coll = p->tail;
    p->collected = atomic_load(&p->sh->done_seq);
}

/* Wake every owner thread sleeping on the shared futex. */
static void wake_owners(mproc_pool *p)
{
    atomic_fetch_add(&p->sh->done_seq, 1);
    p->collected++;
    mproc__futex_wake(&p->sh->done_seq, INT_MAX);
}

static void reap_supervisor(mproc_pool *p, bool block)
{
    if (p->sup_reaped)
        return;
    int st;
    pid_t r;
    while ((r = waitpid(p->sup_pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == p->sup_pid || (r < 0 && errno == ECHILD)) {
        p->sup_reaped = true;
        mproc__child_disown(p->sup_pid);
    }
}

/* Stops an attached extension, once. Mutex held. */
static void stop_ext(mproc_pool *p)
{
    if (!p->has_ext)
        return;
    p->has_ext = false;
    p->ext.stop(p->ext.ctx);
}

/* Notices a supervisor killed from outside: its workers died with it (they
   hold PR_SET_PDEATHSIG), so what is in flight can never finish. */
static void check_supervisor(mproc_pool *p)
{
    if (p->sup_reaped || p->state == P_TERMINATED)
        return;
    reap_supervisor(p, false);
    if (!p->sup_reaped)
        return;
    stop_ext(p);
    collect(p);
    if (!atomic_load(&p->sh->broken))
        p->lost = true;
    settle_all(p, atomic_load(&p->sh->broken) ? MPROC_EINIT : MPROC_EWORKER);
    wake_owners(p);
}

/* Waits (mutex held, released meanwhile) until an outcome may be there to
   collect, the deadline passes, or a while has gone by. */
static void wait_progress(mproc_pool *p, double deadline)
{
    mproc__shared *sh = p->sh;
    uint32_t seq = atomic_load(&sh->done_seq);
    if ((int32_t)(seq - p->collected) > 0)
        return;
    p->local_sleepers++;
    pthread_mutex_unlock(&p->mu);
    double now = mproc__now(), start = now;
    double spin = atomic_load(&p->spin);
    double spin_end = now + spin;
    bool moved = false;
    for (unsigned i = 1; !moved; i++) {
        if (atomic_load(&sh->done_seq) != seq)
            moved = true;
        else if ((i & 63) == 0 && (now = mproc__now()) >= spin_end)
            break;
        else
            mproc__cpu_relax();
    }
    if (!moved && now < deadline) {
        double until = now + SUP_CHECK < deadline ? now + SUP_CHECK : deadline;
        atomic_store(&sh->done_wake, 1);
        if (atomic_load(&sh->done_seq) == seq)
            mproc__futex_wait(&sh->done_seq, seq, until);
    }
    /* Would the longest poll have caught the outcome? Then poll long; else
       poll less. (Not under the mutex: a lost update only nudges a
       heuristic.) */
    if (atomic_load(&sh->done_seq) != seq && mproc__now() - start <= OWNER_SPIN_MAX)
        atomic_store(&p->spin, OWNER_SPIN_MAX);
    else
        atomic_store(&p->spin, spin / 2 > OWNER_SPIN_MIN ? spin / 2 : OWNER_SPIN_MIN);
    pthread_mutex_lock(&p->mu);
    if (--p->local_sleepers == 0)
        pthread_cond_broadcast(&p->cv);
    if (!moved && mproc__now() >= p->next_sup_check) {
        p->next_sup_check = mproc__now() + SUP_CHECK;
        check_supervisor(p);
    }
}

/* ---- creating ------------------------------------------------------------------ */

static void pool_unref(mproc_pool *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->inflight);
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
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->refs, 1);
    atomic_init(&p->spin, OWNER_SPIN_MAX);
    p->arena_fd = p->cmd_fd = -1;
    p->sup_reaped = true;
    p->nprocs = n ? n : 1;
    p->inflight = calloc(MPROC__SLOTS, sizeof *p->inflight);
    if (!p->inflight) {
        err = -ENOMEM;
        goto out;
    }
    seg_acc acc = { 0 };
    dl_iterate_phdr(seg_cb, &acc);
    if (acc.nomem) {
        free(acc.v);
    } else {
        p->segs = acc.v;
        p->nsegs = acc.n;
        p->dl_adds = acc.adds;
    }

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
    p->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->cmd_fd < 0 || pipe2(start, O_CLOEXEC) < 0) {
        err = mproc__err();
        goto out;
    }
    mproc__shared *sh = p->sh;
    sh->nworkers = n;
    sh->maxtasks = o.maxtasksperchild;
    /* A limit past 31 years is no limit (and past 292 would not fit). */
    sh->timeout_ns = o.task_timeout > 1e9 ? 0 : (int64_t)(o.task_timeout * 1e9);
    if (o.task_timeout > 0 && o.task_timeout <= 1e9 && sh->timeout_ns == 0)
        sh->timeout_ns = 1;
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
        reap_supervisor(p, true);
        goto out;
    }
    p->next_sup_check = mproc__now() + SUP_CHECK;
    *out = p;
out:
    mproc__close(start[0]);
    mproc__close(start[1]);
    if (err < 0) {
        release_shared(p);
        pool_unref(p);
    }
    return err;
}

/* ---- submitting ------------------------------------------------------------------ */

typedef struct task {
    mproc_task_fn fn;
    const void *arg;
    size_t arg_len;
    uint32_t kind;
    uint64_t item_size, count;
} task;

static int refuse(mproc_pool *p)
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
        if ((err = refuse(p)) < 0)
            return err;
        if (!p->inflight[p->tail % MPROC__SLOTS])
            break;
        collect(p);
        if (!p->inflight[p->tail % MPROC__SLOTS])
            break;
        wait_progress(p, INFINITY);
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
    s->code = s->detail = s->sig = 0;
    if (t->arg_len <= MPROC__INLINE && t->arg_len)
        memcpy(s->data, t->arg, t->arg_len);
    p->inflight[pos % MPROC__SLOTS] = r;
    p->ninflight++;
    if (r->has_cb)
        p->cb_inflight++;
    p->tail = pos + 1;
    atomic_store(&s->word, mproc__word(pos, 0, SLOT_READY));
    atomic_store(&sh->tail, pos + 1);
    mproc__wake_worker_if_needed(sh);
    if (atomic_load(&sh->broken)) {
        /* The supervisor may have swept the queue just before this task
           arrived; settle it the way the sweep would have. */
        uint64_t v = mproc__word(pos, 0, SLOT_READY);
        if (atomic_compare_exchange_strong(&s->word, &v,
                                           mproc__word(pos, OWNER_SUP, SLOT_RUNNING))) {
            s->code = MPROC_EINIT;
            atomic_store(&s->word, mproc__word(pos, OWNER_SUP, SLOT_DONE));
            mproc__done_publish(sh);
        }
    }
    return 0;
}

static mproc_result *result_new(mproc_pool *p)
{
    mproc_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pool = p;
    atomic_init(&r->refs, 2);
    atomic_fetch_add(&p->refs, 1);
    return r;
}

/* Copies a large argument into the arena, outside the mutex. */
static int stage_arg(mproc_pool *p, mproc_result *r, const void *arg, size_t len)
{
    if (len <= MPROC__INLINE)
        return 0;
    uint64_t off;
    int err = mproc__arena_alloc(p->sh, len, &off);
    if (err < 0)
        return err;
    void *m = mproc__arena_map(p->arena_fd, off, len, true);
    if (!m) {
        err = mproc__err();
        mproc__arena_release(p->arena_fd, off, len);
        return err;
    }
    memcpy(m, arg, len);
    mproc__arena_unmap(m, len);
    r->arg_off = off;
    r->arg_len = len;
    return 0;
}

static void unstage_arg(mproc_pool *p, mproc_result *r)
{
    if (r->arg_len > MPROC__INLINE)
        mproc__arena_release(p->arena_fd, r->arg_off, r->arg_len);
    r->arg_len = 0;
}

static void result_discard(mproc_result *r)
{
    mproc_pool *p = r->pool;
    free(r);
    pool_unref(p);
}

static int submit(mproc_pool *p, const task *t, mproc_result **out)
{
    int err = 0;
    if (t->arg_len > MPROC__INLINE) {
        /* Not worth copying a large argument for a pool that refuses. */
        pthread_mutex_lock(&p->mu);
        err = p->sh ? refuse(p) : -EINVAL;
        pthread_mutex_unlock(&p->mu);
        if (err < 0)
            return err;
    }
    if ((err = check_fn(p, t->fn)) < 0)
        return err;
    mproc_result *r = result_new(p);
    if (!r)
        return -ENOMEM;
    if ((err = stage_arg(p, r, t->arg, t->arg_len)) < 0) {
        result_discard(r);
        return err;
    }
    r->arg_len = t->arg_len;
    pthread_mutex_lock(&p->mu);
    err = p->sh ? publish(p, r, t) : -EINVAL;
    if (err < 0)
        unstage_arg(p, r);
    pthread_mutex_unlock(&p->mu);
    if (err < 0) {
        result_discard(r);
        return err;
    }
    *out = r;
    return 0;
}

int mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn, const void *arg, size_t arg_len,
                           mproc_result **out)
{
    if (!pool || !fn || !out || (!arg && arg_len))
        return -EINVAL;
    task t = { .fn = fn, .arg = arg, .arg_len = arg_len, .kind = TASK_APPLY };
    return submit(pool, &t, out);
}

int mproc__pool_submit_raw(mproc_pool *p, mproc_task_fn fn, const void *arg, size_t arg_len,
                           unsigned kind, uint64_t item_size, uint64_t count, mproc_result **out)
{
    if (!p || !fn || !out || (!arg && arg_len) || (kind != TASK_APPLY && kind != TASK_CHUNK))
        return -EINVAL;
    task t = { .fn = fn, .arg = arg, .arg_len = arg_len, .kind = kind, .item_size = item_size,
               .count = count };
    return submit(p, &t, out);
}

void mproc__pool_set_procs(mproc_pool *p, unsigned nprocs)
{
    p->nprocs = nprocs ? nprocs : 1;
}

void mproc__pool_attach(mproc_pool *p, const mproc__pool_ext *ext)
{
    pthread_mutex_lock(&p->mu);
    p->ext = *ext;
    p->has_ext = true;
    pthread_mutex_unlock(&p->mu);
}

mproc__shared *mproc__pool_ring(mproc_pool *p, int *arena_fd)
{
    *arena_fd = p->arena_fd;
    return p->sh;
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
            copy = malloc(n);
            if (!copy) {
                mproc_result_free(r);
                return -ENOMEM;
            }
            memcpy(copy, d, n);
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
    if (!pool)
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
    reap_supervisor(p, true);
    stop_ext(p);
    collect(p);
    settle_all(p, -ECANCELED);
    wake_owners(p);
}

int mproc_pool_terminate(mproc_pool *pool)
{
    if (!pool)
        return -EINVAL;
    pthread_mutex_lock(&pool->mu);
    terminate_locked(pool);
    pthread_mutex_unlock(&pool->mu);
    return 0;
}

int mproc_pool_join(mproc_pool *pool)
{
    if (!pool)
        return -EINVAL;
    pthread_mutex_lock(&pool->mu);
    int err = 0;
    if (pool->state == P_OPEN) {
        err = -EINVAL;
        goto out;
    }
    if (pool->joined || !pool->sh)
        goto out;
    /* An extension's tasks have their outcomes from it, not from the
       supervisor's workers. */
    while (pool->ninflight > 0 && (!pool->sup_reaped || pool->has_ext)) {
        collect(pool);
        if (pool->ninflight == 0)
            break;
        wait_progress(pool, INFINITY);
    }
    /* The supervisor leaves once closing finds the ring drained; when the
       extension took the last tasks no worker's exit wakes it to look. */
    if (pool->has_ext)
        send_cmd(pool);
    reap_supervisor(pool, true);
    collect(pool);
    settle_all(pool, atomic_load(&pool->sh->broken) ? MPROC_EINIT : MPROC_EWORKER);
    pool->joined = true;
out:
    pthread_mutex_unlock(&pool->mu);
    return err;
}

void mproc_pool_free(mproc_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    terminate_locked(pool);
    pool->joined = true;
    pool->freed = true;
    /* Threads still inside a wait on the shared futex must leave it before
       the mapping goes. */
    while (pool->local_sleepers > 0) {
        if (pool->sh)
            wake_owners(pool);
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
    pool_unref(pool);
}

/* ---- results ----------------------------------------------------------------------- */

int mproc_result_wait(mproc_result *r, double timeout)
{
    if (!r || !mproc__timeout_ok(timeout))
        return -EINVAL;
    if (atomic_load(&r->ready))
        return 0;
    mproc_pool *p = r->pool;
    double deadline = mproc__deadline(timeout);
    int err = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        collect(p);
        if (atomic_load(&r->ready))
            break;
        if (mproc__now() >= deadline || !p->sh) {
            err = -ETIMEDOUT;
            break;
        }
        wait_progress(p, deadline);
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

bool mproc_result_ready(mproc_result *r)
{
    if (!r)
        return false;
    if (atomic_load(&r->ready))
        return true;
    mproc_pool *p = r->pool;
    /* Collect what is there, without waiting for a busy collector. */
    if (pthread_mutex_trylock(&p->mu) == 0) {
        collect(p);
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
            *data = r->data;
        if (len)
            *len = r->len;
    }
    return r->code;
}

int mproc_result_code(const mproc_result *r)
{
    if (!r || !atomic_load(&r->ready))
        return 0;
    if (r->code == MPROC_ETASK || (r->code == MPROC_EWORKER && r->sig == 0))
        return r->detail;
    return 0;
}

int mproc_result_signal(const mproc_result *r)
{
    if (!r || !atomic_load(&r->ready))
        return 0;
    return r->code == MPROC_EWORKER || r->code == MPROC_ETASKTIMEOUT ? r->sig : 0;
}

void mproc_result_free(mproc_result *r)
{
    if (!r)
        return;
    atomic_store(&r->user_freed, true);
    result_drop(r, false);
}

int mproc_result_wait_any(mproc_result *const *rs, size_t n, double timeout)
{
    if (!rs || n == 0 || !mproc__timeout_ok(timeout))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!rs[i] || rs[i]->pool != rs[0]->pool)
            return -EINVAL;
    mproc_pool *p = rs[0]->pool;
    double deadline = mproc__deadline(timeout);
    int found = -ETIMEDOUT;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        collect(p);
        for (size_t i = 0; i < n && found < 0; i++)
            if (atomic_load(&rs[i]->ready))
                found = i > INT_MAX ? INT_MAX : (int)i;
        if (found >= 0 || mproc__now() >= deadline || !p->sh)
            break;
        wait_progress(p, deadline);
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
            pthread_mutex_unlock(&p->mu);
            if (!atomic_load(&r->user_freed)) {
                mproc_result_cb fn = r->code == 0 ? r->on_ok : r->on_err;
                if (fn)
                    fn(r, r->cookie);
            }
            result_drop(r, false);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->cb_stop)
            break;
        if (p->cb_inflight > 0 && p->sh) {
            /* Outcomes with callbacks come even when nobody waits: this
               thread collects them. */
            collect(p);
            if (!p->cbq_head && p->cb_inflight > 0)
                wait_progress(p, INFINITY);
            continue;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    pool_unref(p);
    return NULL;
}

int mproc_result_on_ready(mproc_result *r, mproc_result_cb on_success, mproc_result_cb on_error,
                          void *cookie)
{
    if (!r)
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
    if (!p->cb_started && !p->cb_stop) {
        sigset_t old;
        mproc__block_all(&old);
        atomic_fetch_add(&p->refs, 1);
        int e = pthread_create(&p->cb_thread, NULL, cb_main, p);
        mproc__restore_mask(&old);
        if (e) {
            atomic_fetch_sub(&p->refs, 1);
            err = -EAGAIN;
            goto out;
        }
        p->cb_started = true;
    }
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

/* ---- map and iterators ----------------------------------------------------------- */

typedef struct chunk_view {
    uint64_t count;
    uint64_t uniform;       /* 0, or every item's length (all returned 0) */
    bool ok;                /* the chunk ran: per-item outcomes are here */
    const int32_t *codes;
    const uint64_t *ends;
    const char *data;
} chunk_view;

struct mproc_map {
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

/* Reads a chunk's result (layout in pool_server.c, run_chunk). */
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
    if (!v->codes) {
        it->code = it->detail = 0;
        it->len = (size_t)v->uniform;
        it->data = it->len ? v->data + j * it->len : NULL;
        return;
    }
    int32_t rc = v->codes[j];
    uint64_t lo = j ? v->ends[j - 1] : 0, hi = v->ends[j];
    it->code = rc ? MPROC_ETASK : 0;
    it->detail = rc;
    it->data = hi > lo ? v->data + lo : NULL;
    it->len = (size_t)(hi - lo);
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
    if (!p || !fn || (n && (!items || !item_size)))
        return -EINVAL;
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
        int err = p->sh ? refuse(p) : -EINVAL;
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
        int err = submit(p, &t, &m->chunks[c]);
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
    return m ? m->n : 0;
}

int mproc_map_get(const mproc_map *m, size_t i, const void **data, size_t *len)
{
    if (!m || i >= m->n)
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
    if (!m)
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
    if (!m)
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
    if (!it || !item || !mproc__timeout_ok(timeout))
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
    if (!it)
        return;
    map_release(&it->m);
    free(it->pending);
    free(it->pending_idx);
    free(it);
}
