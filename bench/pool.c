/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool: the process pool against Python's multiprocessing.Pool(2) and
 * concurrent.futures.ProcessPoolExecutor(2) (fork), and a raw pipe ping-pong
 * between two processes (the floor of one task at a time):
 *   - empty-task apply_async throughput, every result waited;
 *   - one task at a time (apply_async then get);
 *   - map of 1,000,000 4-byte items with the default chunksize;
 *   - CPU-bound tasks on 2 workers against 1.
 * Run: build/bench/pool [SCALE] (SCALE multiplies the task counts).
 */
#include <math.h>
#include <mproc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

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
    int32_t v;
    memcpy(&v, arg, sizeof v);
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}

/* About 20 ms of arithmetic the compiler cannot fold away. */
static int burn(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 12000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return mproc_out_write(out, &x, sizeof x);
}

static mproc_pool *pool_new(int n)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = n };
    if (mproc_pool_new(&p, &o) < 0)
        exit(1);
    return p;
}

static double bench_throughput(mproc_pool *p, int n)
{
    mproc_result **rs = malloc((size_t)n * sizeof *rs);
    double t = bench_now();
    for (int i = 0; i < n; i++)
        if (mproc_pool_apply_async(p, empty, NULL, 0, &rs[i]) < 0)
            exit(1);
    for (int i = 0; i < n; i++) {
        if (mproc_result_wait(rs[i], -1) < 0)
            exit(1);
        mproc_result_free(rs[i]);
    }
    t = bench_now() - t;
    free(rs);
    return t / n;
}

static double bench_apply(mproc_pool *p, int n)
{
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        mproc_result *r;
        if (mproc_pool_apply_async(p, empty, NULL, 0, &r) < 0 || mproc_result_get(r, -1, NULL, NULL))
            exit(1);
        mproc_result_free(r);
    }
    return (bench_now() - t) / n;
}

static double bench_pipe(int n)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        char c;
        while (read(a[0], &c, 1) == 1 && write(b[1], &c, 1) == 1)
            ;
        _exit(0);
    }
    char c = 0;
    double t = bench_now();
    for (int i = 0; i < n; i++)
        if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
            exit(1);
    t = bench_now() - t;
    close(a[1]);
    close(a[0]);
    close(b[0]);
    close(b[1]);
    waitpid(pid, NULL, 0);
    return t / n;
}

static double bench_map(mproc_pool *p, const int32_t *items, size_t n)
{
    mproc_map *m;
    double t = bench_now();
    if (mproc_pool_map(p, square, items, sizeof *items, n, 0, &m) < 0 || mproc_map_error(m, NULL))
        exit(1);
    t = bench_now() - t;
    const void *d;
    int32_t v;
    if (mproc_map_get(m, n - 1, &d, NULL) < 0 || (memcpy(&v, d, 4), v != (int32_t)((n - 1) * (n - 1))))
        exit(1);
    mproc_map_free(m);
    return t;
}

