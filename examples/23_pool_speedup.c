/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 23_pool_speedup: real CPU work (counting primes) split over a pool,
 * timed with one worker and with one per CPU: the speedup is what the
 * pool is for. Each piece reports its count as text. */
#include <mproc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Counts the primes in [lo, hi) by trial division: deliberately CPU-bound. */
static int count_primes(const void *arg, size_t len, mproc_out *out)
{
    uint64_t range[2];
    if (len != sizeof range)
        return 1;
    memcpy(range, arg, sizeof range);
    uint64_t count = 0;
    for (uint64_t n = range[0]; n < range[1]; n++) {
        if (n < 2)
            continue;
        bool prime = true;
        for (uint64_t d = 2; d * d <= n; d++) {
            if (n % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime;
    }
    return mproc_out_printf(out, "%llu", (unsigned long long)count);
}

enum { LIMIT = 1500000, PIECES = 48 };

/* The primes below LIMIT on a pool of `workers`; seconds it took. */
static double run(int workers, uint64_t *total)
{
    mproc_pool_opts opts = { .processes = workers };
    mproc_pool *pool;
    if (mproc_pool_new(&pool, &opts) < 0)
        return -1;
    uint64_t ranges[PIECES][2];
    for (int i = 0; i < PIECES; i++) {
        ranges[i][0] = (uint64_t)LIMIT * i / PIECES;
        ranges[i][1] = (uint64_t)LIMIT * (i + 1) / PIECES;
    }
    double t = now();
    mproc_map *m;
    if (mproc_pool_map(pool, count_primes, ranges, sizeof ranges[0], PIECES, 1, &m) < 0)
        return -1;
    t = now() - t;
    *total = 0;
    for (size_t i = 0; i < PIECES; i++) {
        const void *count;
        if (mproc_map_get(m, i, &count, NULL) == 0)
            *total += strtoull(count, NULL, 10);
    }
    mproc_map_free(m);
    mproc_pool_free(pool);
    return t;
}

int main(void)
{
    int cpus = mproc_cpu_count();
    uint64_t one_total, all_total;
    double one = run(1, &one_total);
    double all = run(cpus, &all_total);
    if (one < 0 || all < 0 || one_total != all_total)
        return 1;
    printf("  %llu primes below %d\n", (unsigned long long)all_total, LIMIT);
    printf("  1 worker:  %.3f s\n", one);
    printf("  %d workers: %.3f s   speedup %.2fx on %d CPUs\n", cpus, all, one / all, cpus);
    return 0;
}
