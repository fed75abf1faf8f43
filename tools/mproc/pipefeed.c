/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipefeed.c: --pipe's blocks on their way to the jobs: one block per job
 * on its stdin, or (--round-robin) one after another to the jobs running,
 * or (--cat, --fifo) through a temporary file or FIFO named by {}.
 *
 * DESIGN. A block is pages of its own or a range of a file. Pages go into
 * the job's pipe by vmsplice, which lends them rather than copying them;
 * a file's range by splice, which moves the page cache's pages: either way
 * no byte passes through the runner's memory on its way, and the job's
 * read is the one copy. Each write end is non-blocking and fed as poll says
 * it has room, so no job waits for another's.
 *
 * --round-robin follows GNU parallel: the first blocks start up to one job
 * per slot; each later block goes to the first of them (in turn) that has
 * taken all of its previous one, the header once to each job; a block no
 * job can take yet waits, and stdin is read only while none waits. At the
 * input's end each job's stdin is closed once it has taken its last block.
 *
 * --cat writes the block into a new file of --tmpdir before the job starts;
 * --fifo makes a FIFO there and feeds it as a pipe: we hold a read end of
 * our own, so the FIFO takes the block's first bytes before the job opens
 * it and a job that never opens it cannot block us; since a reader's open
 * waits for a writer, our write end is closed (the job's end of file) only
 * once the job has taken every byte, which the loop checks every 10 ms
 * while some FIFO still holds bytes (no event says that a pipe is empty). Either is removed when
 * the job is finished, and at the latest when mproc ends.
 */
#include "pipe.h"
#include "run.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static pipe_feed *feed_of(pipe_in *p, size_t seq)
{
    assert(seq >= 1 && seq <= p->nfeeds);
    return &p->feed[seq - 1];
}

static void block_free(pipe_in *p, size_t idx)
{
    pipe_block *b = &p->blk[idx];
    if (b->mem)
        munmap(b->mem, b->cap);
    b->mem = NULL;
}

/* Header bytes before block idx's data when it is a job's first. */
static size_t header_len(const pipe_in *p, const pipe_block *b)
{
    if (!b->mem && b->hlen)
        return b->hlen;
    return p->headerlen * (p->header_twice ? 2 : 1);
}

static void feed_give(pipe_feed *f, const pipe_in *p, size_t idx, bool first)
{
    f->blk = idx + 1;
    f->hdr = first ? header_len(p, &p->blk[idx]) : 0;
    f->off = 0;
    f->sent += f->hdr + p->blk[idx].data;
}

static bool feed_live(const pipe_feed *f)
{
    return f->started && !f->gone && f->wfd >= 0;
}

/* --round-robin: the waiting blocks to the jobs that are free, in turn. */
static void rr_assign(pipe_in *p)
{
    for (size_t k = 0; k < p->nfeeds && p->nqueue > 0; k++) {
        size_t i = (p->rr_next + k) % p->nfeeds;
        pipe_feed *f = &p->feed[i];
        if (!feed_live(f) || f->blk)
            continue;
        feed_give(f, p, p->queue[0], false);
        memmove(p->queue, p->queue + 1, --p->nqueue * sizeof *p->queue);
        p->rr_next = i + 1;
    }
    bool any = false;
    for (size_t i = 0; i < p->nfeeds; i++)
        any = any || !p->feed[i].gone;
    if (!any) /* every job is gone: nobody is left to take them */
        while (p->nqueue > 0)
            block_free(p, p->queue[--p->nqueue]);
}

void pipe_add_block(pipe_in *p, pipe_block b)
{
    if (p->nblocks == p->blk_cap) {
        p->blk_cap = p->blk_cap ? p->blk_cap * 2 : 64;
        p->blk = xrealloc(p->blk, p->blk_cap * sizeof *p->blk);
    }
    size_t idx = p->nblocks++;
    p->blk[idx] = b;
    if (!p->rr || p->nfeeds < p->rr_jobs) {
        if (p->nfeeds == p->feed_cap) {
            p->feed_cap = p->feed_cap ? p->feed_cap * 2 : 64;
            p->feed = xrealloc(p->feed, p->feed_cap * sizeof *p->feed);
        }
        pipe_feed *f = &p->feed[p->nfeeds++];
        *f = (pipe_feed){ .wfd = -1, .rfd = -1 };
        feed_give(f, p, idx, true);
        return;
    }
    if (p->nqueue == p->queue_cap) {
        p->queue_cap = p->queue_cap ? p->queue_cap * 2 : 16;
        p->queue = xrealloc(p->queue, p->queue_cap * sizeof *p->queue);
    }
    p->queue[p->nqueue++] = idx;
    rr_assign(p);
}

void pipe_end_input(pipe_in *p)
{
    p->eof = true;
    if (!p->rr)
        return;
    /* The jobs with nothing more to take see their input's end. */
    for (size_t i = 0; i < p->nfeeds; i++)
        if (!p->feed[i].blk && p->nqueue == 0)
            close_fd(&p->feed[i].wfd);
}

size_t pipe_njobs(const pipe_in *p)
{
    return p->nfeeds;
}

/* Whether the blocks go to the jobs' stdin one job each (not in turn, nor
   through files): only then may the pump feed them. */
static bool pumpable_mode(const pipe_in *p)
{
    return !p->rr && !p->cat && !p->fifo;
}

bool pipe_all_pumped(const pipe_in *p)
{
    /* As pump_all decides, for every block cut in place. */
    return (p->part || p->in_place) && pumpable_mode(p) && !p->pump_failed;
}

bool pipe_wants_input(const pipe_in *p)
{
    return !p->eof && (p->nfeeds < p->rr_jobs || p->nqueue == 0);
}

/* A new name in --tmpdir, as GNU parallel's par plus random letters. */
static int make_tmp(const pipe_in *p, pipe_feed *f)
{
    for (int tries = 0; tries < 100; tries++) {
        tbuf name = { 0 };
        tbuf_addf(&name, "%s/parXXXXXX", p->tmpdir ? p->tmpdir : "/tmp");
        int fd = mkostemp(name.p, O_CLOEXEC);
        if (fd < 0) {
            int err = -errno;
            tbuf_free(&name);
            return err;
        }
        close(fd);
        if (p->fifo && (unlink(name.p) < 0 || mkfifo(name.p, 0600) < 0)) {
            int err = -errno;
            tbuf_free(&name);
            if (err == -EEXIST)
                continue; /* taken between the two: another name */
            return err;
        }
        f->tmp = name.p;
        return 0;
    }
    return -EEXIST;
}

static void remove_tmp(pipe_feed *f)
{
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
}

int pipe_job_vals(pipe_in *p, size_t seq, char ***vals, size_t *nvals)
{
    if (!p->cat && !p->fifo)
        return 0;
    pipe_feed *f = feed_of(p, seq);
    remove_tmp(f);
    int err = make_tmp(p, f);
    if (err < 0)
        return err;
    *vals = &f->tmp;
    *nvals = 1;
    return 0;
}

/* --cat: the header and the block into the file, whole. */
static int write_tmp(pipe_in *p, pipe_feed *f)
{
    const pipe_block *b = &p->blk[f->blk - 1];
    int fd = open(f->tmp, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int err = fd < 0 ? -errno : 0;
    while (err == 0 && f->off < f->hdr + b->data) {
        ssize_t n;
        if (f->off < f->hdr && b->mem) {
            const char *h = p->header + f->off % p->headerlen;
            n = write(fd, h, p->headerlen - f->off % p->headerlen);
        } else if (b->mem) {
            n = write(fd, b->mem + (f->off - f->hdr), b->data - (f->off - f->hdr));
        } else {
            /* A file's range (its header first), by the kernel. */
            off_t from = f->off < f->hdr ? (off_t)f->off : b->foff + (off_t)(f->off - f->hdr);
            size_t left = f->off < f->hdr ? f->hdr - f->off : b->data - (f->off - f->hdr);
            n = sendfile(fd, b->fd, &from, left);
            if (n == 0)
                err = -EIO; /* the file is shorter than it was */
        }
        if (n < 0 && errno != EINTR)
            err = -errno;
        else if (n > 0)
            f->off += (size_t)n;
    }
    if (fd >= 0 && close(fd) < 0 && err == 0)
        err = -errno;
    return err;
}

ssize_t pipe_range_splice(pipe_range *r, int wfd)
{
    size_t total = r->hdr + r->data;
    if (r->off >= total)
        return 0;
    /* The header from the file's start, then the range. */
    loff_t from = r->off < r->hdr ? (loff_t)r->off : r->foff + (loff_t)(r->off - r->hdr);
    size_t left = r->off < r->hdr ? r->hdr - r->off : total - r->off;
    ssize_t n = splice(r->fd, &from, wfd, NULL, left, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n == 0)
        return -EIO; /* the file is shorter than it was */
    if (n < 0)
        return -errno;
    r->off += (size_t)n;
    return n;
}

static pipe_range range_of(const pipe_in *p, const pipe_feed *f)
{
    const pipe_block *b = &p->blk[f->blk - 1];
    assert(!b->mem);
    return (pipe_range){ .fd = b->fd, .hdr = f->hdr, .foff = b->foff, .data = b->data,
                         .off = f->off };
}

/* --fifo: both ends, ours to keep it open and the one we feed. */
static int open_fifo(pipe_feed *f)
{
    f->rfd = open(f->tmp, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f->rfd < 0)
        return -errno;
    f->wfd = open(f->tmp, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return f->wfd < 0 ? -errno : 0;
}

/* GNU parallel's writer meets a closed pipe when more than this is left
   for a job that ends: a pipe's default size, which it keeps. */
#define GNU_PIPE_SIZE 65536
/* Ours are larger, so that each wakeup moves more. */
#define JOB_PIPE_SIZE (1024 * 1024)

static int open_pipe(pipe_feed *f, int *rd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    /* The write end needs no O_NONBLOCK: every write to it is a splice or
       vmsplice with SPLICE_F_NONBLOCK. */
    if ((f->rfd = fcntl(fds[0], F_DUPFD_CLOEXEC, 0)) < 0) {
        int err = -errno;
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    /* A larger pipe wakes us less often. Our own read end keeps a write to
       it from failing once the job is gone: whether the job left too much
       unread is judged at its end (pipe_job_broken), as GNU's writer would
       have found it with its smaller pipe. */
    f->pipesz = fcntl(fds[1], F_SETPIPE_SZ, JOB_PIPE_SIZE);
    if (f->pipesz < 0)
        f->pipesz = fcntl(fds[1], F_GETPIPE_SZ);
    f->wfd = fds[1];
    *rd = fds[0];
    return 0;
}

/* Back from the pump, if it has f: its write end and progress. */
static void unpump(pipe_in *p, size_t seq, pipe_feed *f)
{
    if (!f->pumped)
        return;
    bool broken = false;
    bool had = pipe_pump_take(p, seq, &f->wfd, &f->off, &broken);
    assert(had);
    (void)had;
    f->pumped = false;
    if (broken) {
        f->broken = true; /* as pipe_job_feed leaves a failed pipe */
        f->blk = 0;
    }
}

/* A file's range, all of it, to the pump (unless the blocks go to the
   jobs in turn, or through files); false when it stays with the loop. */
static bool pump_all(pipe_in *p, size_t seq, pipe_feed *f)
{
    if (!pumpable_mode(p) || f->wfd < 0 || !f->blk || p->blk[f->blk - 1].mem)
        return false;
    pipe_range r = range_of(p, f);
    if (!pipe_pump_add(p, seq, f->wfd, f->pipesz, &r))
        return false;
    f->wfd = -1;
    f->pumped = true;
    return true;
}

int pipe_job_stdin(pipe_in *p, size_t seq)
{
    pipe_feed *f = feed_of(p, seq);
    unpump(p, seq, f);
    close_fd(&f->wfd);
    close_fd(&f->rfd);
    f->draining = false;
    if (!p->rr) {
        /* Again from its start, on a retry. */
        f->sent = 0;
        feed_give(f, p, seq - 1, true);
    }
    f->started = true;
    f->broken = false;
    int rd = -1, err;
    if (p->cat)
        err = write_tmp(p, f);
    else if (p->fifo)
        err = open_fifo(f);
    else
        err = open_pipe(f, &rd);
    if (err == 0 && rd < 0 && (rd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        err = -errno;
    if (err < 0) {
        close_fd(&f->wfd);
        close_fd(&f->rfd);
        close_fd(&rd);
        return err;
    }
    /* A file's range goes to the pump whole, whose first fill comes while
       the job starts; anything else is fed here, first, then by the loop. */
    if (!pump_all(p, seq, f))
        pipe_job_feed(p, seq);
    return rd;
}

int pipe_job_wfd(const pipe_in *p, size_t seq)
{
    if (seq < 1 || seq > p->nfeeds)
        return -1;
    const pipe_feed *f = &p->feed[seq - 1];
    return f->blk && !f->draining ? f->wfd : -1;
}

/* The next piece of f's header and block into its pipe: what the pipe
   took, 0 at the block's end, or -errno. */
static ssize_t feed_once(pipe_in *p, pipe_feed *f)
{
    const pipe_block *b = &p->blk[f->blk - 1];
    size_t total = f->hdr + b->data;
    if (f->off >= total)
        return 0;
    if (!b->mem) {
        pipe_range r = range_of(p, f);
        return pipe_range_splice(&r, f->wfd);
    }
    /* The header (once or twice), then the records: lent, not copied. */
    struct iovec iov;
    if (f->off < f->hdr) {
        iov.iov_base = p->header + f->off % p->headerlen;
        iov.iov_len = p->headerlen - f->off % p->headerlen;
    } else {
        iov.iov_base = b->mem + (f->off - f->hdr);
        iov.iov_len = b->data - (f->off - f->hdr);
    }
    ssize_t n = vmsplice(f->wfd, &iov, 1, SPLICE_F_NONBLOCK);
    return n < 0 ? -errno : n;
}

void pipe_job_feed(pipe_in *p, size_t seq)
{
    pipe_feed *f = feed_of(p, seq);
    while (f->wfd >= 0 && f->blk) {
        ssize_t n = feed_once(p, f);
        if (n == -EINTR)
            continue;
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            f->broken = true; /* EPIPE: the job closed its stdin */
            if (p->rr)
                block_free(p, f->blk - 1);
            f->blk = 0;
            close_fd(&f->wfd);
            break;
        }
        if (n > 0) {
            f->off += (size_t)n;
            /* A file's range took what the pipe had room for: full now
               (another splice would only say so). */
            if (!p->blk[f->blk - 1].mem && f->off < f->hdr + p->blk[f->blk - 1].data &&
                f->off > f->hdr)
                return;
            continue;
        }
        /* The block is all in the pipe. */
        if (p->fifo) {
            /* A reader opening the FIFO waits for a writer: ours stays
               until the job has taken it all. */
            f->draining = true;
            break;
        }
        if (!p->rr) {
            close_fd(&f->wfd);
            break;
        }
        block_free(p, f->blk - 1);
        f->blk = 0;
        if (p->nqueue > 0) {
            p->rr_next = (size_t)(f - p->feed);
            rr_assign(p);
        } else if (p->eof) {
            close_fd(&f->wfd);
        }
    }
    if (p->rr)
        rr_assign(p);
}

bool pipe_fifo_draining(const pipe_in *p)
{
    for (size_t i = 0; p->fifo && i < p->nfeeds; i++)
        if (p->feed[i].draining)
            return true;
    return false;
}

void pipe_fifo_check(pipe_in *p)
{
    for (size_t i = 0; p->fifo && i < p->nfeeds; i++) {
        pipe_feed *f = &p->feed[i];
        int left = 0;
        if (f->draining && ioctl(f->rfd, FIONREAD, &left) == 0 && left == 0) {
            f->draining = false;
            close_fd(&f->wfd); /* it has all: the end of its file */
        }
    }
}

bool pipe_job_broken(pipe_in *p, size_t seq)
{
    /* --pipe-part's blocks (and --cat's, --fifo's) are fed by a pipeline
       in GNU parallel: the status is the job's. */
    if (seq < 1 || seq > p->nfeeds || p->part || p->cat || p->fifo)
        return false;
    pipe_feed *f = &p->feed[seq - 1];
    unpump(p, seq, f);
    if (f->broken)
        return true;
    int unread = 0;
    if (f->rfd < 0 || ioctl(f->rfd, FIONREAD, &unread) < 0)
        return false;
    size_t unsent = f->blk ? f->hdr + p->blk[f->blk - 1].data - f->off : 0;
    return unsent + (size_t)unread > GNU_PIPE_SIZE;
}

size_t pipe_job_sent(const pipe_in *p, size_t seq)
{
    return seq >= 1 && seq <= p->nfeeds ? p->feed[seq - 1].sent : 0;
}

void pipe_job_done(pipe_in *p, size_t seq)
{
    if (seq < 1 || seq > p->nfeeds)
        return;
    pipe_feed *f = &p->feed[seq - 1];
    unpump(p, seq, f);
    /* The pipe first: the pages it still holds stay its own. */
    close_fd(&f->wfd);
    close_fd(&f->rfd);
    remove_tmp(f);
    f->draining = false;
    f->gone = true;
    if (!p->rr)
        block_free(p, seq - 1);
    else if (f->blk)
        block_free(p, f->blk - 1);
    f->blk = 0;
    if (p->rr)
        rr_assign(p);
}

void pipe_feeds_free(pipe_in *p)
{
    for (size_t k = 0; k < p->nfeeds; k++)
        pipe_job_done(p, k + 1);
    pipe_pump_stop(p);
    for (size_t k = 0; k < p->nblocks; k++)
        block_free(p, k);
    free(p->feed);
    free(p->blk);
    free(p->queue);
}
