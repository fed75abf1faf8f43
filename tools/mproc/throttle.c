/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* throttle.c: when mproc run may start its next job (--delay, --load,
 * --memfree), when --memfree ends the youngest job, and --timeout N%'s
 * median runtime, each as GNU parallel decides it. */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Readings of the machine are taken at most this often. */
#define READ_EVERY 0.5

void throttle_init(throttle *t, const run_opts *o)
{
    memset(t, 0, sizeof *t);
    t->load_checked = t->mem_checked = -INFINITY;
    if (o->load)
        (void)parse_load(o->load, run_cpus(o), &t->load_max);
}

double throttle_next_start(throttle *t, const run_opts *o, double now)
{
    double at = now;
    if (o->delay > 0 && t->next_start > at)
        at = t->next_start;
    if (o->load) {
        if (now - t->load_checked >= READ_EVERY) {
            t->load_seen = load_now();
            t->load_checked = now;
        }
        /* An unknown load counts as too high, as in GNU parallel. */
        if (t->load_seen < 0 || (double)t->load_seen >= t->load_max)
            at = fmax(at, t->load_checked + READ_EVERY);
    }
    if (o->memfree > 0) {
        if (now - t->mem_checked >= READ_EVERY) {
            t->mem_seen = mem_free();
            t->mem_checked = now;
        }
        if (t->mem_seen >= 0 && t->mem_seen < o->memfree)
            at = fmax(at, t->mem_checked + READ_EVERY);
    }
    return at;
}

void throttle_started(throttle *t, const run_opts *o, double now)
{
    if (o->delay > 0)
        t->next_start = now + o->delay;
}

bool throttle_mem_low(throttle *t, const run_opts *o, double now)
{
    if (!(o->memfree > 0))
        return false;
    if (now - t->mem_checked >= READ_EVERY) {
        t->mem_seen = mem_free();
        t->mem_checked = now;
        /* Below half of it: the youngest job goes back to the queue. */
        return t->mem_seen >= 0 && t->mem_seen < o->memfree * 0.5;
    }
    return false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The lower median of v[0..n), as GNU parallel picks it. */
static double median(const double *v, size_t n)
{
    double tmp[REMEDIAN_W];
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return tmp[(n - 1) / 2];
}

void throttle_runtime(throttle *t, double runtime)
{
    /* GNU parallel's remedian: medians of 999 values, of 999 of those,
       and of 999 of those. */
    size_t i = t->rem_i++;
    size_t at[3] = { i % REMEDIAN_W, i / REMEDIAN_W % REMEDIAN_W,
                     i / REMEDIAN_W / REMEDIAN_W % REMEDIAN_W };
    t->rem[0][at[0]] = runtime;
    for (int k = 0; k < 3; k++) {
        if (at[k] + 1 > t->rem_n[k])
            t->rem_n[k] = at[k] + 1;
        if (k < 2)
            t->rem[k + 1][at[k + 1]] = median(t->rem[k], t->rem_n[k]);
    }
    t->remedian = median(t->rem[2], t->rem_n[2]);
}

double throttle_timeout(const throttle *t, const run_opts *o)
{
    if (o->timeout > 0)
        return o->timeout;
    if (o->timeout_pct > 0 && t->rem_i > 0)
        return o->timeout_pct * t->remedian;
    return INFINITY;
}
