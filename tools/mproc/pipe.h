/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipe.h: mproc run --pipe: stdin cut into blocks of whole records, one
 * block per job, as GNU parallel's --pipe cuts them.
 */
#ifndef MPROC_TOOL_PIPE_H
#define MPROC_TOOL_PIPE_H

#include "tool.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The options, as given (runopt.c's table sets them). */
typedef struct pipe_opts {
    bool on;                /* --pipe / --spreadstdin */
    const char *block;      /* --block SIZE, NULL: 1M */
    const char *recstart;   /* --recstart STR, NULL: none */
    const char *recend;     /* --recend STR, NULL: "\n" (unless --recstart) */
    bool rrs;               /* --remove-rec-sep */
    bool regexp;            /* --regexp: --recstart and --recend are PCRE */
} pipe_opts;

/* The splitter's state: the bytes read and not yet cut, and every block
   cut so far (its own pages each, until its job is done with it). */
typedef struct pipe_block {
    char *mem;               /* its pages (mmap); NULL once its job is done */
    size_t cap;              /* their size */
    size_t data;             /* its records' length, after the header(s) */
    int wfd;                 /* the write end of its job's stdin; -1: none */
    size_t len;              /* header(s) and records (the joblog's Send) */
    off_t off;               /* how much of it the job's pipe took */
    bool broken;             /* the job closed its stdin before the end */
} pipe_block;

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
    tbuf buf;
    bool eof;
    struct pipe_block *blk;  /* by seq - 1 */
    size_t nblocks, cap;
} pipe_in;

/* Check the options and prepare p. Returns 0, or the tool's exit status
   after a usage error was printed. */
int pipe_setup(pipe_in *p, const pipe_opts *o, long nrec, long nlines, const char *header);

/* Read what stdin (fd) has now without blocking past one read, cutting the
   blocks it completes. Returns 0 or -errno; p->eof is set at its end,
   after the last block was cut. */
int pipe_read(pipe_in *p, int fd);

/* A new pipe for the job of block seq (again on a retry, from the block's
   start): its read end, the job's stdin, which the caller closes once the
   job is started; or -errno. The loop then feeds the write end. */
int pipe_job_stdin(pipe_in *p, size_t seq);

/* The write end of block seq's job's stdin while some of the block is yet
   to go (poll it for POLLOUT), else -1. */
int pipe_job_wfd(const pipe_in *p, size_t seq);

/* Pass the job as much of its block as its pipe takes now; at the end (or
   when the job closed its stdin) the write end is closed. */
void pipe_job_feed(pipe_in *p, size_t seq);

/* Whether the job of block seq closed its stdin before taking it all:
   GNU parallel reports such a job as killed by SIGPIPE. */
bool pipe_job_broken(const pipe_in *p, size_t seq);

/* Block seq's length; 0 when there is none. */
size_t pipe_block_len(const pipe_in *p, size_t seq);

/* The job of block seq is finished for good: its memory goes. */
void pipe_block_done(pipe_in *p, size_t seq);

void pipe_free(pipe_in *p);

#endif