static double bench_cpu(int workers, int tasks)
{
    mproc_pool *p = pool_new(workers);
    mproc_result **rs = malloc((size_t)tasks * sizeof *rs);
    double t = bench_now();
    for (int i = 0; i < tasks; i++)
        if (mproc_pool_apply_async(p, burn, NULL, 0, &rs[i]) < 0)
            exit(1);
    for (int i = 0; i < tasks; i++) {
        if (mproc_result_get(rs[i], -1, NULL, NULL) != 0)
            exit(1);
        mproc_result_free(rs[i]);
    }
    t = bench_now() - t;
    free(rs);
    mproc_pool_free(p);
    return t;
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    char args[64];

    /* 1. throughput */
    mproc_pool *p = pool_new(2);
    bench_throughput(p, 20000);
    double ours = 0;
    for (int r = 0; r < 3; r++)
        ours += bench_throughput(p, 200000 * scale) / 3;
    snprintf(args, sizeof args, "throughput %d", 20000 * scale);
    double py = bench_python("pool_peer.py", args);
    snprintf(args, sizeof args, "executor %d", 10000 * scale);
    double ex = bench_python("pool_peer.py", args);
    bench_header("Empty tasks through 2 workers: apply_async, then every result waited", "per task");
    bench_row("mproc_pool_apply_async", ours, ours);
    bench_row("Python multiprocessing.Pool(2).apply_async", py, ours);
    bench_row("Python ProcessPoolExecutor(2).submit", ex, ours);
    if (py > 0)
        printf("  mproc is %.0fx faster than Python's Pool (goal: 50x)\n", py / ours);
    printf("\n");

    /* 2. one at a time */
    bench_apply(p, 2000);
    bench_pipe(2000);
    double one = 0, pipe_rt = 0;
    for (int r = 0; r < 3; r++) {
        one += bench_apply(p, 20000 * scale) / 3;
        pipe_rt += bench_pipe(20000 * scale) / 3;
    }
    snprintf(args, sizeof args, "apply %d", 3000 * scale);
    double pya = bench_python("pool_peer.py", args);
    bench_header("One task at a time: submit, wait for its result, repeat", "per task");
    bench_row("mproc apply_async + result_get", one, one);
    bench_row("raw pipe ping-pong between two processes", pipe_rt, one);
    bench_row("Python multiprocessing.Pool(2).apply", pya, one);
    printf("  mproc is %.2fx the pipe round trip (goal: within 1.5x)\n\n", one / pipe_rt);

    /* 3. map */
    size_t n = 1000000;
    int32_t *items = malloc(n * sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = (int32_t)i;
    bench_map(p, items, n);
    double map = 0;
    for (int r = 0; r < 5; r++)
        map += bench_map(p, items, n) / 5;
    free(items);
    mproc_pool_free(p);
    snprintf(args, sizeof args, "map %zu", n);
    double pym = bench_python("pool_peer.py", args);
    bench_header("map over 1,000,000 4-byte items, default chunksize, 2 workers", "per map");
    bench_row("mproc_pool_map", map, map);
    bench_row("Python multiprocessing.Pool(2).map", pym, map);
    if (pym > 0)
        printf("  mproc is %.1fx faster than Python's Pool.map (goal: 10x)\n", pym / map);
    printf("\n");

    /* 4. CPU-bound scaling */
    /* Best of three, interleaved: other load on the machine only ever
       slows a run down. */
    int tasks = 8;
    double t1 = INFINITY, t2 = INFINITY;
    for (int r = 0; r < 3; r++) {
        double a = bench_cpu(1, tasks), b = bench_cpu(2, tasks);
        t1 = a < t1 ? a : t1;
        t2 = b < t2 ? b : t2;
    }
    bench_header("CPU-bound: 8 tasks of about 20 ms each (best of 3 runs)", "per run");
    bench_row("2 workers", t2, t2);
    bench_row("1 worker", t1, t2);
    printf("  2 workers are %.2fx faster than 1 (goal: 1.9x; %d CPUs usable here)\n", t1 / t2,
           mproc_cpu_count());

    /* 5. Scaling from 1 worker to every usable CPU (up to 16), where there
       are more than two: 4 tasks per worker of the largest pool. */
    int cpus = mproc_cpu_count();
    if (cpus > 2) {
        int most = cpus < 16 ? cpus : 16;
        int jobs = 4 * most;
        printf("\nCPU-bound scaling: %d tasks of about 20 ms each (best of 2 runs)\n", jobs);
        printf("  %-10s %12s %10s %12s\n", "workers", "seconds", "speed-up", "efficiency");
        double base = 0;
        /* 1, 2, 4, ... and the CPU count itself. */
        for (int w = 1;; w = w * 2 < most ? w * 2 : most) {
            double t = INFINITY;
            for (int r = 0; r < 2; r++) {
                double x = bench_cpu(w, jobs);
                t = x < t ? x : t;
            }
            if (w == 1)
                base = t;
            printf("  %-10d %12.3f %9.2fx %11.0f%%\n", w, t, base / t, 100.0 * base / t / w);
            if (w == most)
                break;
        }
    }
    return 0;
}
