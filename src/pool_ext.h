/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_ext.h: the pool's private interface for libmproc-mpi, a second
 * consumer of the ring (DESIGN.md section 4).
 *
 * libmproc never links MPI. libmproc-mpi, a separate library, makes an
 * ordinary pool on every rank and, on rank 0, attaches a forwarder thread
 * that claims tasks from the ring as a worker does and posts their outcomes
 * (mproc__task_claim, mproc__task_post), so that results, callbacks, map
 * chunking and "exactly one outcome" stay the pool's. The functions below
 * are exported from the shared library for that purpose only; they are not
 * part of the API.
 */
#ifndef MPROC_POOL_EXT_H
#define MPROC_POOL_EXT_H

#include "pool_internal.h"

/* The owner name, in slot words, of tasks claimed by an extension. */
#define OWNER_EXT 0xfffeu

/* What the pool asks of an attached extension. stop is called with the
   pool's mutex held (the extension never takes it), once, when the pool is
   terminated, freed or lost: claim nothing more and return once no task of
   the pool will be touched again; the pool then settles the tasks it
   claimed and did not post. */
typedef struct mproc__pool_ext mproc__pool_ext;

/* mproc_pool_new with exactly nworkers local workers (0 allowed: only an
   extension runs tasks then). */
MPROC__EXT_API int mproc__pool_new_n(mproc_pool **out, const mproc_pool_opts *opts,
                                     unsigned nworkers);
/* The number of workers map's default chunk size divides by. */
MPROC__EXT_API void mproc__pool_set_procs(mproc_pool *p, unsigned nprocs);
/* Attaches an extension: join then waits for every outcome, those it holds
   too, and terminate, free or a lost supervisor stop it first. */
MPROC__EXT_API void mproc__pool_attach(mproc_pool *p, const mproc__pool_ext *ext);
/* The pool's ring and arena descriptor. */
MPROC__EXT_API mproc__shared *mproc__pool_ring(mproc_pool *p, int *arena_fd);
/* Writes a large argument's len bytes into dst, the extent they go in
   (libmproc-mpi receives them there): 0 or -errno. */
typedef struct mproc__fill {
    int (*fn)(void *ctx, void *dst, size_t len);
    void *ctx;
} mproc__fill;
/* Submits a task of either kind (TASK_APPLY, or TASK_CHUNK of count items
   of item_size bytes), as apply_async does; with fill (arg NULL, arg_len
   above MPROC__INLINE) its bytes are written by fill instead of copied
   from arg, unless the pool refuses the task first. */
MPROC__EXT_API int mproc__pool_submit_raw(mproc_pool *p, mproc_task_fn fn, const void *arg,
                                          size_t arg_len, const mproc__fill *fill, unsigned kind,
                                          uint64_t item_size, uint64_t count, mproc_result **out);

/* Every task of the pool that no worker has started yet ends now with
   -ECANCELED (libmproc-mpi: tasks sent ahead to a rank that are no longer
   wanted). Takes the pool's mutex. */
MPROC__EXT_API void mproc__pool_drop_waiting(mproc_pool *p);

/* Room for a result of len bytes in slot s: the slot's own bytes, or a
   one-off arena extent from the owner's lists (recorded in s, as a
   worker's one-off; it goes back to those lists once the result is
   freed), writable. NULL with *err. mproc__ext_result_end puts the NUL after the bytes and lets go. */
MPROC__EXT_API void *mproc__ext_result_begin(mproc_pool *pool, mproc__slot *s, size_t len,
                                             int *err);
MPROC__EXT_API void mproc__ext_result_end(mproc__shared *sh, void *p, mproc__slot *s);

/* The ring's consumer side (pool_internal.h) and the arena (ring.h),
   exported for the same library. */
MPROC__EXT_API int mproc__task_claim(mproc__shared *sh, unsigned owner, uint64_t *pos);
MPROC__EXT_API void mproc__task_post(mproc__shared *sh, uint64_t pos, unsigned owner, int code,
                                     int detail, int sig);
MPROC__EXT_API void *mproc__arena_at(const mproc__shared *sh, int fd, uint64_t off, size_t len,
                                      bool writable);
MPROC__EXT_API void mproc__arena_done(const mproc__shared *sh, void *p, uint64_t off, size_t len);

#endif
