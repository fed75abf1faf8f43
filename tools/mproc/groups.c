/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* groups.c: several values per job (-n -N -L -l -X -m --xargs -s), grouped
 * as GNU parallel groups them.
 *
 * DESIGN. GNU parallel fills a job with one more combination of the
 * sources at a time until the command line reaches its usable length (or
 * the count is reached); the one that made it too long goes to the next
 * job, and a single one that is too long alone is an error. The length is
 * that of the command line as built, which GNU parallel estimates and we
 * measure. Since it grows with each value, nearly by the same amount for
 * values alike, the largest group that fits is found by interpolation:
 * the first guess is the previous job's count, the next ones follow the
 * slope between the two nearest measures, so a job usually costs two or
 * three builds; after a few guesses that miss, halving bounds the cost at
 * a logarithm of the count. With -X or -m, the first job that takes every
 * remaining value (the end of the input) instead spreads what is left over
 * the slots, ceil(left / slots) each, and every later job takes no more.
 */
#include "run.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

extern char **environ;

/* The longest single argument Linux takes (MAX_ARG_STRLEN), which is also
   the least it takes of arguments and environment together (ARG_MAX). */
#define ARG_STRLEN_MAX (32 * 4096L)

bool groups_wanted(const run_opts *o)
{
    return o->max_args >= 0 || o->max_replace_args >= 0 || o->max_lines >= 0 ||
           o->max_lines_L >= 0 || o->multi_X || o->multi_m || o->multi_xargs;
}

/* Whether `sh -c "echo ccc..."` of len bytes could run: GNU parallel's
   probe, answered by the kernel's limits instead of by running it. */
static bool acceptable(long len, long env_bytes, long arg_max)
{
    return len + 1 <= ARG_STRLEN_MAX && len + 1 + 16 + env_bytes <= arg_max;
}

/* The bytes of arguments and environment that execve takes, as Linux
   counts them: a quarter of the stack limit, at most 6 MiB (3/4 of
   _STK_LIM), at least 32 pages (ARG_MAX). Computed here: glibc's
   sysconf(_SC_ARG_MAX) follows the stack limit, musl's is ARG_MAX alone. */
static long exec_args_max(void)
{
    long least = ARG_STRLEN_MAX, cap = 6L << 20;
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) < 0)
        return least;
    long quarter = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 4 > (rlim_t)cap
                       ? cap
                       : (long)(rl.rlim_cur / 4);
    return quarter > least ? quarter : least;
}

void line_limits(const run_opts *o, long *real, long *usable)
{
    long env_bytes = 0;
    for (char **e = environ; *e; e++)
        env_bytes += (long)strlen(*e) + 1 + (long)sizeof(char *);
    long arg_max = exec_args_max();
    /* GNU parallel's search: up by 16 times from 324, then halving the
       interval until its ends are within 1%. */
    long upper = 100000000, lower, len = 324;
    do {
        if (len > upper) {
            lower = len;
            goto found;
        }
        lower = len;
        len *= 16;
    } while (acceptable(len, env_bytes, arg_max));
    lower = len / 16;
    upper = len;
    while (!(lower == upper || lower == upper - 1 || (double)lower / (double)upper > 0.99)) {
        long middle = (upper - lower) / 2 + lower;
        if (acceptable(middle, env_bytes, arg_max))
            lower = middle;
        else
            upper = middle;
    }
found:
    *real = lower;
    /* Less 3000 for wrapping, halved for quoting, as GNU parallel keeps. */
    *usable = (lower - 3000) / 2;
    if (o->max_chars > 0) {
        if (o->max_chars <= *usable)
            *usable = o->max_chars;
        else
            fprintf(stderr, "mproc run: Warning: Value for option -s should be < %ld.\n",
                    *usable);
    }
}

/* Tuples [from, to) into g->vals. The search for a job's group asks for
   longer and shorter runs from one start: what the arena already holds is
   kept, cut back or added to, so each value is copied once a job. */
