/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipe.h: mproc run --pipe: stdin cut into blocks of whole records, one
 * block per job, as GNU parallel's --pipe cuts them.
 */
#ifndef MPROC_TOOL_PIPE_H
#define MPROC_TOOL_PIPE_H

#include "tool.h"

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The options, as given (runopt.c's table sets them). */
typedef struct pipe_opts {
    bool on;                /* --pipe / --spreadstdin (or one below) */
    bool part;              /* --pipe-part: the -a files cut in place */
    bool rr;                /* --round-robin */
    bool cat;               /* --cat: {} names a file holding the block */
    bool fifo;              /* --fifo: {} names a FIFO fed the block */
    const char *block;      /* --block SIZE, NULL: 1M */
    const char *recstart;   /* --recstart STR, NULL: none */
    const char *recend;     /* --recend STR, NULL: "\n" (unless --recstart) */
    bool rrs;               /* --remove-rec-sep */
    bool regexp;            /* --regexp: --recstart and --recend are PCRE */
} pipe_opts;

/* A block: its own pages (cut from a stream), or a range of a file, read
   in place (--pipe-part, or stdin when it is a regular file). */
typedef struct pipe_block {
    char *mem;               /* its pages (mmap); NULL: a file's range */
    size_t cap;              /* their size */
    int fd;                  /* the file (not ours to close) */
    off_t foff;              /* where the range starts */
    size_t hlen;             /* the file's header: its first hlen bytes */
    size_t data;             /* its records' length, after the header(s) */
} pipe_block;

/* What one job is sent: the header, then its block (with --round-robin
   one block after another, as they come). */
typedef struct pipe_feed {
    int wfd;                 /* the write end of its stdin (or FIFO); -1 */
    int rfd;                 /* --fifo: our read end, which keeps it open */
    size_t blk;              /* the block being sent, by index + 1; 0 none */
    size_t hdr;              /* header bytes before that block's data */
    size_t off;              /* how much of header and block went */
    size_t sent;             /* all it was given (the joblog's Send) */
    bool started;            /* a job has it (--round-robin: idle until) */
    bool broken;             /* the job closed its stdin before the end */
    bool draining;           /* --fifo: all sent, not yet all read */
    bool gone;               /* its job is finished for good */
    bool pumped;             /* the pump (pipepump.c) holds wfd */
    int pipesz;              /* the pipe's size, as F_SETPIPE_SZ answered */
    char *tmp;               /* --cat, --fifo: the name {} stands for */
} pipe_feed;

typedef struct pipe_in {
    size_t blocksize;
    char *recstart, *recend; /* with \n \t ... decoded */
    size_t startlen, endlen;
    char *sep;               /* recend then recstart: where blocks may be cut */
    size_t seplen;
    bool rrs;
    long nrec;               /* -N: records per block; 0 by size */
    long nlines;             /* -L: lines per record; 0 none */
    void *re_header;         /* --header: what each block starts with */
    bool header_done;
    bool header_twice;       /* with --retries GNU parallel sends it twice */
    char *header;
    size_t headerlen;
    /* --regexp: where to cut (the last record end followed by a start),
       and for --rrs the separators, a first start and a last end. */
    void *re_cut, *re_sep, *re_start, *re_end;
    /* -N with --regexp: N records from the start (re_nrec), and once, what
       comes before the first record start (re_lead, unless re_at_start). */
    void *re_nrec, *re_lead, *re_at_start;
    bool lead_done;
    tbuf buf;
    bool eof;
    /* stdin is a regular file and the cut needs no copy of it: blocks are
       its ranges, found by reading back from each block's end. */
    bool in_place;
    off_t fpos, fsize;       /* the next block's start; the file's size */
    size_t flen;             /* bytes of it the next block's buffer holds */
    pipe_block *blk;         /* every block cut, by index */
    size_t nblocks, blk_cap;
    pipe_feed *feed;         /* every job's, by seq - 1 */
    size_t nfeeds, feed_cap;
    /* How the blocks reach the jobs. */
    bool rr;                 /* --round-robin: at most rr_jobs jobs */
    size_t rr_jobs;
    size_t *queue;           /* --round-robin: blocks no job took yet */
    size_t nqueue, queue_cap;
    size_t rr_next;          /* the job to offer the next block first */
    bool cat, fifo;
    bool part;               /* --pipe-part: a job closing early is fine */
    const char *tmpdir;
    int *files;              /* --pipe-part: the -a files, open */
    size_t nfiles;
    struct pipe_pump *pump;  /* the thread feeding file ranges, or NULL */
    bool pump_failed;        /* it could not start: the loop feeds them */
    /* The CPUs the pump's threads may run on (the runner's own as it was
       started, which it may be held away from: spawncpu.c); NULL: the
       creating thread's, as pthread_create gives them. */
    const cpu_set_t *pump_cpus;
    size_t pump_cpus_size;
} pipe_in;

/* A file's range on its way into a pipe: the file's first hdr bytes (its
   header), then data bytes from foff; off of them went. */
typedef struct pipe_range {
    int fd;
    size_t hdr;
    off_t foff;
    size_t data;
    size_t off;
} pipe_range;

/* Check the options and prepare p. Returns 0, or the tool's exit status
   after a usage error was printed. */
int pipe_setup(pipe_in *p, const pipe_opts *o, long nrec, long nlines, const char *header);

/* Read what stdin (fd) has now without blocking past one read, cutting the
   blocks it completes. Returns 0 or -errno; p->eof is set at its end,
   after the last block was cut. */
int pipe_read(pipe_in *p, int fd);

/* ---- in place (pipepart.c) */

/* --pipe-part: cut the files (the -a FILEs) where GNU parallel cuts them,
   for jslots job slots (a negative --block is per slot); every block is
   then known, p->eof is set. 0, or the exit status after an error was
   printed. */
int pipe_part_setup(pipe_in *p, const pipe_opts *o, const char *const *files, size_t nfiles,
                    long jslots);

/* Whether stdin (fd) can be cut in place, and if so, prepare for it. */
bool pipe_in_place_setup(pipe_in *p, int fd);

/* Cut the next block of stdin in place (pipe_read's part for it). */
int pipe_in_place_read(pipe_in *p, int fd);

/* fmt with %1$s the record start and %2$s the record end, each a group of
   its own, compiled; NULL after printing why. */
void *pipe_compile(const char *fmt, const char *rs, const char *re, uint32_t flags);

/* Where re first matches in b[from, n): start and end (of its first group
   with group), false when nowhere. */
bool pipe_re_match(void *re, const char *b, size_t n, size_t from, size_t *so, size_t *eo,
                   bool group);

/* The last place in b[0, n) where p's separator starts; -1 when none. */
long pipe_last_sep(const pipe_in *p, const char *b, size_t n);

/* A grown block size, after no record ended in a whole block (with GNU's
   warning). */
void pipe_grow(pipe_in *p);

/* ---- to the jobs (pipefeed.c) */

/* A block more: a job of its own, or (--round-robin) the next job free. */
void pipe_add_block(pipe_in *p, pipe_block b);

/* The input's end: --round-robin's jobs with nothing left to take see
   theirs. */
void pipe_end_input(pipe_in *p);

/* Whether every job's block goes to its stdin by the pump: each is a
   file's range (--pipe-part, or --pipe over a regular file), and not
   --round-robin, --cat or --fifo. The loop then only waits for the jobs
   (and cuts stdin's next block, a read near its end). */
bool pipe_all_pumped(const pipe_in *p);

/* The number of jobs so far. */
size_t pipe_njobs(const pipe_in *p);

/* --round-robin: whether the loop should read more of stdin for jobs that
   are all running (none has a block waiting). */
bool pipe_wants_input(const pipe_in *p);

/* Job seq's value for {} (--cat, --fifo: the temporary file's name, made
   now): into *vals, *nvals; nothing otherwise. 0 or -errno. */
int pipe_job_vals(pipe_in *p, size_t seq, char ***vals, size_t *nvals);

/* The stdin of job seq (again on a retry, from the block's start): a
   pipe's read end, or /dev/null (--cat, --fifo), which the caller closes
   once the job is started; or -errno. The loop then feeds the write end. */
int pipe_job_stdin(pipe_in *p, size_t seq);

/* The write end of job seq's stdin while some of its block is yet to go
   (poll it for POLLOUT), else -1. */
int pipe_job_wfd(const pipe_in *p, size_t seq);

/* Pass the job as much of its block as its pipe takes now; at the end (or
   when the job closed its stdin) the write end is closed. */
void pipe_job_feed(pipe_in *p, size_t seq);

/* --fifo: whether some FIFO holds its whole block, not all read yet
   (pipe_fifo_check should then run every few ms). */
bool pipe_fifo_draining(const pipe_in *p);

/* --fifo: a FIFO whose job has read all of it is closed (its end of file). */
void pipe_fifo_check(pipe_in *p);

/* Whether the job of block seq closed its stdin before taking it all:
   GNU parallel reports such a job as killed by SIGPIPE. (Once the job
   has ended.) */
bool pipe_job_broken(pipe_in *p, size_t seq);

/* What job seq was sent (the joblog's Send). */
size_t pipe_job_sent(const pipe_in *p, size_t seq);

/* Job seq is finished for good: its block's memory and its temporary
   file go. */
void pipe_job_done(pipe_in *p, size_t seq);

/* The next piece of r into the pipe wfd (non-blocking), by splice: what
   went (r->off moves on), 0 once all went, or -errno (-EAGAIN: full). */
ssize_t pipe_range_splice(pipe_range *r, int wfd);

/* ---- the pump (pipepump.c) */

/* Hand job seq's range (what is left of it) to the pump, with its pipe's
   write end wfd (the pump's now) and the pipe's size (bytes, <= 0 when
   unknown), which fills the pipe at once, then as the job reads. false:
   no pump, the caller feeds. */
bool pipe_pump_add(pipe_in *p, size_t seq, int wfd, int pipesz, const pipe_range *r);

/* Take job seq back from the pump: the write end (-1 once the pump
   closed it at the end or on an error), how much went, whether the pipe
   failed. false when the pump did not have it. */
bool pipe_pump_take(pipe_in *p, size_t seq, int *wfd, size_t *off, bool *broken);

/* The pump's end (after every job was taken back). */
void pipe_pump_stop(pipe_in *p);

/* Every job's feed and block (pipe_free's part). */
void pipe_feeds_free(pipe_in *p);

void pipe_free(pipe_in *p);

#endif
