/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* results.c: --results, in GNU parallel's layout: DIR/1/VALUE/2/VALUE/
 * {stdout,stderr,seq} (the sources' names, --header's when given, in
 * order of their names), or one line per job in FILE.csv, FILE.tsv or
 * FILE.json (-.csv and the like on stdout) with the joblog's columns, the
 * values and the output. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int results_open(results *rs, const run_opts *o, int *rc)
{
    memset(rs, 0, sizeof *rs);
    const char *name = o->results;
    if (!name)
        return 0;
    rs->kind = ends_with(name, ".csv") ? RES_CSV : ends_with(name, ".tsv") ? RES_TSV
               : ends_with(name, ".json")                               ? RES_JSON
                                                                         : RES_DIR;
    if (rs->kind == RES_DIR) {
        rs->dir = name;
        return 0;
    }
    if (!strcmp(name, "-.csv") || !strcmp(name, "-.tsv") || !strcmp(name, "-.json")) {
        rs->f = stdout;
        return 0;
    }
    rs->f = fopen(name, "we");
    if (!rs->f) {
        *rc = run_usage_error("Cannot open results file '%s': %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

void results_close(results *rs)
{
    if (rs->f == stdout)
        fflush(stdout);
    else if (rs->f)
        fclose(rs->f);
    rs->f = NULL;
}

/* One CSV or TSV column, quoted as GNU parallel quotes: when it holds the
   separator, white space, a quote (doubled) or a NUL. */
static void csv_col(tbuf *b, const char *v, size_t n, char sep, bool first)
{
    if (!first)
        tbuf_addc(b, sep);
    bool quote = false;
    for (size_t k = 0; k < n && !quote; k++)
        quote = v[k] == sep || v[k] == '"' || v[k] == '\0' || v[k] == ' ' || v[k] == '\t' ||
                v[k] == '\n' || v[k] == '\r' || v[k] == '\f' || v[k] == '\v';
    if (quote)
        tbuf_addc(b, '"');
    for (size_t k = 0; k < n; k++) {
        if (v[k] == '"')
            tbuf_addc(b, '"');
        tbuf_addc(b, v[k]);
    }
    if (quote)
        tbuf_addc(b, '"');
}

static void json_str(tbuf *b, const char *v, size_t n)
{
    tbuf_addc(b, '"');
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)v[k];
        if (c == '\\' || c == '"') {
            tbuf_addc(b, '\\');
            tbuf_addc(b, (char)c);
        } else if (c < 32) {
            tbuf_addf(b, "\\u%04x", c);
        } else {
            tbuf_addc(b, (char)c);
        }
    }
    tbuf_addc(b, '"');
}

/* The name of value column k (0-based) of a record. */
static void col_name(tbuf *b, const results_rec *j, size_t k)
{
    if (k < j->nnames)
        tbuf_adds(b, j->names[k]);
    else
        tbuf_addf(b, "%zu", k + 1);
}

void results_header(results *rs, size_t nvals, char *const *names, size_t nnames)
{
    if (rs->kind != RES_CSV && rs->kind != RES_TSV)
        return;
    char sep = rs->kind == RES_TSV ? '\t' : ',';
    static const char *const cols[] = { "Seq",     "Host",    "Starttime", "JobRuntime", "Send",
                                        "Receive", "Exitval", "Signal",    "Command" };
    tbuf b = {0}, v = {0};
    for (size_t k = 0; k < 9; k++)
        csv_col(&b, cols[k], strlen(cols[k]), sep, k == 0);
    results_rec names_of = { .names = names, .nnames = nnames };
    for (size_t k = 0; k < nvals; k++) {
        v.len = 0;
        if (nnames)
            col_name(&v, &names_of, k);
        else
            tbuf_addf(&v, "V%zu", k + 1);
        csv_col(&b, v.p, v.len, sep, false);
    }
    csv_col(&b, "Stdout", 6, sep, false);
    csv_col(&b, "Stderr", 6, sep, false);
    tbuf_addc(&b, '\n');
    fwrite(b.p, 1, b.len, rs->f);
    fflush(rs->f);
    tbuf_free(&b);
    tbuf_free(&v);
}

/* A CSV, TSV or JSON line for j. */
static void line_rec(results *rs, const results_rec *j, tbuf *b)
{
    char sep = rs->kind == RES_TSV ? '\t' : ',';
    if (rs->kind == RES_JSON) {
        tbuf_addf(b, "{ \"Seq\": %zu, \"Host\": \":\", \"Starttime\": %.3f, \"JobRuntime\": %.3f, "
                     "\"Send\": 0, \"Receive\": %zu, \"Exitval\": %d, \"Signal\": %d, "
                     "\"Command\": ",
                  j->seq, j->start_real, j->runtime, j->received, j->exitval, j->sig);
        json_str(b, j->cmd, strlen(j->cmd));
        tbuf_adds(b, ", \"V\": [ ");
        for (size_t k = 0; k < j->nvals; k++) {
            if (k)
                tbuf_addc(b, ',');
            json_str(b, j->vals[k], strlen(j->vals[k]));
        }
        tbuf_adds(b, " ], \"Stdout\": ");
        json_str(b, j->out, j->outlen);
        tbuf_adds(b, ", \"Stderr\": ");
        json_str(b, j->err, j->errlen);
        tbuf_adds(b, " }\n");
        return;
    }
    tbuf_addf(b, "%zu%c:%c%.3f%c%.3f%c0%c%zu%c%d%c%d", j->seq, sep, sep, j->start_real, sep,
              j->runtime, sep, sep, j->received, sep, j->exitval, sep, j->sig);
    csv_col(b, j->cmd, strlen(j->cmd), sep, false);
    for (size_t k = 0; k < j->nvals; k++)
        csv_col(b, j->vals[k], strlen(j->vals[k]), sep, false);
    csv_col(b, j->out, j->outlen, sep, false);
    csv_col(b, j->err, j->errlen, sep, false);
    tbuf_addc(b, '\n');
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int err = mkdir(path, 0777) < 0 && errno != EEXIST ? -errno : 0;
        *p = '/';
        if (err < 0)
            return err;
    }
    return mkdir(path, 0777) < 0 && errno != EEXIST ? -errno : 0;
}