static void collect(groups *g, sources *s, size_t from, size_t to)
{
    if (from != g->from || g->to < from) {
        g->from = g->to = from;
        g->nvals = 0;
        g->arena.len = 0;
    }
    if (to < g->to) {
        size_t k = to - from; /* tuples kept */
        g->nvals = k ? g->tup_nvals[k - 1] : 0;
        g->arena.len = k ? g->tup_len[k - 1] : 0;
        g->to = to;
    }
    const char *base = g->arena.p;
    size_t fixed = g->nvals; /* pointers already right, unless the arena moves */
    for (size_t k = g->to; k < to; k++) {
        char **v;
        size_t n = sources_job(s, k, &v);
        if (k == from)
            g->per_tuple = n;
        if (g->nvals + n + 1 > g->vcap) {
            g->vcap = (g->nvals + n + 1) * 2;
            g->vals = xrealloc(g->vals, g->vcap * sizeof *g->vals);
            g->offs = xrealloc(g->offs, g->vcap * sizeof *g->offs);
        }
        for (size_t m = 0; m < n; m++) {
            g->offs[g->nvals++] = g->arena.len;
            tbuf_add(&g->arena, v[m], strlen(v[m]) + 1);
        }
        size_t t = k - from;
        if (t >= g->tup_cap) {
            g->tup_cap = (t + 1) * 2;
            g->tup_nvals = xrealloc(g->tup_nvals, g->tup_cap * sizeof *g->tup_nvals);
            g->tup_len = xrealloc(g->tup_len, g->tup_cap * sizeof *g->tup_len);
        }
        g->tup_nvals[t] = g->nvals;
        g->tup_len[t] = g->arena.len;
    }
    g->to = to;
    if (g->arena.p != base)
        fixed = 0;
    for (size_t m = fixed; m < g->nvals; m++)
        g->vals[m] = g->arena.p + g->offs[m];
}

/* The length of the command line of tuples [from, to), counted (line is
   scratch). */
static size_t line_len(groups *g, sources *s, const cmd_tmpl *t, size_t from, size_t to,
                       tbuf *line)
{
    collect(g, s, from, to);
    cmd_job job = { .vals = g->vals, .nvals = g->novals ? 0 : g->nvals, .seq = 1, .slot = 1,
                    .context = g->context, .novals = g->novals };
    return cmd_measure(t, line, &job);
}

/* The largest k <= cap such that tuples [at, at + k) make a line shorter
   than usable, knowing that one tuple makes len1; guess first, when not 0.
   Measures (k, length) known to fit are ok/lok, the smallest known not to
   fit bad/lbad (bad = cap + 1 while none is known); the next k is where the
   line through the nearest two measures crosses usable. */
static size_t largest_fit(groups *g, sources *s, const cmd_tmpl *t, size_t at, size_t cap,
                          size_t guess, size_t usable, size_t len1, tbuf *line)
{
    size_t ok = 1, lok = len1, bad = cap + 1, lbad = 0, ok0 = 0, lok0 = 0;
    for (int round = 0; bad - ok > 1; round++) {
        size_t k;
        if (round == 0 && guess > 1) {
            k = guess;
        } else if (round >= 6) {
            k = bad <= cap ? ok + (bad - ok) / 2 : ok * 2; /* the estimates miss: halve */
        } else {
            /* Length per tuple, from the nearest measures. */
            double slope = bad <= cap      ? (double)(lbad - lok) / (double)(bad - ok)
                           : ok0 && ok > ok0 ? (double)(lok - lok0) / (double)(ok - ok0)
                                           : (double)len1;
            if (slope <= 0)
                slope = 1;
            double target = (double)ok + (double)(usable - 1 - lok) / slope;
            k = target >= (double)cap ? cap : (size_t)target;
        }
        if (k <= ok)
            k = ok + 1;
        if (k >= bad)
            k = bad - 1;
        size_t len = line_len(g, s, t, at, at + k, line);
        if (len < usable) {
            ok0 = ok;
            lok0 = lok;
            ok = k;
            lok = len;
        } else {
            bad = k;
            lbad = len;
        }
    }
    return ok;
}

