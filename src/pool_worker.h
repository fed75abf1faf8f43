/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_worker.h: what the server side of the pool shares: the supervisor
 * (pool_supervisor.c) forks the workers (pool_worker.c), whose tasks write
 * their results through mproc_out (pool_out.c) into the slot or into the
 * result extents of their worker place (ring.h, mproc__ext).
 */
#ifndef MPROC_POOL_WORKER_H
#define MPROC_POOL_WORKER_H

#include "ring.h"

#include <time.h>

/* A task's output. Small results are written into the worker's own
   buffer and copied into the slot; a result that grows past the inline
   limit moves, once, into an extent of the worker's place, and the task's
   further writes go straight there: that extent is what the owner reads.
   A task that writes its whole argument, and nothing before it, has it
   as its result without a copy: the output is the argument's own bytes
   (alias) until something more is written, and the argument's extent,
   which the owner sized and NUL-terminated as a result's, is what the
   owner reads. */
struct mproc_out {
    char *buf;          /* where the bytes go: priv, or the extent at off */
    size_t len, cap;    /* in an extent, cap leaves room for the NUL */
    bool failed;        /* an allocation failed: the task's result is -ENOMEM */
    int ext;            /* buf is extent record ext of the place; -1 a one-off; MPROC__NO_EXT: priv */
    uint64_t off;
    size_t ext_cap;
    char *priv;
    size_t priv_cap;
    mproc__shared *sh;  /* where extents come from */
    int arena_fd;
    unsigned place;
    const char *arg;    /* the task's argument when it is in an extent, else NULL */
    size_t arg_len;
    bool alias;         /* buf is arg: the output so far is the whole argument */
};

/* In mproc_out's ext: buf is the private buffer, not an extent. */
#define MPROC__NO_EXT (-2)

static inline int64_t mproc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- pool_out.c: a task's output and its place's result extents ---------- */

/* The output empty, for the next task. */
void mproc__out_start(mproc_out *out);
/* Room for extra more bytes after the output's len. */
int mproc__out_reserve(mproc_out *out, size_t extra);
/* Puts the task's output in slot s as its result: inline, or by lending
   the extent it was written into. The output starts afresh. */
void mproc__out_post(mproc_out *out, mproc__slot *s);
/* Takes an extent of at least need bytes for this worker's output, marked
   OUT; *k is its record in the place, -1 for a one-off no record keeps. */
int mproc__out_ext_take(mproc_out *o, size_t need, int *k, uint64_t *off, size_t *cap);
/* The worker is done with an OUT extent it did not lend. */
void mproc__out_ext_drop(mproc_out *o, int k, uint64_t off, size_t cap);
/* Records in slot s that its result is len bytes in the OUT extent (k,
   off) at p, and lends the extent to the owner. */
void mproc__out_ext_lend(mproc_out *o, mproc__slot *s, int k, uint64_t off, char *p, size_t len,
                         size_t cap);
/* After the task in slot s has run and before its outcome is posted:
   when its result went out in an extent of the place as large as its
   argument's, the place keeps the argument's extent for a later result
   and says so in the slot; the owner takes the result's in exchange when
   it is freed (ring.h). */
void mproc__out_keep_arg(mproc_out *o, mproc__slot *s);
/* For the supervisor, once the worker of place has died: the result
   extent the task in slot s was written into before its outcome was
   posted goes back (an argument that is the result stays the owner's),
   and then every OUT extent of the place is free for the replacement. */
void mproc__place_reclaim_result(mproc__shared *sh, int arena_fd, unsigned place,
                                 const mproc__slot *s);
void mproc__place_free_out(mproc__shared *sh, unsigned place);

/* ---- pool_worker.c ---------------------------------------------------------- */

/* The life of a worker in place, forked by the supervisor sup: it says
   it is ready on ready_fd, then runs tasks until the pool tells it to
   leave. mask and chld are the owner's signal mask and SIGCHLD action. */
_Noreturn void mproc__worker_main(mproc__shared *sh, int arena_fd, int ready_fd, unsigned place,
                                  pid_t sup, const sigset_t *mask, const struct sigaction *chld);

#endif
