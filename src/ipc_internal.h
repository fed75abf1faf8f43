/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* ipc_internal.h: what the IPC modules (pipe, queue, shm, sync) share:
 * futex waits with monotonic deadlines, robust process-shared mutexes, and
 * the layout of shared blocks. */
#ifndef MPROC_IPC_INTERNAL_H
#define MPROC_IPC_INTERNAL_H

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- robust mutexes ------------------------------------------------------- */

/* Initialise a robust, process-shared mutex (recursive when asked). */
int mproc__rmutex_init(pthread_mutex_t *m, bool recursive);
/* Lock with a timeout in seconds (negative: forever, 0: try). 0, -EOWNERDEAD
   (held), -ETIMEDOUT, -EDEADLK, -ENOTRECOVERABLE, -EAGAIN. */
int mproc__rmutex_lock(pthread_mutex_t *m, double deadline);
/* Lock for the library's own bookkeeping, which is written so that a holder
   killed at any instruction leaves it consistent: an owner-died result is
   repaired on the spot and reported as 1 (held), so callers that care (the
   barrier) can tell. 0 or 1 held, -ETIMEDOUT. */
int mproc__ilock(pthread_mutex_t *m, double deadline);

/* ---- shared mappings ------------------------------------------------------- */

/* A MAP_SHARED anonymous mapping of size bytes, zero-filled; NULL and errno
   on failure. For the _new forms of the synchronisation objects. */
void *mproc__shared_alloc(size_t size);
void mproc__shared_free(void *p, size_t size);

/* Make / open a block whose header carries magic (which tells a queue from
   a plain block on attach); the queue lives in such a block. */
/* init (may be NULL) prepares the block's contents before anyone else can
   see them (before a named block gets its name); its error undoes all. */
typedef int (*mproc__shm_init_fn)(void *data, size_t size, void *arg);
int mproc__shm_make(mproc_shm **out, const char *name, size_t size,
                    const mproc_shm_opts *opts, uint32_t magic, mproc__shm_init_fn init,
                    void *arg);
int mproc__shm_open_name(mproc_shm **out, const char *name, uint32_t magic);
int mproc__shm_open_fd(mproc_shm **out, int fd, uint32_t magic);

#define MPROC__SHM_MAGIC_BLOCK 0x6d53484dU /* "mSHM" */
#define MPROC__SHM_MAGIC_QUEUE 0x6d51554eU /* "mQUE" */
#define MPROC__SHM_MAGIC_RSEM  0x6d52534dU /* "mRSM" */

#endif
