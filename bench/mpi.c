/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi: the MPI pool (libmproc-mpi), run by bench/mpi.sh under mpirun beside
 * mpi4py.futures (bench/mpi_peer.py) and a raw MPI task farm
 * (bench/mpi_farm.c). Rank 0 runs no workers of its own, and every other
 * rank one, as the peers do. Prints "name value" lines:
 *   empty     empty tasks per second, pipelined (every result waited)
 *   one_us    microseconds per task, one at a time
 *   map       items per second, map of 100,000 8-byte items, chunksize 1000
 *   echo_gbs  GB/s each way, 1 MiB echoes, two in flight per rank: the
 *             best of BENCH_ECHO_ROUNDS rounds, as the raw farm measures it
 *   echo_first_gbs  the same, its first round alone
 * The first round of echoes also pays for what the first large tasks set
 * up (the arena extents they land in, MPI's large-message paths) and
 * takes a few tenths of a second; a round lasts about that long, so one
 * round alone measured mostly that (0.76 to 4 GB/s first, 6 to 8 GB/s in
 * the rounds after it, here).
 */
#include "bench.h"

#include <mproc.h>
#include <mproc/mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static int empty(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    return 0;
}

static int square(const void *arg, size_t len, mproc_out *out)
{
    (void)len;
    int64_t v;
    memcpy(&v, arg, sizeof v);
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}

static int echo(const void *arg, size_t len, mproc_out *out)
{
    return mproc_out_write(out, arg, len);
}

static void fail(const char *what, int err)
{
    fprintf(stderr, "mpi bench: %s: %s\n", what, mproc_strerror(err));
    exit(1);
}

/* n tasks of fn(arg), at most depth in flight; seconds taken. */
static double pipelined(mproc_pool *pool, mproc_task_fn fn, const void *arg, size_t len, int n,
                        int depth)
{
    mproc_result **rs = calloc((size_t)depth, sizeof *rs);
    double t0 = bench_now();
    for (int i = 0; i < n + depth; i++) {
        mproc_result **r = &rs[i % depth];
        if (*r) {
            int e = mproc_result_get(*r, -1, NULL, NULL);
            if (e)
                fail("result", e);
            mproc_result_free(*r);
            *r = NULL;
        }
        if (i < n) {
            int e = mproc_pool_apply_async(pool, fn, arg, len, r);
            if (e)
                fail("apply_async", e);
        }
    }
    double t = bench_now() - t0;
    free(rs);
    return t;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1;
    mproc_mpi_opts o = { .pool.processes = 1, .owner_processes = -1 };
    if (argc > 2)
        o.window = (unsigned)atoi(argv[2]);
    mproc_pool *pool;
    int err = mproc_mpi_pool_new(&pool, &o, &argc, &argv);
    if (err < 0)
        fail("mproc_mpi_pool_new", err);
    int ranks = mproc_mpi_size();

    int n = (int)(200000 * scale);
    double t = pipelined(pool, empty, NULL, 0, n, 2048);
    printf("empty %.0f\n", n / t);

    n = (int)(3000 * scale);
    double s = bench_now();
    for (int i = 0; i < n; i++) {
        int e = mproc_pool_apply(pool, empty, NULL, 0, NULL, NULL);
        if (e)
            fail("apply", e);
    }
    printf("one_us %.1f\n", (bench_now() - s) / n * 1e6);

    enum { M = 100000 };
    static int64_t items[M];
    for (int i = 0; i < M; i++)
        items[i] = i;
    int reps = scale < 1 ? 1 : (int)(5 * scale);
    s = bench_now();
    for (int k = 0; k < reps; k++) {
        mproc_map *m;
        if ((err = mproc_pool_map(pool, square, items, 8, M, 1000, &m)) < 0)
            fail("map", err);
        if ((err = mproc_map_error(m, NULL)) != 0)
            fail("map item", err);
        mproc_map_free(m);
    }
    printf("map %.0f\n", (double)M * reps / (bench_now() - s));

    size_t len = 1 << 20;
    char *buf = malloc(len);
    memset(buf, 7, len);
    n = (int)(300 * scale);
    bench_rounds echo_gbs = { 0 };
    for (int round = 0; round < BENCH_ECHO_ROUNDS; round++) {
        t = pipelined(pool, echo, buf, len, n, 2 * (ranks - 1 > 0 ? ranks - 1 : 1));
        bench_round(&echo_gbs, (double)n * len / t / 1e9);
    }
    bench_rounds_print(&echo_gbs, "echo_gbs", "echo_first_gbs");
    free(buf);
    mproc_pool_free(pool);
    return 0;
}
