/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_internal.h: what the owner-side modules of the pool share: the pool
 * and result structs, collection, and the two ring operations (claiming a
 * task, posting its outcome) that every consumer of the ring uses.
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
 *
 * Files: pool.c (creation, submission, lifecycle), pool_collect.c
 * (collecting outcomes, waiting), pool_result.c (result objects, their API,
 * callbacks), pool_map.c (map, imap and iterators), pool_dl.c (which
 * functions the workers can run), pool_supervisor.c (the supervisor),
 * pool_worker.c (the workers), pool_out.c (a task's output and its
 * worker place's result extents).
 */
#ifndef MPROC_POOL_INTERNAL_H
#define MPROC_POOL_INTERNAL_H

#include "ring.h"

/* ---- the ring's consumer side (ring.c) ------------------------------------------
   Whoever runs tasks (a worker, or a thread that forwards them elsewhere)
   claims them and posts their outcomes through these two, and nothing
   else: "exactly one outcome per task" rests on them. */

/* Claims the oldest queued task for owner (a worker's place + 1, or another
   consumer's name): the claim and the record of who claimed it are one
   swap. Returns 1 with *pos set, 0 when nothing is queued, -EAGAIN when
   another consumer is in the middle of a claim (try again at once). */
int mproc__task_claim(mproc__shared *sh, unsigned owner, uint64_t *pos);
/* Takes the task at pos for owner if it is still queued there (READY to
   RUNNING); false when someone else has it. */
bool mproc__task_take(mproc__shared *sh, uint64_t pos, unsigned owner);
/* Posts the outcome of the task at pos that owner runs: its result bytes
   (res_len, res_off, the inline data) are in the slot already. Wakes owner
   threads waiting for outcomes. */
void mproc__task_post(mproc__shared *sh, uint64_t pos, unsigned owner, int code, int detail,
                      int sig);

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

/* Kept within 120 bytes, glibc's largest fast-bin size on 64-bit
   machines: freed fast-bin chunks are not merged back into the heap's top,
   so a pipeline of many results never makes the heap shrink and grow again
   (a system call and fresh page faults every few hundred tasks). */
struct mproc_result {
    mproc_pool *pool;      /* fixed; the result holds a reference to it */
    _Atomic int refs;
    _Atomic bool ready;
    _Atomic bool user_freed;
    bool has_cb;
    bool in_arena;         /* data is a result extent at off (len bytes and the NUL) */
    int code, detail, sig;
    int ext;               /* its record in place ext_place (-1: a one-off extent) */
    void *data;
    size_t len;
    uint64_t off;
    uint64_t arg_off;      /* the argument's extent, while in flight */
    size_t arg_len;
    mproc_result_cb on_ok, on_err;
    void *cookie;
    mproc_result *cb_next;
    unsigned ext_place;
    bool unmap;            /* the extent lies beyond the window: a mapping of its own */
    bool swap;             /* its worker place kept the argument's extent: the owner
                              keeps the result's in exchange (ring.h) */
    bool arg_huge;         /* the argument's extent is in huge pages */
    bool res_huge;         /* a one-off result extent (ext -1) is in huge pages */
};

_Static_assert(sizeof(void *) != 8 || sizeof(struct mproc_result) <= 120, "result size");

/* A size class of the owner's extents (pool_arena.c). */
#define MPROC__EXT_CLASSES 52
typedef struct mproc__ext_entry {
    uint64_t off;
    uint64_t used;  /* ext_uses when it was put on the list */
    unsigned flags; /* EXT_HUGE or 0 (ring.h) */
} mproc__ext_entry;
typedef struct mproc__ext_list {
    mproc__ext_entry *v;
    size_t n, cap;
} mproc__ext_list;

/* A loaded object's address range, as it was when the pool was made. */
typedef struct seg {
    uintptr_t lo, hi;
} seg;

/* Bumped in every child forked from this process (pool.c): a pool, its
   results and its maps answer only in the process that made them, whose
   generation they keep. A child's copy of a pool shares the ring with the
   owner, so anything it did there would take the owner's tasks and slots. */
extern _Atomic unsigned mproc__pool_fork_gen;
static inline bool mproc__pool_here(unsigned gen)
{
    return gen == atomic_load_explicit(&mproc__pool_fork_gen, memory_order_relaxed);
}

struct mproc_pool {
    pthread_mutex_t mu;
    unsigned gen;            /* mproc__pool_fork_gen of the process that made it */
    pthread_cond_t cv;       /* local_sleepers reached 0; the callback queue */
    _Atomic int refs;
    int state;
    bool joined;
    bool sup_reaped;
    bool lost;               /* the supervisor died from outside */
    int *lost_sig;           /* then: the signal each worker place died of, 0 unknown */
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
    bool cb_busy;            /* the callback thread is running a callback */
    bool freed; /* mproc_pool_free has begun: no callback thread any more */
    pthread_t cb_thread;
    mproc_result *cbq_head, *cbq_tail;
    size_t cb_inflight;      /* in-flight results with callbacks */
    /* the arena (pool_arena.c); the window outlives the shared state, as
       results that point into it may */
    char *win;
    uint64_t win_size;
    uint64_t hpage;          /* the window is aligned to it (ring.h, sh->hpage) */
    pthread_mutex_t ext_mu;
    mproc__ext_list ext_hot[MPROC__EXT_CLASSES], ext_cold[MPROC__EXT_CLASSES];
    uint64_t ext_uses;       /* takes and puts so far, the lists' clock */
    /* libraries loaded when the pool was made */
    unsigned long long dl_adds;
    seg *segs;
    size_t nsegs;
    _Atomic uintptr_t fn_ok; /* a task function known to be in them */
    /* a second consumer of the ring (pool_ext.h), or none */
    bool has_ext;
    struct mproc__pool_ext {
        void *ctx;
        void (*stop)(void *ctx);
    } ext;
};

typedef struct task {
    mproc_task_fn fn;
    const void *arg;
    size_t arg_len;
    /* Instead of copying arg: writes the arg_len bytes (> MPROC__INLINE)
       into dst, their extent (libmproc-mpi receives them there). */
    int (*fill)(void *ctx, void *dst, size_t len);
    void *fill_ctx;
    uint32_t kind;
    uint64_t item_size, count;
    mproc_result_cb on_ok, on_err; /* attached before the task is published */
    void *cookie;
    bool own_timeout;              /* timeout_ns replaces the pool's task_timeout */
    int64_t timeout_ns;
} task;

/* ---- pool.c ---------------------------------------------------------------- */

void mproc__pool_unref(mproc_pool *p);
/* 0 while the pool takes tasks, else the error apply_async returns. Mutex held. */
int mproc__pool_refuse(mproc_pool *p);
/* Gives back the extent of r's argument once its task is over. */
void mproc__pool_unstage_arg(mproc_pool *p, mproc_result *r);
/* Submits one task; *out gets its result. */
int mproc__pool_submit_task(mproc_pool *p, const task *t, mproc_result **out);

/* ---- pool_arena.c ---------------------------------------------------------------- */

/* Maps the arena's window (before the supervisor is forked); none if the
   system refuses every size tried. */
void mproc__pool_window_map(mproc_pool *p);
void mproc__pool_window_unmap(mproc_pool *p);
/* An extent for need bytes: a kept one of its size class, or a new one.
   *flags: EXT_FILLED when it was written before (its pages are there),
   with EXT_HUGE when they are huge pages. */
int mproc__pool_ext_get(mproc_pool *p, size_t need, uint64_t *off, unsigned *flags);
/* Gives an extent of need bytes back to its size class's list, with its
   EXT_HUGE flag. */
void mproc__pool_ext_put(mproc_pool *p, uint64_t off, size_t need, unsigned flags);
void mproc__pool_ext_lists_free(mproc_pool *p);

/* ---- pool_dl.c ---------------------------------------------------------------- */

/* Records the code loaded now, which is what the workers will have. */
void mproc__pool_dl_snapshot(mproc_pool *p);
/* -EFAULT when fn lies in code loaded after the pool was made. */
int mproc__pool_check_fn(mproc_pool *p, mproc_task_fn fn);

/* ---- pool_result.c ------------------------------------------------------------- */

/* A result with two references (the caller's and the pool's). */
mproc_result *mproc__result_new(mproc_pool *p);
/* Frees a result that was never published. */
void mproc__result_discard(mproc_result *r);
void mproc__result_drop(mproc_result *r, bool locked);
/* Frees r's outcome bytes (an arena extent goes back where it came from);
   with the pool's mutex held, or the pool's shared state gone. */
void mproc__result_release_bytes(mproc_pool *p, mproc_result *r);
/* Marks r ready; hands it to the callback thread or drops the pool's
   reference. With the pool's mutex held. */
void mproc__result_settle(mproc_pool *p, mproc_result *r);

/* Starts the callback thread if it is not running. Mutex held. 0 or -EAGAIN. */
int mproc__pool_cb_start(mproc_pool *p);
/* Waits (mutex held, released meanwhile) until the callback thread has run
   every queued callback; at once in the callback thread itself. */
void mproc__pool_wait_callbacks(mproc_pool *p);

/* ---- pool_collect.c ------------------------------------------------------------ */

void mproc__pool_collect(mproc_pool *p);
/* Ends every task in flight with code; 0: as after a supervisor killed
   from outside (a running task MPROC_EWORKER with its worker's signal, a
   task that never started -EPIPE). */
void mproc__pool_settle_all(mproc_pool *p, int code);
void mproc__pool_wake_owners(mproc_pool *p);
void mproc__pool_reap_supervisor(mproc_pool *p, bool block);
/* Stops an attached extension (pool_ext.h), once. Mutex held. */
void mproc__pool_stop_ext(mproc_pool *p);
void mproc__pool_wait_progress(mproc_pool *p, double deadline);

#endif
