/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_payload: echo tasks (the argument comes back as the result) of
 * 1 KiB, 64 KiB, 1 MiB and 16 MiB through 2 workers, 16 in flight, beside
 * Python's Pool(2) and ProcessPoolExecutor(2), a raw pipe echo and a raw
 * shared-memory echo between two processes, and a single-core memcpy of
 * the same size; then the owner's and the workers' RSS after 10,000 1 MiB
 * tasks.
 * Run: build/bench/pool_payload [SCALE] (SCALE multiplies the task counts).
 */
#include <errno.h>
#include <math.h>
#include <mproc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

enum { WINDOW = 16 };

static int echo(const void *arg, size_t len, mproc_out *out)
{
    return mproc_out_write(out, arg, len);
}

static void die(const char *what)
{
    fprintf(stderr, "pool_payload: %s\n", what);
    exit(1);
}

static void check_echo(mproc_result *r, const unsigned char *arg, size_t size)
{
    const void *d;
    size_t len;
    if (mproc_result_get(r, -1, &d, &len) != 0 || len != size)
        die("an echo task failed");
    const unsigned char *b = d;
    if (b[0] != arg[0] || b[size - 1] != arg[size - 1] || b[size / 2] != arg[size / 2])
        die("an echo came back wrong");
    mproc_result_free(r);
}

/* Seconds per echo task, WINDOW in flight. */
static double mproc_echo(mproc_pool *p, const unsigned char *arg, size_t size, int n)
{
    mproc_result *win[WINDOW];
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        if (i >= WINDOW)
            check_echo(win[i % WINDOW], arg, size);
        if (mproc_pool_apply_async(p, echo, arg, size, &win[i % WINDOW]) < 0)
            die("apply_async failed");
    }
    for (int i = n > WINDOW ? n - WINDOW : 0; i < n; i++)
        check_echo(win[i % WINDOW], arg, size);
    return (bench_now() - t) / n;
}

static void full_read(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t k = read(fd, (char *)buf + got, len - got);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            die("pipe read");
        }
        got += (size_t)k;
    }
}

static void full_write(int fd, const void *buf, size_t len)
{
    for (size_t put = 0; put < len;) {
        ssize_t k = write(fd, (const char *)buf + put, len - put);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            die("pipe write");
        }
        put += (size_t)k;
    }
}

/* A child that reads size bytes from one pipe and writes them back on
   another, n times: the floor of moving the bytes through the kernel. */
static double pipe_echo(const unsigned char *arg, size_t size, int n)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        die("pipe");
    unsigned char *buf = malloc(size);
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        for (int i = 0; i < n; i++) {
            full_read(a[0], buf, size);
            full_write(b[1], buf, size);
        }
        _exit(0);
    }
    close(a[0]);
    close(b[1]);
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        full_write(a[1], arg, size);
        full_read(b[0], buf, size);
    }
    t = bench_now() - t;
    if (buf[size - 1] != arg[size - 1])
        die("pipe echo came back wrong");
    close(a[1]);
    close(b[0]);
    waitpid(pid, NULL, 0);
    free(buf);
    return t / n;
}

/* Shared memory between two processes: the parent copies the argument in,
   the child copies it to the result area, the parent reads it there, as a
   pool task does; a byte on a pipe says "your turn". */
static double shm_echo(const unsigned char *arg, size_t size, int n)
{
    unsigned char *m = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("mmap");
    memset(m, 0, 2 * size);
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        char c;
        for (int i = 0; i < n; i++) {
            full_read(a[0], &c, 1);
            memcpy(m + size, m, size);
            full_write(b[1], &c, 1);
        }
        _exit(0);
    }
    close(a[0]);
    close(b[1]);
    char c = 0;
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        memcpy(m, arg, size);
        full_write(a[1], &c, 1);
        full_read(b[0], &c, 1);
        if (m[2 * size - 1] != arg[size - 1])
            die("shared-memory echo came back wrong");
    }
    t = bench_now() - t;
    close(a[1]);
    close(b[0]);
    waitpid(pid, NULL, 0);
    munmap(m, 2 * size);
    return t / n;
}

/* Seconds per memcpy of size bytes, one core, both buffers already
   touched. */
static double memcpy_time(const unsigned char *src, size_t size)
{
    unsigned char *dst = malloc(size);
    memset(dst, 1, size);
    int n = (int)((size_t)1 << 30) / (int)(size < 4096 ? 4096 : size);
    n = n < 64 ? 64 : n;
    memcpy(dst, src, size);
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        memcpy(dst, src, size);
        __asm__ __volatile__("" : : "r"(dst) : "memory");
    }
    t = bench_now() - t;
    free(dst);
    return t / n;
}

/* Resident and proportional set sizes of pid (0: ourselves), in MiB: the
   pool's shared pages count in the RSS of every process that touched them,
   in the PSS shared out among them. */
