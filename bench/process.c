/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* process: start + join of a trivial Process, against raw fork + _exit +
 * waitpid (the floor) and Python's multiprocessing.Process (fork). */
#include <mproc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static double bench_mproc(int n)
{
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        mproc_process *p;
        if (mproc_process_new(&p, nothing, NULL, NULL) < 0 || mproc_process_start(p) < 0)
            exit(1);
        mproc_process_join(p, -1);
        mproc_process_free(p);
    }
    return (bench_now() - t) / n;
}

static double bench_raw(int n)
{
    double t = bench_now();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0)
            exit(1);
        while (waitpid(pid, NULL, 0) < 0)
            ;
    }
    return (bench_now() - t) / n;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    /* Warm up, then interleave rounds so that drift hits both alike, and keep
       each one's best round: noise only ever adds time. */
    bench_raw(200);
    bench_mproc(200);
    double raw = 1e9, ours = 1e9;
    for (int r = 0; r < 5; r++) {
        double a = bench_raw(n / 5), b = bench_mproc(n / 5);
        raw = a < raw ? a : raw;
        ours = b < ours ? b : ours;
    }
    char args[32];
    snprintf(args, sizeof args, "%d", n / 6 > 0 ? n / 6 : 1);
    double py = bench_python("process_peer.py", args);

    bench_header("Process start + join of a trivial target", "per process");
    bench_row("mproc_process start+join", ours, ours);
    bench_row("raw fork + _exit + waitpid (the floor)", raw, ours);
    bench_row("Python multiprocessing.Process (fork)", py, ours);
    printf("  mproc is %.2fx the floor (goal: within 1.3x)", ours / raw);
    if (py > 0)
        printf(", %.1fx faster than Python (goal: 10x)", py / ours);
    printf("\n");
    return 0;
}
