/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_pool.c: mproc_mpi_pool_new, the start of every rank, and the
 * start-up exchange that makes a failed start end every rank.
 *
 * Each rank forks its local pool before MPI_Init, so that no worker holds
 * MPI state; the rank and world size are then known only from the
 * launcher's environment. After MPI_Init one exchange decides: every rank
 * reports its pool's status and whether it has loaded the same objects as
 * rank 0, rank 0 sends the verdict, and on a failure every rank returns
 * it (hubs then leave), so that none waits for another.
 */
#include "mpi_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Open MPI's switch (an MCA variable) for MPI_Finalize without a barrier. */
#define ASYNC_FINALIZE "OMPI_MCA_async_mpi_finalize"

/* One of the launcher's variables, as a non-negative int; -1 when unset. */
static int env_int(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == 0 && v >= 0 && v < (1L << 30) ? (int)v : -1;
}

/* The rank and world size a launcher gave this process (size 0: launched,
   size unknown until MPI says); false when no launcher started it. */
static bool launched(int *rank, int *size)
{
    static const char *const ranks[] = { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                         NULL };
    static const char *const sizes[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
                                         "SLURM_STEP_NUM_TASKS", NULL };
    *rank = -1;
    *size = 0;
    for (int i = 0; ranks[i] && *rank < 0; i++)
        *rank = env_int(ranks[i]);
    /* srun without an MPI plugin's variables: a step's task, not the batch
       script (which has SLURM_PROCID too). */
    if (*rank < 0 && getenv("SLURM_STEP_ID") && getenv("SLURM_JOB_ID") &&
        strcmp(getenv("SLURM_STEP_ID"), "batch") != 0)
        *rank = env_int("SLURM_PROCID");
    if (*rank < 0)
        return false;
    for (int i = 0; sizes[i] && *size <= 0; i++)
        *size = env_int(sizes[i]);
    if (*size < 0)
        *size = 0;
    return true;
}

static bool mpi_live(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int mproc_mpi_rank(void)
{
    int rank = 0, size;
    if (mpi_live())
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    else if (!launched(&rank, &size))
        rank = 0;
    return rank;
}

int mproc_mpi_size(void)
{
    int rank, size = 1;
    if (mpi_live())
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    else if (!launched(&rank, &size) || size <= 0)
        size = 1;
    return size;
}

int mproc__mpi_exchange(MPI_Comm comm, const mproc__objtab *objs, const mproc__mpi_start *me,
                        uintptr_t **bases, size_t *nbases, int **workers)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    size_t len = 0;
    void *packed = rank == 0 ? mproc__objtab_pack(objs, &len) : NULL;
    uint64_t L = rank == 0 && !packed ? UINT64_MAX : len;
    MPI_Bcast(&L, 1, MPI_UINT64_T, 0, comm);
    int verdict = 0;
    if (L == UINT64_MAX)
        return -ENOMEM; /* every rank saw it */
    if (rank != 0)
        packed = malloc(L ? L : 1);
    /* A hub without memory for the table still takes part, reporting it. */
    char dummy[64];
    MPI_Bcast(packed ? packed : dummy, packed ? (int)L : 0, MPI_BYTE, 0, comm);
    int rep[3] = { me->status, 0, me->workers };
    if (rank != 0)
        rep[1] = packed ? mproc__objtab_match(objs, packed, L, bases, nbases) : -ENOMEM;
    free(packed);
    int *all = rank == 0 ? malloc((size_t)size * 3 * sizeof *all) : NULL;
    if (rank == 0 && !all)
        MPI_Abort(comm, 1); /* nothing can tell the hubs otherwise */
    MPI_Gather(rep, 3, MPI_INT, all, 3, MPI_INT, 0, comm);
    if (rank == 0) {
        /* A broken initializer anywhere outranks other errors; then any
           pool's error; then a binary that differs. */
        for (int r = 0; r < size; r++)
            if (all[3 * r] == MPROC_EINIT)
                verdict = MPROC_EINIT;
        for (int r = 0; r < size && verdict == 0; r++)
            if (all[3 * r] < 0)
                verdict = all[3 * r];
        for (int r = 1; r < size && verdict == 0; r++)
            if (all[3 * r + 1] < 0)
                verdict = all[3 * r + 1];
    }
    MPI_Bcast(&verdict, 1, MPI_INT, 0, comm);
    if (rank == 0 && workers && verdict == 0) {
        int *w = malloc((size_t)size * sizeof *w);
        if (!w)
            MPI_Abort(comm, 1);
        for (int r = 0; r < size; r++)
            w[r] = all[3 * r + 2];
        *workers = w;
    }
    free(all);
    if (rank != 0 && verdict < 0 && rep[1] == 0) {
        free(*bases);
        *bases = NULL;
    }
    return verdict;
}

