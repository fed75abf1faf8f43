/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 40_mpi_pool: the pool of 20_pool over the ranks of an MPI job. Every
 * rank runs the same program; rank 0 gets the pool, the other ranks serve
 * it with their own workers and leave when rank 0 frees it. Run it with
 *   mpirun --bind-to none -np 3 ./40_mpi_pool
 * (under Slurm: srun --ntasks-per-node=1 ./40_mpi_pool). Started alone,
 * without mpirun, it is an ordinary local pool. */
#include <mproc.h>
#include <mproc/mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Which rank a worker serves: the launcher's variable it inherited. */
static int rank_of_worker(void)
{
    const char *s = getenv("OMPI_COMM_WORLD_RANK");
    if (!s)
        s = getenv("PMI_RANK");
    return s ? atoi(s) : 0;
}

static int cube(const void *arg, size_t len, mproc_out *out)
{
    int n;
    if (len != sizeof n)
        return 1;
    memcpy(&n, arg, sizeof n);
    usleep(20000); /* some work, so that every rank gets a share */
    int result[3] = { n * n * n, rank_of_worker(), (int)getpid() };
    return mproc_out_write(out, result, sizeof result);
}

int main(int argc, char **argv)
{
    /* Two workers on every rank; rank 0 keeps one of its own. */
    mproc_mpi_opts opts = { .pool.processes = 2, .owner_processes = 1 };
    mproc_pool *pool;
    int err = mproc_mpi_pool_new(&pool, &opts, &argc, &argv);
    if (err < 0) {
        fprintf(stderr, "mproc_mpi_pool_new: %s\n", mproc_strerror(err));
        return 1;
    }
    /* Only rank 0 gets here: the other ranks served and left. */
    printf("  a pool over %d rank(s), made by rank %d\n", mproc_mpi_size(), mproc_mpi_rank());

    enum { N = 12 };
    mproc_result *results[N];
    for (int i = 0; i < N; i++) {
        err = mproc_pool_apply_async(pool, cube, &i, sizeof i, &results[i]);
        if (err < 0) {
            fprintf(stderr, "apply_async: %s\n", mproc_strerror(err));
            return 1;
        }
    }
    mproc_pool_close(pool);
    mproc_pool_join(pool);
    for (int i = 0; i < N; i++) {
        const void *data;
        size_t len;
        err = mproc_result_get(results[i], 0, &data, &len);
        if (err == 0 && len == 3 * sizeof(int)) {
            int r[3];
            memcpy(r, data, sizeof r);
            printf("  %2d cubed is %5d  (rank %d, worker %d)\n", i, r[0], r[1], r[2]);
        } else {
            printf("  %2d failed: %s\n", i, mproc_strerror(err));
        }
        mproc_result_free(results[i]);
    }
    mproc_pool_free(pool); /* the hubs and their workers end too */
    return 0;
}
