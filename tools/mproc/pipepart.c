/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipepart.c: blocks that are ranges of a file, cut without reading the
 * file through: --pipe-part's -a FILEs, and --pipe's stdin when it is a
 * regular file.
 *
 * DESIGN. --pipe-part cuts as GNU parallel 20221122 does: from the header's
 * end, every --block bytes the cut moves on to just past the first record
 * end followed by a record start at or after that place (with --regexp:
 * the last one in what a 128 KiB read at a time has brought in); a negative
 * --block (default -10, and -1 with --round-robin) is the file's size per
 * job slot divided by it. Only the bytes around each cut are read, and each
 * job's block goes from the page cache into its pipe by splice.
 *
 * --pipe over a regular file keeps GNU's --pipe cuts: the block that would
 * be read (up to the next whole multiple of --block) ends after its last
 * separator, found by reading backwards from its end a little at a time,
 * so the runner reads a few KiB per block instead of the block.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pipe.h"
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* GNU parallel's read size when it looks for a --regexp cut. */
#define REGEXP_READ 131072
/* The first look around a cut; doubled while nothing is found. */
#define LOOK_FIRST 4096
#define LOOK_MAX (1024 * 1024)

static ssize_t pread_full(int fd, char *b, size_t n, off_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, b + got, n - got, at + (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* The first place at or after pos where recend recstart starts (plain
   strings), as an offset from pos; -1 when nowhere before size; or -errno. */
static off_t find_sep_from(const pipe_in *p, int fd, off_t pos, off_t size)
{
    size_t look = LOOK_FIRST > p->seplen * 2 ? LOOK_FIRST : p->seplen * 2;
    char *b = xmalloc(look);
    off_t at = pos, found = -1;
    while (at < size) {
        ssize_t n = pread_full(fd, b, look, at);
        if (n < 0) {
            found = n;
            break;
        }
        if ((size_t)n < p->seplen)
            break;
        const char *q = memmem(b, (size_t)n, p->sep, p->seplen);
        if (q) {
            found = at + (q - b) - pos;
            break;
        }
        /* The next read overlaps by a separator's length less one. */
        at += n - (ssize_t)p->seplen + 1;
        if (look < LOOK_MAX) {
            look *= 2;
            b = xrealloc(b, look);
        }
    }
    free(b);
    return found;
}

/* Reads from pos up to end, chunk bytes at a time, into one buffer until
   re matches in what has come in: the end of the match (of its first
   group with group) from pos, -1 when there is none by end, or -errno. */
static off_t read_to_match(int fd, off_t pos, off_t end, size_t chunk, void *re, bool group)
{
    tbuf b = { 0 };
    off_t found = -1;
    for (off_t at = pos; at < end;) {
        tbuf_grow(&b, chunk);
        ssize_t n = pread_full(fd, b.p + b.len, chunk, at);
        if (n <= 0) {
            found = n < 0 ? n : -1;
            break;
        }
        b.len += (size_t)n;
        at += n;
        size_t so, eo;
        if (pipe_re_match(re, b.p, b.len, 0, &so, &eo, group)) {
            found = (off_t)eo;
            break;
        }
    }
    tbuf_free(&b);
    return found;
}

/* --regexp: GNU parallel's greedy match over what its reads from pos have
   brought in: the length up to the cut, -1 when none; or -errno. */
static off_t find_regexp_from(const pipe_in *p, int fd, off_t pos, off_t size)
{
    return read_to_match(fd, pos, size, REGEXP_READ, p->re_cut, true);
}

/* GNU's --header at a file's start: read --block at a time until it
   matches; its length, 0 for none, or -errno. */
static ssize_t file_header(const pipe_in *p, int fd, off_t size)
{
    size_t chunk = p->blocksize < LOOK_MAX * 16 ? p->blocksize : LOOK_MAX * 16;
    off_t r = read_to_match(fd, 0, size, chunk, p->re_header, false);
    return r == -1 ? 0 : (ssize_t)r;
}

static off_t file_size(int fd, const struct stat *st)
{
    if (S_ISBLK(st->st_mode)) {
        unsigned long long n = 0;
        return ioctl(fd, BLKGETSIZE64, &n) < 0 ? -errno : (off_t)n;
    }
    return st->st_size;
}

/* One file's blocks, each with the header (its first hlen bytes). */
static int cut_file(pipe_in *p, int fd, const char *name, off_t size)
{
    ssize_t hlen = p->re_header ? file_header(p, fd, size) : 0;
    off_t last = hlen, block = (off_t)p->blocksize;
    bool more = hlen >= 0;
    for (off_t pos = block + hlen; more && pos < size; pos += block) {
        off_t d = 0;
        if (p->re_cut)
            d = find_regexp_from(p, fd, pos, size);
        else if (p->seplen)
            d = find_sep_from(p, fd, pos, size);
        if (d < -1) {
            hlen = d;
            break;
        }
        if (d == -1)
            break; /* no separator from here on: none further on either */
        pos += d + (p->re_cut ? 0 : (off_t)p->endlen);
        pipe_add_block(p, (pipe_block){ .fd = fd, .foff = last, .hlen = (size_t)hlen,
                                        .data = (size_t)(pos - last) });
        last = pos;
    }
    if (hlen < 0) {
        fprintf(stderr, "mproc run: cannot read '%s': %s\n", name, strerror((int)-hlen));
        return TOOL_EXIT_USAGE;
    }
    if (last < size)
        pipe_add_block(p, (pipe_block){ .fd = fd, .foff = last, .hlen = (size_t)hlen,
                                        .data = (size_t)(size - last) });
    return 0;
}

int pipe_part_setup(pipe_in *p, const pipe_opts *o, const char *const *files, size_t nfiles,
                    long jslots)
{
    if (nfiles == 0)
        return run_usage_error("--pipe-part reads the -a FILEs: give at least one");
    p->files = xmalloc(nfiles * sizeof *p->files);
    off_t sizes[nfiles], total = 0;
    for (size_t k = 0; k < nfiles; k++) {
        struct stat st;
        int fd = open(files[k], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return run_usage_error("cannot open '%s': %s", files[k], strerror(e));
        }
        p->files[p->nfiles++] = fd;
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
            return run_usage_error("--pipe-part only works on seekable files, not "
                                   "streams/pipes: '%s'", files[k]);
        if ((sizes[k] = file_size(fd, &st)) < 0)
            return run_usage_error("cannot read '%s': %s", files[k], strerror((int)-sizes[k]));
        total += sizes[k];
    }
    /* GNU's default is 10 blocks per job slot; --round-robin 1. */
    const char *bs = o->rr ? "-1" : o->block ? o->block : "-10";
    double v;
    bool neg = *bs == '-';
    if (!parse_size(bs + neg, &v) || (v == 0 && neg))
        return run_usage_error("--block: not a size: '%s'", bs);
    if (v == 0)
        v = 1024 * 1024; /* "0" is GNU parallel's default, as Perl takes it */
    if (neg)
        v = 1 + floor((double)total / (double)(jslots > 0 ? jslots : 1) / v);
    p->blocksize = v < 1 ? 1 : v > 0x1p62 ? (size_t)0x1p62 : (size_t)v;
    for (size_t k = 0; k < nfiles; k++) {
        int rc = cut_file(p, p->files[k], files[k], sizes[k]);
        if (rc)
            return rc;
    }
    pipe_end_input(p);
    return 0;
}

/* ---- --pipe over a regular file ------------------------------------------------ */

bool pipe_in_place_setup(pipe_in *p, int fd)
{
    struct stat st;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (p->re_cut || at < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    p->in_place = true;
    p->fpos = at;
    p->fsize = st.st_size;
    p->flen = 0;
    return true;
}

/* The last separator in [from, from + n) of the file: its offset from
   from, -1 when none, or -errno. */
static off_t find_sep_back(const pipe_in *p, int fd, off_t from, size_t n)
{
    if (p->seplen == 0)
        return (off_t)n;
    size_t look = LOOK_FIRST > p->seplen * 2 ? LOOK_FIRST : p->seplen * 2;
    char *b = xmalloc(look);
    off_t hi = from + (off_t)n, found = -1;
    while (hi - from >= (off_t)p->seplen) {
        off_t lo = hi - (off_t)look > from ? hi - (off_t)look : from;
        ssize_t got = pread_full(fd, b, (size_t)(hi - lo), lo);
        if (got < 0 || got < hi - lo) {
            found = got < 0 ? got : -EIO;
            break;
        }
        long i = pipe_last_sep(p, b, (size_t)got);
        if (i >= 0) {
            found = lo + i - from;
            break;
        }
        if (lo == from)
            break;
        /* The next read overlaps by a separator's length less one. */
        hi = lo + (off_t)p->seplen - 1;
        if (look < LOOK_MAX) {
            look *= 2;
            b = xrealloc(b, look);
        }
    }
    free(b);
    return found;
}

int pipe_in_place_read(pipe_in *p, int fd)
{
    for (;;) {
        /* As many bytes as the stream's reads would have brought in. */
        size_t want = p->blocksize - p->flen % p->blocksize;
        if ((off_t)(p->flen + want) > p->fsize - p->fpos) {
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_size > p->fsize) {
                p->fsize = st.st_size; /* it grew meanwhile: read on */
                continue;
            }
            /* The end: the rest is the last block. */
            if (p->fsize > p->fpos)
                pipe_add_block(p, (pipe_block){ .fd = fd, .foff = p->fpos,
                                                .data = (size_t)(p->fsize - p->fpos) });
            p->fpos = p->fsize;
            (void)lseek(fd, p->fsize, SEEK_SET); /* taken, as a reader leaves it */
            pipe_end_input(p);
            return 0;
        }
        p->flen += want;
        off_t i = find_sep_back(p, fd, p->fpos, p->flen);
        if (i < -1)
            return (int)i;
        if (i >= 0 && (size_t)i + p->endlen > 0) {
            size_t n = (size_t)i + p->endlen;
            pipe_add_block(p, (pipe_block){ .fd = fd, .foff = p->fpos, .data = n });
            p->fpos += (off_t)n;
            p->flen -= n;
            return 0;
        }
        pipe_grow(p);
    }
}
