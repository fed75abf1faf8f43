/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runout.c: where `mproc run`'s job output goes: whole per job, in order
 * with -k, line by line with --line-buffer, tagged, with -v and -t; and the
 * joblog line of each finished job. */
#include "out.h"
#include "runloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- output ------------------------------------------------------------------ */

void note_write(run *r, int err)
{
    if (err == -EPIPE && !r->epipe) {
        /* The reader of our output is gone: end everything and leave as a
           writer to a closed pipe does, by SIGPIPE. */
        r->epipe = true;
        r->stop = true;
    }
}

void print_whole(run *r, const char *tag, tbuf *out, tbuf *err)
{
    if (!r->epipe)
        note_write(r, out_write(1, tag, out->p, out->len));
    (void)out_write(2, tag, err->p, err->len);
}

/* -k: room in the pending table for every job known so far. */
void pend_grow(run *r)
{
    if (!r->o.keep || r->total <= r->pend_cap)
        return;
    size_t cap = r->pend_cap ? r->pend_cap : 64;
    while (cap < r->total)
        cap *= 2;
    r->pend = xrealloc(r->pend, cap * sizeof *r->pend);
    memset(r->pend + r->pend_cap, 0, (cap - r->pend_cap) * sizeof *r->pend);
    r->pend_cap = cap;
}

/* Whether this try may still be followed by another: its output is then
   held whole, since only the last try's output is printed. */
bool may_retry(const run *r, const slot *s)
{
    return r->o.retries > 1 && s->tries < r->o.retries;
}

/* -k: print every finished job whose turn has come; the first unfinished
   one, with --line-buffer, starts passing its lines through. */
void print_ready(run *r)
{
    while (r->next_print <= r->total && r->pend[r->next_print - 1].done) {
        pending *p = &r->pend[r->next_print - 1];
        print_whole(r, NULL, &p->out, &p->err);
        tbuf_free(&p->out);
        tbuf_free(&p->err);
        r->next_print++;
    }
    if (!r->o.linebuf)
        return;
    for (long i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->busy && s->seq == r->next_print && !may_retry(r, s)) {
            if (!r->epipe)
                note_write(r, out_lines(1, s->tagstr, &s->out));
            (void)out_lines(2, s->tagstr, &s->err);
        }
    }
}

/* Whether this job's lines go out as they come. */
bool streams(const run *r, const slot *s)
{
    return r->o.linebuf && (!r->o.keep || s->seq == r->next_print) && !may_retry(r, s);
}

/* ---- the joblog ------------------------------------------------------------------ */

void joblog_line(run *r, const slot *s, int exitval, int sig, double runtime)
{
    joblog_rec rec = { .seq = s->seq, .start_real = s->start_real, .runtime = runtime,
                       .sent = pipe_block_len(&r->pipe, s->seq),
                       .received = s->received, .exitval = exitval, .sig = sig,
                       .cmd = s->cmd.p, .cmdlen = s->cmd.len };
    joblog_write(r->joblog, &rec);
}

/* -v: the command before its output; -t: on stderr as it starts. */
void announce(run *r, slot *s)
{
    if (r->o.verbose_v) {
        if (r->o.ungroup) {
            tbuf line = {0};
            tbuf_add(&line, s->cmd.p, s->cmd.len);
            tbuf_addc(&line, '\n');
            if (!r->epipe)
                note_write(r, out_write(1, NULL, line.p, line.len));
            tbuf_free(&line);
        } else {
            tbuf_add(&s->out, s->cmd.p, s->cmd.len);
            tbuf_addc(&s->out, '\n');
        }
    }
    if (r->o.verbose_t) {
        tbuf line = {0};
        tbuf_add(&line, s->cmd.p, s->cmd.len);
        tbuf_addc(&line, '\n');
        (void)out_write(2, NULL, line.p, line.len);
        tbuf_free(&line);
    }
}

char *make_tag(run *r, size_t seq, long slotno)
{
    tbuf t = {0};
    if (r->tagtmpl) {
        cmd_job job = { .vals = r->vals, .nvals = r->nvals, .context = r->grp.context,
                        .novals = r->grp.novals, .seq = seq, .slot = slotno,
                        .total = r->total, .nslots = r->nslots };
        (void)cmd_build(r->tagtmpl, &t, &job);
        tbuf_addc(&t, '\t');
        return t.p;
    }
    for (size_t k = 0; k < r->nvals; k++) {
        if (k)
            tbuf_addc(&t, ' ');
        tbuf_adds(&t, r->vals[k]);
    }
    tbuf_addc(&t, '\t');
    return t.p;
}
