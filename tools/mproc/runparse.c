/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runparse.c: mproc run's command line read by getopt_long, with tables
 * built from the option table of runopt.c, and --help generated from it.
 */
#include "runopt.h"

#include <assert.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's value for a long option: this plus its index in table. */
#define LONG_BASE 256

static const char *const group_title[G_COUNT] = {
    [G_INPUT] = "Inputs",
    [G_MULTI] = "Several values per job",
    [G_REPL] = "Replacement strings",
    [G_OUTPUT] = "Output",
    [G_CONTROL] = "Jobs and control",
    [G_PIPE] = "Reading stdin in blocks",
    [G_SEM] = "Semaphore",
    [G_INFO] = "Information",
};

/* The first long name of d as "--name", or "-c". */
static void opt_name(char *buf, size_t n, const optdef *d)
{
    if (d->names) {
        size_t l = strcspn(d->names, "|");
        snprintf(buf, n, "--%.*s", (int)l, d->names);
    } else {
        snprintf(buf, n, "-%c", d->shrt);
    }
}

/* ---- --help --------------------------------------------------------------- */

static void help_line(FILE *f, const optdef *d)
{
    char left[64];
    size_t l = d->names ? strcspn(d->names, "|") : 0;
    int n;
    if (d->shrt && d->names)
        n = snprintf(left, sizeof left, "-%c, --%.*s", d->shrt, (int)l, d->names);
    else if (d->shrt)
        n = snprintf(left, sizeof left, "-%c", d->shrt);
    else
        n = snprintf(left, sizeof left, "    --%.*s", (int)l, d->names);
    if (d->meta && n > 0 && (size_t)n < sizeof left)
        snprintf(left + n, sizeof left - (size_t)n, " %s", d->meta);
    if (strlen(left) > 20)
        fprintf(f, "  %s\n  %20s  %s\n", left, "", d->help);
    else
        fprintf(f, "  %-20s  %s\n", left, d->help);
}

int run_opt_help(run_opts *o, const char *val, const optdef *d)
{
    (void)o, (void)val, (void)d;
    FILE *f = stdout;
    fputs("usage: mproc run [OPTIONS] COMMAND [ARG...] ::: VALUE... [::: VALUE...]\n"
          "       mproc run [OPTIONS] COMMAND [ARG...] :::: FILE [:::: FILE]\n"
          "       ... | mproc run [OPTIONS] COMMAND [ARG...]\n"
          "\n"
          "Run COMMAND once per input (every combination of several sources), in\n"
          "parallel, by the shell mproc was started from, each value shell-quoted.\n"
          "Replacement strings:\n"
          "{} value, {.} without extension, {/} basename, {//} dirname, {/.} basename\n"
          "without extension, {#} job number, {%} job slot, {N} {N.} {N/} {N//} {N/.}\n"
          "of source N. Without any, \" {}\" is appended.\n",
          f);
    for (int g = 1; g < G_COUNT; g++) {
        bool title = false;
        for (size_t i = 0; i < run_opt_count; i++) {
            if (run_opt_table[i].group != g || !run_opt_table[i].help)
                continue;
            if (!title)
                fprintf(f, "\n%s:\n", group_title[g]);
            title = true;
            help_line(f, &run_opt_table[i]);
        }
    }
    fputs("\n"
          "Exit status: 0 all succeeded; 1-100 the number failed; 101 more than 100\n"
          "failed; 255 a usage error. See mproc(1).\n",
          f);
    return STOP_OK;
}

/* ---- parsing -------------------------------------------------------------- */

/* getopt_long's tables, built from ours. */
typedef struct getopt_tables {
    struct option *longs;
    char *shorts; /* 3 + 3 per option + NUL at most */
    short by_letter[128];
} getopt_tables;

static void tables_build(getopt_tables *t)
{
    size_t nlong = 0;
    for (size_t i = 0; i < run_opt_count; i++)
        for (const char *p = run_opt_table[i].names; p && *p; p += strcspn(p, "|"), p += *p == '|')
            nlong++;
    t->longs = xmalloc((nlong + 1) * sizeof *t->longs);
    t->shorts = xmalloc(3 + 3 * run_opt_count + 1);
    memset(t->by_letter, -1, sizeof t->by_letter);
    /* '+': stop at the first non-option; ':': report a missing value as ':'. */
    size_t ns = 0, nl = 0;
    t->shorts[ns++] = '+';
    t->shorts[ns++] = ':';
    for (size_t i = 0; i < run_opt_count; i++) {
        const optdef *d = &run_opt_table[i];
        int has = d->arg == ARG_REQ ? required_argument
                  : d->arg == ARG_NONE ? no_argument : optional_argument;
        for (const char *p = d->names; p && *p;) {
            size_t l = strcspn(p, "|");
            char *name = xmalloc(l + 1);
            memcpy(name, p, l);
            name[l] = '\0';
            t->longs[nl++] = (struct option){ name, has, NULL, LONG_BASE + (int)i };
            p += l;
            p += *p == '|';
        }
        if (d->shrt) {
            t->shorts[ns++] = d->shrt;
            if (d->arg != ARG_NONE)
                t->shorts[ns++] = ':';
            if (d->arg == ARG_OPT || d->arg == ARG_OPT_NUM)
                t->shorts[ns++] = ':';
            t->by_letter[(unsigned char)d->shrt] = (short)i;
        }
    }
    t->shorts[ns] = '\0';
    t->longs[nl] = (struct option){ 0 };
}