static int check_opts(const mproc_mpi_opts *o)
{
    if (o->owner_processes < -1 || o->owner_processes > 4096 || o->window > 4096 ||
        o->pool.processes < 0 || o->pool.processes > 4096 || isnan(o->rank_timeout) ||
        o->rank_timeout < 0 || isnan(o->pool.task_timeout) || o->pool.task_timeout < 0)
        return -EINVAL;
    return 0;
}

/* A rank other than 0: its pool, the exchange, serving, the end. */
static int hub(const mproc_mpi_opts *o, bool lib_init, int *argc, char ***argv,
               mproc__objtab *objs, bool no_fence)
{
    mproc_pool *local = NULL;
    mproc__mpi_start me = { 0 };
    me.workers = o->pool.processes ? o->pool.processes : mproc_cpu_count();
    me.status = mproc_pool_new(&local, &o->pool);
    if (lib_init) {
        int prov;
        MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov);
    }
    if (no_fence)
        unsetenv(ASYNC_FINALIZE);
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    uintptr_t *bases = NULL;
    size_t nbases = 0;
    int verdict = mproc__mpi_exchange(comm, objs, &me, &bases, &nbases, NULL);
    if (verdict == 0)
        mproc__hub_serve(comm, local, (unsigned)me.workers, bases, nbases, o->rank_timeout);
    mproc_pool_free(local);
    free(bases);
    mproc__objtab_free(objs);
    MPI_Comm_free(&comm);
    if (lib_init)
        MPI_Finalize();
    if (!o->workers_return)
        exit(0);
    return verdict < 0 ? verdict : MPROC_MPI_SERVED;
}

int mproc_mpi_pool_new(mproc_pool **out, const mproc_mpi_opts *opts, int *argc, char ***argv)
{
    mproc_mpi_opts o = { 0 };
    if (opts)
        o = *opts;
    if (!out)
        return -EINVAL;
    int err = check_opts(&o);
    if (err < 0)
        return err;
    int init = 0, fin = 0, rank, size;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (fin)
        return -EINVAL;
    if (init) {
        int prov;
        MPI_Query_thread(&prov);
        if (prov < MPI_THREAD_SERIALIZED)
            return -EINVAL;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    } else if (!launched(&rank, &size)) {
        return mproc_pool_new(out, &o.pool);
    }
    if (size == 1)
        return mproc_pool_new(out, &o.pool);

    /* What the workers will have loaded: the same as now. */
    mproc__objtab objs;
    if ((err = mproc__objtab_load(&objs)) < 0)
        return err; /* every rank fails alike: out of memory this early */
    /* rank_timeout mode: MPI_Finalize without its opening barrier. After a
       rank was lost, Open MPI 4.1 (PMIx 4.2) at times fails to tell its
       fence of the death ("PMIX ERROR: BAD-PARAM" from mpirun), and every
       rank left then waits in that barrier for ever. Ours needs none: rank
       0 finalizes only once every live hub has said BYE, and a hub only
       once it has sent everything and been told to stop. Read by MPI_Init
       alone, so it is dropped again once MPI is up. */
    bool no_fence = !init && o.rank_timeout > 0 && !getenv(ASYNC_FINALIZE);
    if (no_fence)
        setenv(ASYNC_FINALIZE, "1", 0);
    if (rank != 0)
        return hub(&o, !init, argc, argv, &objs, no_fence);

    int n = o.owner_processes;
    if (n == 0)
        n = mproc_cpu_count() - 1 > 1 ? mproc_cpu_count() - 1 : 1;
    else if (n < 0)
        n = 0;
    mproc_pool *pool = NULL;
    int st = mproc__pool_new_n(&pool, &o.pool, (unsigned)n);
    if (st < 0)
        pool = NULL;
    err = mproc__fwd_start(pool, &o, !init, argc, argv, st, n, &objs);
    if (no_fence)
        unsetenv(ASYNC_FINALIZE); /* the forwarder has made MPI_Init by now */
    mproc__objtab_free(&objs);
    if (err < 0) {
        mproc_pool_free(pool);
        return err;
    }
    *out = pool;
    return 0;
}