static void mem_of(pid_t pid, double *rss, double *pss)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid ? (int)pid : (int)getpid());
    *rss = *pss = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Rss: %ld kB", &kb) == 1)
            *rss = kb / 1024.0;
        else if (sscanf(line, "Pss: %ld kB", &kb) == 1)
            *pss = kb / 1024.0;
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    size_t sizes[] = { 1024, 64 << 10, 1 << 20, 16 << 20 };
    const char *names[] = { "1 KiB", "64 KiB", "1 MiB", "16 MiB" };
    size_t biggest = sizes[3];
    unsigned char *arg = malloc(biggest);
    for (size_t i = 0; i < biggest; i++)
        arg[i] = (unsigned char)(i * 2654435761u >> 13);

    mproc_pool *p;
    mproc_pool_opts o = { .processes = 2 };
    if (mproc_pool_new(&p, &o) < 0)
        die("mproc_pool_new");

    printf("Echo tasks through 2 workers, %d in flight: tasks per second (higher is better;\n"
           "best of 3 runs for the C rows, one run for Python's)\n", WINDOW);
    printf("  %-7s %10s %10s %10s %10s %10s | %9s %9s %9s\n", "size", "mproc", "Pool",
           "Executor", "raw pipe", "raw shm", "vs Pool", "vs floor", "vs memcpy");
    double ratio_pool[4], ratio_floor[4], ratio_copy[4], copy_gbs[4], ours_gbs[4];
    for (int k = 0; k < 4; k++) {
        size_t size = sizes[k];
        /* About 1 GiB each way for the large sizes, 40,000 tasks for the
           small ones. */
        int n = (int)(((size_t)1 << 30) / size);
        n = (n > 40000 ? 40000 : n < 64 ? 64 : n) * scale;
        int npy = n / 4 > 16 ? n / 4 : 16;
        mproc_echo(p, arg, size, n / 8 > WINDOW ? n / 8 : WINDOW); /* warm up */
        /* Best of three, interleaved: other load on the machine only ever
           slows a run down. */
        double ours = INFINITY, pipe_t = INFINITY, shm_t = INFINITY, copy_t = INFINITY;
        for (int r = 0; r < 3; r++) {
            ours = fmin(ours, mproc_echo(p, arg, size, n));
            pipe_t = fmin(pipe_t, pipe_echo(arg, size, n / 2 > 16 ? n / 2 : 16));
            shm_t = fmin(shm_t, shm_echo(arg, size, n / 2 > 16 ? n / 2 : 16));
            copy_t = fmin(copy_t, memcpy_time(arg, size));
        }
        char args[64];
        snprintf(args, sizeof args, "pool %zu %d", size, npy);
        double py = bench_python("pool_payload_peer.py", args);
        snprintf(args, sizeof args, "executor %zu %d", size, npy);
        double ex = bench_python("pool_payload_peer.py", args);
        double floor_t = pipe_t < shm_t ? pipe_t : shm_t;
        ratio_pool[k] = py > 0 ? py / ours : 0;
        ratio_floor[k] = floor_t / ours;
        /* Bytes each way per second, against one core's memcpy. */
        ours_gbs[k] = (double)size / ours / 1e9;
        copy_gbs[k] = (double)size / copy_t / 1e9;
        ratio_copy[k] = ours_gbs[k] / copy_gbs[k];
        printf("  %-7s %10.0f %10.0f %10.0f %10.0f %10.0f | %8.1fx %8.2fx %8.2fx\n", names[k],
               1 / ours, py > 0 ? 1 / py : 0, ex > 0 ? 1 / ex : 0, 1 / pipe_t, 1 / shm_t,
               ratio_pool[k], ratio_floor[k], ratio_copy[k]);
    }
    printf("\n  %-7s %14s %14s\n", "size", "mproc GB/s", "memcpy GB/s");
    for (int k = 0; k < 4; k++)
        printf("  %-7s %14.2f %14.2f\n", names[k], ours_gbs[k], copy_gbs[k]);
    printf("  (mproc GB/s: argument bytes per second, the same again come back; memcpy: one"
           " core)\n");
    printf("  goals: >= 5x Pool, >= 0.5x the better raw floor, from 64 KiB >= 0.3x memcpy\n");
    for (int k = 0; k < 4; k++)
        printf("  %-7s %s %s %s\n", names[k], ratio_pool[k] >= 5 ? "pool:met " : "pool:MISS",
               ratio_floor[k] >= 0.5 ? "floor:met " : "floor:MISS",
               k == 0 ? "" : ratio_copy[k] >= 0.3 ? "memcpy:met" : "memcpy:MISS");

    /* Memory after many large tasks: what stays resident in each process,
       in a pool that has seen only them. */
    mproc_pool_free(p);
    if (mproc_pool_new(&p, &o) < 0)
        die("mproc_pool_new");
    size_t mib = 1 << 20;
    double before_rss, before_pss;
    mem_of(0, &before_rss, &before_pss);
    mproc_echo(p, arg, mib, 10000 * scale);
    pid_t procs[4] = { 0 };
    const char *who[4] = { "owner", "supervisor", "worker", "worker" };
    int np = 1;
    if (mproc_procinfo_children(0, &procs[1], 1) == 1 && mproc_procinfo_children(procs[1], &procs[2], 2) == 2)
        np = 4;
    printf("\nMemory after %d 1 MiB echo tasks (%d in flight, so 16 MiB of arguments and 16 MiB\n"
           "of results live at once), MiB:\n", 10000 * scale, WINDOW);
    printf("  %-11s %8s %8s\n", "", "RSS", "PSS");
    double total = 0;
    for (int i = 0; i < np; i++) {
        double rss, pss;
        mem_of(procs[i], &rss, &pss);
        if (i == 0) {
            rss -= before_rss;
            pss -= before_pss;
        }
        total += pss;
        printf("  %-11s %8.1f %8.1f%s\n", who[i], rss, pss, i == 0 ? "  (growth over the run)" : "");
    }
    printf("  %-11s %8s %8.1f  (the pool's memory, shared pages counted once)\n", "all", "",
           total);
    mproc_pool_free(p);
    free(arg);
    return 0;
}