static void tables_free(getopt_tables *t)
{
    for (struct option *p = t->longs; p && p->name; p++)
        free((char *)p->name);
    free(t->longs);
    free(t->shorts);
}

/* Why getopt_long refused a word starting with "--": unknown, or a prefix
   of several options (it names them, as GNU parallel does). */
static int long_error(const getopt_tables *t, const char *word)
{
    const char *name = word + 2;
    size_t l = strcspn(name, "=");
    tbuf m = {0};
    int seen = -1, distinct = 0;
    for (const struct option *p = t->longs; p->name; p++) {
        if (strncmp(p->name, name, l))
            continue;
        tbuf_adds(&m, m.len ? ", --" : "--");
        tbuf_adds(&m, p->name);
        if (p->val != seen)
            distinct++;
        seen = p->val;
    }
    int rc;
    if (distinct > 1)
        rc = run_usage_error("option '--%.*s' is ambiguous (%s)", (int)l, name, m.p);
    else
        rc = run_usage_error("unknown option '%s'", word);
    tbuf_free(&m);
    return rc;
}

/* The option a "--" word abbreviates when every long name it is a prefix
   of belongs to that one option (aliases): glibc's getopt_long takes such
   a word, musl's counts the aliases and calls it ambiguous. Its index plus
   LONG_BASE, or -1. */
static int long_unique(const getopt_tables *t, const char *word)
{
    const char *name = word + 2;
    size_t l = strcspn(name, "=");
    int found = -1;
    for (const struct option *p = t->longs; p->name; p++) {
        if (strncmp(p->name, name, l))
            continue;
        if (found >= 0 && p->val != found)
            return -1;
        found = p->val;
    }
    return found;
}

static bool looks_numeric(const char *s)
{
    char *end;
    if (!*s)
        return false;
    (void)strtod(s, &end);
    return *end == '\0';
}

static int apply(run_opts *o, const optdef *d, const char *val)
{
    if (o->probe)
        return d->fn == run_opt_profile ? run_opt_profile(o, val, d) : 0;
    if (d->refuse) {
        char name[64];
        opt_name(name, sizeof name, d);
        return run_usage_error("option '%s' is not supported: %s", name, d->refuse);
    }
    if (d->fn)
        return d->fn(o, val, d);
    assert(d->flag >= 0);
    *(bool *)((char *)o + d->flag) = true;
    return 0;
}

int run_parse_opts(run_opts *o, int argc, char **argv, int *rc)
{
    getopt_tables t;
    tables_build(&t);
    int ret = -1;
    *rc = 0;
    opterr = 0;
    optind = 0; /* glibc: start afresh, as if never called */
    for (;;) {
        int c = getopt_long(argc, argv, t.shorts, t.longs, NULL);
        if (c == -1)
            break;
        const char *word = argv[optind - 1];
        int k;
        if (c == '?' && optopt == 0 && !strncmp(word, "--", 2) && (k = long_unique(&t, word)) >= 0) {
            /* musl: take the abbreviation as glibc does. */
            const char *eq = strchr(word, '=');
            int arg = run_opt_table[k - LONG_BASE].arg;
            optarg = eq ? (char *)eq + 1 : NULL;
            c = k;
            if (eq && arg == ARG_NONE) {
                c = '?';
                optopt = k;
            } else if (!eq && arg == ARG_REQ) {
                if (optind < argc) {
                    optarg = argv[optind++];
                } else {
                    c = ':';
                    optopt = k;
                }
            }
        }
        if ((c == '?' || c == ':') && o->probe) {
            *rc = TOOL_EXIT_USAGE;
            goto out;
        }
        if (c == '?' || c == ':') {
            int which = optopt;
            const optdef *d = which >= LONG_BASE ? &run_opt_table[which - LONG_BASE]
                              : which > 0 && which < 128 && t.by_letter[which] >= 0
                                  ? &run_opt_table[t.by_letter[which]]
                                  : NULL;
            char name[64];
            if (d)
                opt_name(name, sizeof name, d);
            if (c == ':')
                *rc = run_usage_error("option '%s' needs a value", name);
            else if (d && which >= LONG_BASE)
                *rc = run_usage_error("option '%s' takes no value", name);
            else if (!strncmp(word, "--", 2))
                *rc = long_error(&t, word);
            else
                *rc = run_usage_error("unknown option '-%c'", which ? which : '?');
            if (!d)
                fputs("see mproc run --help\n", stderr);
            goto out;
        }
        const optdef *d = c >= LONG_BASE ? &run_opt_table[c - LONG_BASE] : &run_opt_table[t.by_letter[c]];
        const char *val = optarg;
        if (!val && optind < argc && argv[optind][0] != '-' &&
            (d->arg == ARG_OPT || (d->arg == ARG_OPT_NUM && looks_numeric(argv[optind]))))
            val = argv[optind++];
        if ((*rc = apply(o, d, val)) != 0) {
            if (*rc == STOP_OK)
                *rc = 0;
            goto out;
        }
    }
    if (!o->probe && o->jobs_s && (*rc = run_jobs_resolve(o)) != 0)
        goto out;
    ret = optind;
out:
    tables_free(&t);
    return ret;
}