static void push_start(groups *g, size_t at)
{
    if (g->n + 2 > g->cap) {
        g->cap = (g->n + 2) * 2;
        g->start = xrealloc(g->start, g->cap * sizeof *g->start);
    }
    g->start[g->n++] = at;
}

long groups_form(groups *g, const run_opts *o, sources *s, size_t ntuples, const cmd_tmpl *t,
                 size_t nslots)
{
    memset(g, 0, sizeof *g);
    g->on = true;
    /* GNU parallel's order: -n, then -l and -L when nothing else is set,
       and -N over all of them. */
    long max = o->max_args;
    if (o->max_lines >= 0 && max < 0)
        max = o->max_lines;
    if (o->max_lines_L >= 0 && max < 0)
        max = o->max_lines_L;
    if (o->max_replace_args >= 0)
        max = o->max_replace_args;
    bool any_length = o->multi_X || o->multi_m || o->multi_xargs;
    if (max < 0 && !any_length)
        max = 1;
    g->context = o->multi_X || o->max_replace_args >= 0 ||
                 ((o->max_lines_L >= 0 || o->max_replace_args >= 0) && !o->multi_m &&
                  !o->multi_xargs);
    /* -N0 or -n0 (GNU parallel's count of 0, whichever set it) still takes
       one value a job, and inserts none. */
    g->novals = max == 0;
    if (max == 0)
        max = 1;
    long real, usable;
    line_limits(o, &real, &usable);
    bool spread = false;
    size_t prev = 0;
    tbuf line = {0};
    size_t at = 0;
    long rc = -1;
    while (at < ntuples) {
        size_t left = ntuples - at;
        size_t cap = max > 0 && (size_t)max < left ? (size_t)max : left;
        /* The first tuple alone must fit. */
        size_t ok = 1, len1 = line_len(g, s, t, at, at + 1, &line);
        if (len1 >= (size_t)usable) {
            tbuf all = {0};
            for (size_t m = 0; m < g->nvals; m++) {
                if (m)
                    tbuf_addc(&all, ' ');
                tbuf_adds(&all, g->vals[m]);
            }
            fprintf(stderr, "mproc run: Error: Command line too long (%zu >= %ld) at input %zu: %.50s%s\n",
                    len1, usable, at, tbuf_cstr(&all), all.len > 50 ? "..." : "");
            tbuf_free(&all);
            goto out;
        }
        ok = largest_fit(g, s, t, at, cap, prev, (size_t)usable, len1, &line);
        prev = ok;
        if (at + ok == ntuples && (o->multi_X || o->multi_m) && !spread) {
            /* The end of the input: spread what is left over the slots
               (-j 0: as many as there are values). */
            spread = true;
            size_t slots = nslots ? nslots : ok;
            if (ok > 1) {
                max = (long)((ok + slots - 1) / slots);
                ok = (size_t)max;
            }
        }
        push_start(g, at);
        at += ok;
    }
    push_start(g, at);
    g->n--; /* start[n] is the end */
    rc = (long)g->n;
out:
    tbuf_free(&line);
    return rc;
}

size_t groups_job(groups *g, sources *s, size_t idx, char ***vals)
{
    collect(g, s, g->start[idx], g->start[idx + 1]);
    *vals = g->vals;
    return g->novals ? 0 : g->nvals;
}

void groups_free(groups *g)
{
    free(g->start);
    free(g->vals);
    free(g->offs);
    free(g->tup_nvals);
    free(g->tup_len);
    tbuf_free(&g->arena);
    memset(g, 0, sizeof *g);
}
