/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* bench.h: the shared shape of every benchmark: time a loop, run a Python
 * peer, print a table of figures with ratios against ours. */
#ifndef MPROC_BENCH_H
#define MPROC_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the shell command cmd and returns the number it prints first, or -1
   when it fails. */
static inline double bench_command(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    double v = -1;
    if (fscanf(f, "%lf", &v) != 1)
        v = -1;
    if (pclose(f) != 0)
        v = -1;
    return v;
}

/* Runs `python3 bench/SCRIPT ARGS` and returns the number it prints (seconds
   per operation), or -1 when Python is missing or fails. */
static inline double bench_python(const char *script, const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 '%s/bench/%s' %s 2>/dev/null", MPROC_SOURCE_DIR, script,
             args);
    return bench_command(cmd);
}

/* One row: name, seconds per operation, and how many times slower than
   `ours` it is (ours / it for a rate). */
static inline void bench_header(const char *title, const char *unit)
{
    printf("%s\n", title);
    printf("  %-44s %14s %14s %12s\n", "", unit, "per second", "vs mproc");
}

static inline void bench_row(const char *name, double sec_per_op, double ours)
{
    if (sec_per_op <= 0) {
        printf("  %-44s %14s %14s %12s\n", name, "n/a", "n/a", "n/a");
        return;
    }
    printf("  %-44s %11.2f us %14.0f %11.2fx\n", name, sec_per_op * 1e6, 1.0 / sec_per_op,
           sec_per_op / ours);
}

/* The 1 MiB echo's rounds, ours and the raw MPI farm's alike: the best
   round's rate, and the first round's alone (what a cold start costs). */
#define BENCH_ECHO_ROUNDS 5
typedef struct bench_rounds {
    double best, first;
    int n;
} bench_rounds;

static inline void bench_round(bench_rounds *r, double rate)
{
    if (r->n++ == 0)
        r->first = rate;
    if (rate > r->best)
        r->best = rate;
}

static inline void bench_rounds_print(const bench_rounds *r, const char *best_key,
                                      const char *first_key)
{
    printf("%s %.2f\n%s %.2f\n", best_key, r->best, first_key, r->first);
}

#endif