static int put_file(const char *dir, const char *name, const char *data, size_t n)
{
    tbuf p = {0};
    tbuf_addf(&p, "%s/%s", dir, name);
    int fd = open(p.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int err = fd < 0 ? -errno : write_all(fd, data, n);
    if (fd >= 0)
        close(fd);
    if (err < 0)
        fprintf(stderr, "mproc run: cannot write '%s': %s\n", p.p, strerror(-err));
    tbuf_free(&p);
    return err;
}

/* A value as a folder name: \ \t NUL and / written \\ \t \0 \_. */
static void dir_value(tbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            tbuf_adds(b, "\\\\");
        else if (*v == '\t')
            tbuf_adds(b, "\\t");
        else if (*v == '/')
            tbuf_adds(b, "\\_");
        else
            tbuf_addc(b, *v);
    }
}

static int dir_rec(results *rs, const results_rec *j)
{
    tbuf d = {0};
    tbuf_adds(&d, rs->dir);
    size_t per = j->per_record ? j->per_record : j->nvals;
    /* Each record's columns in order of their names: numbers first. */
    size_t *order = xmalloc((per + 1) * sizeof *order);
    for (size_t k = 0; k < per; k++)
        order[k] = k;
    for (size_t a = 1; a < per; a++) {
        for (size_t c = a; c > 0; c--) {
            tbuf x = {0}, y = {0};
            col_name(&x, j, order[c - 1]);
            col_name(&y, j, order[c]);
            double nx = strtod(x.p, NULL), ny = strtod(y.p, NULL);
            bool swap = nx > ny || (nx == ny && strcmp(x.p, y.p) > 0);
            tbuf_free(&x);
            tbuf_free(&y);
            if (!swap)
                break;
            size_t t = order[c];
            order[c] = order[c - 1];
            order[c - 1] = t;
        }
    }
    for (size_t r = 0; per && r + per <= j->nvals; r += per)
        for (size_t k = 0; k < per; k++) {
            tbuf_addc(&d, '/');
            col_name(&d, j, order[k]);
            tbuf_addc(&d, '/');
            dir_value(&d, j->vals[r + order[k]]);
        }
    free(order);
    int err = mkdirs(d.p);
    if (err < 0) {
        fprintf(stderr, "mproc run: cannot make '%s': %s\n", d.p, strerror(-err));
    } else {
        char seq[32];
        int n = snprintf(seq, sizeof seq, "%zu", j->seq);
        if ((err = put_file(d.p, "seq", seq, (size_t)n)) == 0 &&
            (err = put_file(d.p, "stdout", j->out, j->outlen)) == 0)
            err = put_file(d.p, "stderr", j->err, j->errlen);
    }
    tbuf_free(&d);
    return err;
}

int results_write(results *rs, const results_rec *j, tbuf *line)
{
    if (rs->kind == RES_NONE)
        return 0;
    if (rs->kind == RES_DIR)
        return dir_rec(rs, j);
    tbuf b = {0};
    line_rec(rs, j, rs->f == stdout ? line : &b);
    if (rs->f != stdout) {
        fwrite(b.p, 1, b.len, rs->f);
        fflush(rs->f);
    }
    tbuf_free(&b);
    return 0;
}
