/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* joblog.c: the joblog, one line per finished job in GNU parallel's format. */
#include "run.h"

#include <stdlib.h>
#include <string.h>

FILE *joblog_open(const char *path, bool append)
{
    append |= path[0] == '+';
    path += path[0] == '+';
    FILE *f;
    if (!strcmp(path, "-"))
        f = stdout;
    else
        f = fopen(path, append ? "ae" : "we");
    if (!f)
        return NULL;
    if (!append)
        fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n", f);
    fflush(f);
    return f;
}

void joblog_close(FILE *f)
{
    if (f == stdout)
        fflush(stdout);
    else if (f)
        fclose(f);
}

void joblog_write(FILE *f, const joblog_rec *rec)
{
    if (!f)
        return;
    fprintf(f, "%zu\t%s\t%.3f\t%10.3f\t%zu\t%zu\t%d\t%d\t", rec->seq,
            rec->host ? rec->host : ":", rec->start_real,
            rec->runtime, rec->sent, rec->received, rec->exitval, rec->sig);
    /* One line per job: a newline in the command is written as a NUL byte,
       as GNU parallel does. */
    for (size_t k = 0; k < rec->cmdlen; k++)
        putc(rec->cmd[k] == '\n' ? '\0' : rec->cmd[k], f);
    putc('\n', f);
    fflush(f);
}

/* Mark seq in the done set. */
static void done_set(joblog_done *d, size_t seq)
{
    if (seq >= d->cap) {
        size_t cap = d->cap ? d->cap : 64;
        while (cap <= seq)
            cap *= 2;
        d->bits = xrealloc(d->bits, cap / 8);
        memset(d->bits + d->cap / 8, 0, (cap - d->cap) / 8);
        d->cap = cap;
    }
    d->bits[seq / 8] |= (unsigned char)(1u << (seq % 8));
}

bool joblog_is_done(const joblog_done *d, size_t seq)
{
    return seq < d->cap && (d->bits[seq / 8] >> (seq % 8) & 1);
}

void joblog_done_free(joblog_done *d)
{
    free(d->bits);
    memset(d, 0, sizeof *d);
}

/* Whether s is a whole decimal number (a joblog's numeric fields). */
static bool numeric(const char *s, size_t n)
{
    while (n > 0 && *s == ' ') /* JobRuntime is padded */
        s++, n--;
    if (n == 0)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= '0' && s[k] <= '9') || s[k] == '.' || s[k] == '-'))
            return false;
    return true;
}

int joblog_read(const char *path, int mode, joblog_done *done, source *retry, int *rc)
{
    if (path[0] == '+')
        path++;
    FILE *f = fopen(path, "re");
    if (!f)
        return 0; /* nothing ran yet */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ret = 0;
    /* The first line is the header, whatever it holds; a joblog that has
       one is appended to. */
    if (getline(&line, &cap, f) > 0)
        ret = 1;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        /* Seq Host Starttime JobRuntime Send Receive Exitval Signal Command */
        const char *fld[9];
        size_t fl[9], n = 0;
        const char *p = line, *end = line + len;
        while (n < 8) {
            const char *tab = memchr(p, '\t', (size_t)(end - p));
            if (!tab)
                break;
            fld[n] = p;
            fl[n++] = (size_t)(tab - p);
            p = tab + 1;
        }
        bool ok = n == 8 && numeric(fld[0], fl[0]) && fl[1] > 0;
        for (size_t k = 2; ok && k < 8; k++)
            ok = numeric(fld[k], fl[k]);
        if (!ok) {
            *rc = run_usage_error("Format of '%s' is wrong: %s", path, line);
            ret = -1;
            goto out;
        }
        size_t seq = (size_t)strtoull(fld[0], NULL, 10);
        bool success = fl[6] == 1 && fld[6][0] == '0' && fl[7] == 1 && fld[7][0] == '0';
        if (mode == JOBLOG_RESUME || success)
            done_set(done, seq);
        if (mode == JOBLOG_RETRY && retry && seq > 0) {
            /* The command of each job by its Seq (NULs were newlines). */
            while (retry->n < seq)
                source_push(retry, "");
            free(retry->v[seq - 1]);
            tbuf c = {0};
            tbuf_add(&c, p, (size_t)(end - p));
            for (size_t k = 0; k < c.len; k++)
                if (c.p[k] == '\0')
                    c.p[k] = '\n';
            retry->v[seq - 1] = success ? xstrdup("true") : xstrdup(tbuf_cstr(&c));
            tbuf_free(&c);
        }
    }
out:
    free(line);
    fclose(f);
    return ret;
}
