/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runout.c: where `mproc run`'s job output goes: whole per job, in order
 * with -k, line by line with --line-buffer, tagged, with -v and -t; and the
 * joblog line of each finished job. */
#include "out.h"
#include "runloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- held output past the limit ----------------------------------------------- */

const char *tmp_dir(const run *r)
{
    const char *dir = r->o.tmpdir ? r->o.tmpdir : getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

/* The held bytes of one job past which they go to a temporary file. The
   environment variable MPROC_TEST_SPILL_LIMIT sets it; only the tests set
   it, so that small outputs take the file's path. */
static size_t spill_limit(void)
{
    static size_t limit;
    if (!limit) {
        const char *e = getenv("MPROC_TEST_SPILL_LIMIT");
        char *end;
        unsigned long long v = e && *e ? strtoull(e, &end, 10) : 0;
        limit = v > 0 && !*end ? (size_t)v : (size_t)1 << 20;
    }
    return limit;
}

/* A new file in dir that no name reaches: O_TMPFILE, or where the file
   system has none a name unlinked at once. */
static int open_unlinked(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd < 0 ? -errno : fd;
    tbuf name = {0};
    tbuf_addf(&name, "%s/mprocXXXXXX", dir);
    fd = mkostemp(name.p, O_CLOEXEC);
    int err = fd < 0 ? -errno : 0;
    if (fd >= 0)
        unlink(name.p);
    tbuf_free(&name);
    return fd >= 0 ? fd : err;
}

void pend_hold(run *r, pending *p)
{
    if (p->out.len + p->err.len <= spill_limit())
        return;
    const char *dir = tmp_dir(r);
    int fd = open_unlinked(dir);
    int err = fd < 0 ? fd : write_all(fd, p->out.p, p->out.len);
    if (!err)
        err = write_all(fd, p->err.p, p->err.len);
    if (err < 0) {
        /* Held in memory instead: the output is still whole. */
        static bool told;
        if (!told)
            fprintf(stderr, "mproc run: cannot hold output in '%s': %s\n", dir, strerror(-err));
        told = true;
        if (fd >= 0)
            close(fd);
        return;
    }
    p->spilled = true;
    p->fd = fd;
    p->outlen = p->out.len;
    p->errlen = p->err.len;
    tbuf_free(&p->out);
    tbuf_free(&p->err);
}

/* len bytes of the file from, at off, onto fd; 0 or -errno. */
static int copy_out(int from, off_t off, size_t len, int fd)
{
    char buf[65536];
    while (len > 0) {
        ssize_t n = pread(from, buf, len < sizeof buf ? len : sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        int err = out_write(fd, NULL, buf, (size_t)n);
        if (err < 0)
            return err;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

void pend_print(run *r, pending *p)
{
    if (!p->spilled) {
        print_whole(r, NULL, &p->out, &p->err);
        return;
    }
    if (!r->epipe)
        note_write(r, copy_out(p->fd, 0, p->outlen, 1));
    (void)copy_out(p->fd, (off_t)p->outlen, p->errlen, 2);
}

void pend_free(pending *p)
{
    tbuf_free(&p->out);
    tbuf_free(&p->err);
    if (p->spilled)
        close(p->fd);
    p->spilled = false;
}

/* -k: print every finished job whose turn has come; the first unfinished
   one, with --line-buffer, starts passing its lines through. */
void print_ready(run *r)
{
    while (r->next_print <= r->total && r->pend[r->next_print - 1].done) {
        pending *p = &r->pend[r->next_print - 1];
        pend_print(r, p);
        pend_free(p);
        r->next_print++;
    }
    if (!r->o.linebuf)
        return;
    for (long i = 0; i < r->slot_cap; i++) {
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
                        .total = total_shown(r), .nslots = r->nslots };
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
