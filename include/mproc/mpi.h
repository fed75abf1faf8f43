/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/**
 * mproc/mpi.h: the same process pool over the ranks of an MPI job
 * (libmproc-mpi; link with pkg-config mproc-mpi, or CMake mproc::mpi).
 *
 * Overview
 * --------
 * mpirun (or srun) starts the same program on every host. Every rank calls
 * mproc_mpi_pool_new. Rank 0, the owner, gets an mproc_pool that every
 * mproc_pool_*, mproc_result_*, map and imap function accepts unchanged;
 * every other rank becomes a hub: it runs an ordinary local pool (its own
 * supervisor and forked workers) and serves rank 0's tasks until rank 0
 * frees the pool. On rank 0 a thread of the library, the forwarder, takes
 * tasks from the pool's queue as a worker would and ships them to the hubs
 * in batches, a window of tasks in flight per rank; the outcomes come back
 * into the same results, callbacks and maps as local ones.
 *
 *   int main(int argc, char **argv)
 *   {
 *       mproc_mpi_opts o = { .pool.processes = 2 };
 *       mproc_pool *pool;
 *       int err = mproc_mpi_pool_new(&pool, &o, &argc, &argv);
 *       if (err < 0)
 *           return 1;            // every rank ends on a failed start
 *       ... mproc_pool_map(pool, square, items, 8, n, 0, &m) ...
 *       mproc_pool_free(pool);   // the hubs leave too
 *       return 0;
 *   }
 *
 * run with: mpirun --bind-to none -np 4 ./prog (without --bind-to none a
 * rank and all of its workers share one core).
 *
 * What travels. A task function travels as (the GNU build-id of the loaded
 * object that holds it, its offset from that object's load base), so
 * addresses may differ from rank to rank; at start every rank checks that
 * it has loaded the same objects with the same build-ids as rank 0 (an
 * object without a build-id is known by a hash of its code). Argument and
 * result bytes travel as they are: the ranks must share one architecture.
 * Messages above the MPI count limit (INT_MAX bytes) are sent in pieces.
 *
 * What never goes wrong. Every guarantee of the local pool (pool.h) holds
 * for every task on every rank: user code runs only in forked workers, so a
 * crash or timeout fails its task alone; every task has exactly one
 * outcome. A rank that is lost (killed, its node down) ends the whole job
 * within about two seconds, leaving no process and no shared memory on any
 * rank (MPI's own rule). So does rank 0 being killed. With rank_timeout > 0
 * and mpirun --enable-recovery (so that MPI lets the job outlive a rank), a
 * rank heard from neither an outcome nor a heartbeat for rank_timeout
 * seconds is lost instead: the tasks it held fail with MPROC_ERANKLOST, it
 * gets no more, and the rest complete on the other ranks.
 *
 * MPI and threads. Every MPI call of the library is made by one thread:
 * rank 0's forwarder, and the calling thread on the other ranks. When the
 * library initializes MPI (the caller has not) it asks for
 * MPI_THREAD_FUNNELED and, on rank 0, calls MPI_Init_thread from the
 * forwarder; MPI is then finalized when the pool is freed, so a program
 * makes one MPI pool. When the caller initialized MPI first, it must have
 * asked for MPI_THREAD_SERIALIZED and must not call MPI while the pool
 * lives; the caller finalizes MPI then. MPI_Comm_spawn is never used.
 *
 * Environment. MPROC_MPI_SPLIT=N sends payloads in pieces of at most N
 * bytes (default INT_MAX; for tests), read by every rank at start.
 */
#ifndef MPROC_MPI_H
#define MPROC_MPI_H

#include <stdbool.h>

#include "mproc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPROC_MPI_SERVED 1          /* returned on ranks other than 0 with workers_return */
#define MPROC_ERANKLOST  (-10005)   /* a task's rank was lost (rank_timeout mode only) */

typedef struct mproc_mpi_opts {
    mproc_pool_opts pool;   /* applied by every rank to its local workers; pool.processes
                               is the workers per rank (0: that rank's mproc_cpu_count()) */
    int owner_processes;    /* workers on rank 0 itself: 0 default (its CPU count - 1, at
                               least 1), -1 none */
    unsigned window;        /* tasks in flight per rank; 0: a default that keeps it busy */
    double rank_timeout;    /* 0: a lost rank ends the whole job (MPI's own rule);
                               > 0: under mpirun --enable-recovery a rank silent this long
                               is lost, only its in-flight tasks fail (MPROC_ERANKLOST) */
    bool workers_return;    /* false: on ranks != 0, serve until the owner frees the pool,
                               then MPI_Finalize and exit(0); true: return MPROC_MPI_SERVED */
} mproc_mpi_opts;

/**
 * mproc_mpi_pool_new - make a pool over every rank of MPI_COMM_WORLD.
 *
 * Collective: every rank calls it, running the same binary, with the same
 * options. opts may be NULL for the defaults. With no MPI launcher in the
 * environment, or a world of one rank, it makes a local pool of
 * opts->pool.processes workers, as mproc_pool_new does, and MPI is not
 * initialized. Otherwise each rank forks its local pool first, then
 * initializes MPI when the caller has not (argc and argv are passed to
 * MPI_Init_thread; either may be NULL).
 *
 * On rank 0 it returns 0 with *out a pool that every mproc_pool_*,
 * mproc_result_*, map and imap function accepts; map's default chunk size
 * counts the workers of every rank. mproc_pool_free (or terminate) also
 * ends the hubs and returns once their workers are gone. On the other
 * ranks it serves until rank 0 frees the pool, then frees the local pool
 * and, with workers_return false, finalizes MPI (when it initialized it)
 * and calls exit(0); with workers_return true it returns MPROC_MPI_SERVED
 * (*out untouched).
 *
 * Errors, on rank 0 and, with workers_return, on the other ranks too (a
 * failed start ends every rank: none waits for another): -EINVAL (NULL out,
 * bad options, window above 4096, a caller's MPI initialized below
 * MPI_THREAD_SERIALIZED, or MPI already finalized); MPROC_EINIT (a worker's
 * initializer failed on some rank); -ENOEXEC (the ranks do not run the same
 * binary: a loaded object missing or with another build-id on some rank);
 * the errors of mproc_pool_new.
 */
MPROC_API int mproc_mpi_pool_new(mproc_pool **out, const mproc_mpi_opts *opts, int *argc,
                                 char ***argv);

/** The calling process's rank in MPI_COMM_WORLD: 0 on the owner; 0 without MPI. */
MPROC_API int mproc_mpi_rank(void);

/** The number of ranks in MPI_COMM_WORLD; 1 without MPI. */
MPROC_API int mproc_mpi_size(void);

#ifdef __cplusplus
}
#endif

#endif
