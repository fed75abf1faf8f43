/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipe.c: --pipe's splitter: stdin into blocks of whole records, cut where
 * GNU parallel 20221122 cuts them.
 *
 * DESIGN. GNU parallel reads until its buffer holds a whole multiple of the
 * block size (or the input ends), then cuts after the last record end that
 * is followed by a record start, keeps the rest for the next block, and
 * grows the block size by 1.3 when no record ends in a whole buffer. The
 * cut depends only on the bytes, never on how reads return them, so the
 * buffer here is filled one read at a time, as poll says stdin is readable,
 * and cut when it is full: the same blocks, without blocking the loop that
 * runs the jobs.
 *
 * The buffer is read into pages of its own (mmap), and a block cut from it
 * keeps them: a fresh buffer takes only the tail past the cut (less than a
 * record, typically), so each byte is copied once, from stdin into the
 * buffer. The block's pages go into its job's pipe by vmsplice, which lends
 * them to the pipe rather than copying them; they are never written again,
 * and munmap leaves the pipe its references, so a block goes as soon as its
 * job is done (pipefeed.c). A retry lends the same pages to a new pipe. The
 * runner holds no more than the running jobs' blocks, one block ready and
 * the one being filled, since the loop reads stdin only while no block
 * waits for a slot. Both the stdin pipe and the jobs' are grown to 1 MiB:
 * a 1M block then goes to its job in one vmsplice (256 MiB from cat,
 * --block 1M: 257 vmsplice calls, 315 polls in all).
 *
 * When stdin is a regular file and nothing but the separator decides the
 * cut, the same blocks are found without reading them (pipepart.c): only
 * the end of each block is read, back to its last separator, and the jobs
 * get the file's ranges by splice, no byte copied by the runner.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pipe.h"
#include "run.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLOCK_DEFAULT (1024 * 1024)
#define BLOCK_MAX ((size_t)INT_MAX) /* GNU parallel's 2G-1 */
#define STDIN_PIPE_SIZE (1024 * 1024)

/* --recstart/--recend's escapes, as GNU parallel reads them: \0 \r \n \t
   \' \" \\ stand for their characters. */
static char *unescape(const char *s, size_t *len)
{
    size_t n = strlen(s), k = 0;
    char *d = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        const char *e = s[i] == '\\' && i + 1 < n ? strchr("0rnt'\"\\", s[i + 1]) : NULL;
        if (!e || !*e) {
            d[k++] = s[i];
            continue;
        }
        static const char to[] = { '\0', '\r', '\n', '\t', '\'', '"', '\\' };
        d[k++] = to[e - "0rnt'\"\\"];
        i++;
    }
    d[k] = '\0';
    *len = k;
    return d;
}

/* fmt with %1$s the record start and %2$s the record end, each a group of
   its own, compiled; NULL after printing why. */
void *pipe_compile(const char *fmt, const char *rs, const char *re, uint32_t flags)
{
    tbuf pat = {0};
    tbuf_addf(&pat, fmt, rs, re);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat.p, pat.len, flags, &ec, &eo, NULL);
    if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        fprintf(stderr, "mproc run: --recstart/--recend: %s\n", (char *)msg);
    }
    tbuf_free(&pat);
    return c;
}

/* As GNU parallel: the last record end followed by a record start, with ^
   and $ at every line (Perl's /m); --recend '' alone is any one byte. */
static int setup_regexp(pipe_in *p, const pipe_opts *o, const char *rs, const char *re)
{
    if (o->recend && !*o->recend && !o->recstart)
        re = "(?s:.)";
    p->rrs = o->rrs;
    /* --pipe-part's search is /s, not /m, in GNU parallel. */
    p->re_cut = pipe_compile("^((?s:.)*(?:%2$s))(?:%1$s)", rs, re,
                             o->part ? PCRE2_DOTALL : PCRE2_MULTILINE);
    if (o->rrs) {
        p->re_sep = pipe_compile("(?:%2$s)(?:%1$s)", rs, re, PCRE2_MULTILINE);
        p->re_start = pipe_compile("^(?:%1$s)%2$.0s", rs, re, PCRE2_ANCHORED | PCRE2_DOTALL);
        p->re_end = pipe_compile("%1$.0s(?:%2$s)$", rs, re, PCRE2_DOTALL);
    }
    if (!p->re_cut || (o->rrs && (!p->re_sep || !p->re_start || !p->re_end)))
        return TOOL_EXIT_USAGE;
    if (p->nrec) {
        /* As GNU parallel: N times a start, the least up to an end not
           followed by a start, then an end; followed by a start. */
        tbuf fmt = { 0 };
        tbuf_addf(&fmt,
                  "^((?:(?:%%1$s)(?:(?!(?:%%2$s)(?:%%1$s))(?s:.))*?(?:%%2$s)){%ld})(?=(?:%%1$s))",
                  p->nrec * (p->nlines ? p->nlines : 1));
        p->re_nrec = pipe_compile(tbuf_cstr(&fmt), rs, re, PCRE2_MULTILINE);
        tbuf_free(&fmt);
        p->re_lead = pipe_compile("^((?:(?!(?:%2$s)(?:%1$s))(?s:.))*?(?:%2$s))(?=(?:%1$s))", rs, re,
                                  PCRE2_MULTILINE);
        p->re_at_start = pipe_compile("(?:%1$s)%2$.0s", rs, re, PCRE2_ANCHORED);
        if (!p->re_nrec || !p->re_lead || !p->re_at_start)
            return TOOL_EXIT_USAGE;
    }
    return 0;
}

/* Where re first matches in b[from, n): start and end (of its first group
   with group), false when nowhere. */
bool pipe_re_match(void *re, const char *b, size_t n, size_t from, size_t *so, size_t *eo,
                     bool group)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md)
        die_nomem();
    int rc = pcre2_match(re, (PCRE2_SPTR)b, n, from, 0, md, NULL);
    if (rc > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        *so = ov[0];
        /* With a group, the cut is at its end. */
        *eo = group && rc > 1 ? ov[3] : ov[1];
    }
    pcre2_match_data_free(md);
    return rc > 0;
}

static bool re_find(void *re, const char *b, size_t n, size_t from, size_t *so, size_t *eo)
{
    return pipe_re_match(re, b, n, from, so, eo, false);
}

/* --rrs with --regexp: as GNU parallel's s/end start//g, s/^start//,
   s/end$//. */
static size_t remove_seps_re(const pipe_in *p, char *b, size_t n)
{
    size_t k = 0, i = 0, so, eo;
    while (i <= n && re_find(p->re_sep, b, n, i, &so, &eo)) {
        memmove(b + k, b + i, so - i);
        k += so - i;
        i = eo > so ? eo : so + 1;
        if (eo == so && so < n)
            b[k++] = b[so]; /* an empty match keeps the byte it stands before */
    }
    if (i < n) {
        memmove(b + k, b + i, n - i);
        k += n - i;
    }
    n = k;
    if (re_find(p->re_start, b, n, 0, &so, &eo)) {
        memmove(b, b + eo, n - eo);
        n -= eo;
    }
    if (re_find(p->re_end, b, n, 0, &so, &eo)) {
        memmove(b + so, b + eo, n - eo);
        n -= eo - so;
    }
    return n;
}

int pipe_setup(pipe_in *p, const pipe_opts *o, long nrec, long nlines, const char *header)
{
    memset(p, 0, sizeof *p);
    /* --pipe-part makes one block per slot of --round-robin; --cat and
       --fifo give each job one block, as a file's. */
    p->rr = o->rr && !o->part && !o->cat && !o->fifo;
    p->cat = o->cat;
    p->fifo = o->fifo;
    p->part = o->part;
    if (o->cat && o->fifo)
        return run_usage_error("--fifo cannot be combined with --cat.");
    p->nrec = nrec > 0 ? nrec : 0;
    p->nlines = nlines > 0 ? nlines : 0;
    p->header_done = !header;
    if (header) {
        /* ":" is one line, a number N lines, else a Perl pattern. */
        tbuf pat = {0};
        if (!strcmp(header, ":"))
            tbuf_adds(&pat, "(.*\n)");
        else if (*header && strspn(header, "0123456789") == strlen(header))
            for (long k = atol(header); k > 0; k--)
                tbuf_adds(&pat, "(.*\n)");
        else
            tbuf_adds(&pat, header);
        p->re_header = pipe_compile("%1$s%2$.0s", tbuf_cstr(&pat), "", PCRE2_ANCHORED);
        tbuf_free(&pat);
        if (!p->re_header)
            return TOOL_EXIT_USAGE;
    }
    double bs = BLOCK_DEFAULT;
    if (o->block && !o->part && (!parse_size(o->block, &bs) || bs < 1)) {
        /* "0" is GNU parallel's default, as Perl takes it for false. */
        if (!(parse_size(o->block, &bs) && bs == 0))
            return run_usage_error("--block: not a size: '%s'", o->block);
        bs = BLOCK_DEFAULT;
    }
    if (bs > (double)BLOCK_MAX) {
        fprintf(stderr, "mproc: Warning: --blocksize >= 2G causes problems. Using 2G-1.\n");
        bs = (double)BLOCK_MAX;
    }
    p->blocksize = (size_t)bs;
    const char *rs = o->recstart ? o->recstart : "";
    const char *re = o->recend ? o->recend : o->recstart ? "" : "\n";
    if (o->regexp)
        return setup_regexp(p, o, rs, re);
    p->recstart = unescape(rs, &p->startlen);
    p->recend = unescape(re, &p->endlen);
    p->seplen = p->endlen + p->startlen;
    p->sep = xmalloc(p->seplen + 1);
    memcpy(p->sep, p->recend, p->endlen);
    memcpy(p->sep + p->endlen, p->recstart, p->startlen);
    p->rrs = o->rrs;
    /* Cut in place when nothing but the separator decides (and GNU's
       --pipe's rules, which pipe_in_place_read follows, are the cut). */
    if (!o->part && !p->rrs && !p->nrec && !p->nlines && !header)
        pipe_in_place_setup(p, 0);
    struct stat st;
    if (!o->part && !p->in_place && fstat(0, &st) == 0 && S_ISFIFO(st.st_mode))
        (void)fcntl(0, F_SETPIPE_SZ, STDIN_PIPE_SIZE); /* fewer, longer reads */
    return 0;
}

/* An empty sep is found at the end, as Perl's rindex finds it. */
long pipe_last_sep(const pipe_in *p, const char *b, size_t n)
{
    if (p->seplen == 0)
        return (long)n;
    if (n < p->seplen)
        return -1;
    if (p->seplen == 1) {
        const char *q = memrchr(b, p->sep[0], n);
        return q ? q - b : -1;
    }
    for (size_t i = n - p->seplen + 1; i-- > 0;) {
        const char *q = memrchr(b, p->sep[0], i + 1);
        if (!q)
            return -1;
        i = (size_t)(q - b);
        if (!memcmp(q, p->sep, p->seplen))
            return (long)i;
    }
    return -1;
}

/* --rrs: the separators between records go, and the first record's start
   and the last one's end, as GNU parallel removes them. */
static size_t remove_seps(const pipe_in *p, char *b, size_t n)
{
    size_t k = 0;
    if (p->seplen > 0) {
        for (size_t i = 0; i < n;) {
            if (i + p->seplen <= n && !memcmp(b + i, p->sep, p->seplen)) {
                i += p->seplen;
                continue;
            }
            b[k++] = b[i++];
        }
        n = k;
    }
    if (p->startlen && n >= p->startlen && !memcmp(b, p->recstart, p->startlen)) {
        memmove(b, b + p->startlen, n - p->startlen);
        n -= p->startlen;
    }
    if (p->endlen && n >= p->endlen && !memcmp(b + n - p->endlen, p->recend, p->endlen))
        n -= p->endlen;
    return n;
}

/* The buffer's pages: room for at least extra more bytes. */
static void buf_reserve(pipe_in *p, size_t extra)
{
    size_t need = p->buf.len + extra;
    if (need <= p->buf.cap)
        return;
    size_t cap = p->buf.cap ? p->buf.cap : 65536;
    while (cap < need)
        cap *= 2;
    void *m = p->buf.p ? mremap(p->buf.p, p->buf.cap, cap, MREMAP_MAYMOVE)
                       : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die_nomem();
    p->buf.p = m;
    p->buf.cap = cap;
}

static void buf_free(tbuf *b)
{
    if (b->p)
        munmap(b->p, b->cap);
    memset(b, 0, sizeof *b);
}

/* The next block: the first n bytes of the buffer, which then go. */
static int emit(pipe_in *p, size_t n)
{
    if (n == 0)
        return 0;
    size_t len = !p->rrs ? n : p->re_cut ? remove_seps_re(p, p->buf.p, n)
                                         : remove_seps(p, p->buf.p, n);
    size_t tail = p->buf.len - n;
    tbuf fresh = { 0 };
    pipe_block b = { .fd = -1, .data = len };
    if (tail <= n) {
        /* The block keeps the buffer's pages; the tail moves. */
        b.mem = p->buf.p;
        b.cap = p->buf.cap;
        fresh.len = 0;
        p->buf = fresh;
        buf_reserve(p, p->blocksize > tail ? p->blocksize : tail);
        memcpy(p->buf.p, b.mem + n, tail);
        p->buf.len = tail;
    } else {
        /* -N and -L cut many blocks from one buffer: each is copied. */
        tbuf own = { 0 };
        pipe_in tmp = { .buf = own };
        buf_reserve(&tmp, len);
        memcpy(tmp.buf.p, p->buf.p, len);
        b.mem = tmp.buf.p;
        b.cap = tmp.buf.cap;
        memmove(p->buf.p, p->buf.p + n, tail);
        p->buf.len = tail;
    }
    pipe_add_block(p, b);
    return 0;
}

/* A full buffer (not the input's end): cut after its last record end
   followed by a record start, else let the next block be larger. */

static int cut(pipe_in *p)
{
    size_t n = 0, so;
    if (p->re_cut) {
        if (!pipe_re_match(p->re_cut, p->buf.p, p->buf.len, 0, &so, &n, true))
            n = 0;
    } else {
        long i = pipe_last_sep(p, p->buf.p, p->buf.len);
        n = i < 0 ? 0 : (size_t)i + p->endlen;
    }
    if (n > 0)
        return emit(p, n);
    pipe_grow(p);
    return 0;
}

void pipe_grow(pipe_in *p)
{
    if (p->blocksize < BLOCK_MAX) {
        size_t old = p->blocksize;
        double grown = ceil((double)old * 1.3 + 1);
        p->blocksize = grown > (double)BLOCK_MAX ? BLOCK_MAX : (size_t)grown;
        fprintf(stderr,
                "mproc: Warning: A record was longer than %zu. Increasing to --blocksize %zu.\n",
                old, p->blocksize);
    }
}

/* -N: every N records the buffer holds, each a block; the first record
   end is looked for from the second byte on, as GNU parallel looks. */
static int cut_records(pipe_in *p)
{
    size_t want = (size_t)p->nrec * (size_t)(p->nlines ? p->nlines : 1);
    for (;;) {
        long i = 0;
        for (size_t k = 0; k < want && i >= 0; k++) {
            size_t from = (size_t)i + 1;
            const char *q = p->seplen && from + p->seplen <= p->buf.len
                                ? memmem(p->buf.p + from, p->buf.len - from, p->sep, p->seplen)
                                : NULL;
            i = q ? q - p->buf.p : -1;
        }
        if (i < 0 || p->buf.len == 0)
            return 0;
        int err = emit(p, (size_t)i + p->endlen);
        if (err < 0)
            return err;
    }
}

/* -N with --regexp: as GNU parallel, once what comes before the first
   record start is a block of its own, then every N records the buffer
   holds (the last ones only at the end of the input). */
static int cut_records_re(pipe_in *p)
{
    size_t so, n;
    if (!p->lead_done) {
        p->lead_done = true;
        if (!pipe_re_match(p->re_at_start, p->buf.p, p->buf.len, 0, &so, &n, false) &&
            pipe_re_match(p->re_lead, p->buf.p, p->buf.len, 0, &so, &n, true) && so == 0 && n > 0) {
            int err = emit(p, n);
            if (err < 0)
                return err;
        }
    }
    while (p->buf.len > 0 && pipe_re_match(p->re_nrec, p->buf.p, p->buf.len, 0, &so, &n, true) &&
           so == 0 && n > 0) {
        int err = emit(p, n);
        if (err < 0)
            return err;
    }
    return 0;
}

/* -L alone: all the whole groups of L lines the buffer holds, one block. */
static int cut_lines(pipe_in *p)
{
    size_t lines = 0;
    for (const char *q = p->buf.p, *e = p->buf.p + p->buf.len; (q = memchr(q, '\n', (size_t)(e - q)));
         q++)
        lines++;
    const char *last = p->buf.len ? memrchr(p->buf.p, '\n', p->buf.len) : NULL;
    while (last && lines % (size_t)p->nlines) {
        lines--;
        last = last > p->buf.p ? memrchr(p->buf.p, '\n', (size_t)(last - p->buf.p)) : NULL;
    }
    return last ? emit(p, (size_t)(last - p->buf.p) + 1) : 0;
}

/* A round ends: the buffer is full, or the input ended. */
static int round_end(pipe_in *p)
{
    size_t before = p->nblocks;
    int err = 0;
    if (p->nlines && !p->nrec)
        err = cut_lines(p);
    else if (p->nrec)
        err = p->re_nrec ? cut_records_re(p) : cut_records(p);
    else if (!p->eof)
        return cut(p);
    if (err < 0 || p->eof || p->nblocks > before)
        return err;
    pipe_grow(p);
    return 0;
}

/* --header: read until it matches at the start; it then goes before every
   block. No match by the end: no header. */
static int read_header(pipe_in *p, int fd)
{
    buf_reserve(p, p->blocksize);
    ssize_t n = read(fd, p->buf.p + p->buf.len, p->blocksize);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    p->buf.len += (size_t)n;
    size_t so, eo;
    if (n > 0 && !re_find(p->re_header, p->buf.p, p->buf.len, 0, &so, &eo))
        return 0;
    p->header_done = true;
    if (n > 0) {
        p->header = xmalloc(eo + 1);
        memcpy(p->header, p->buf.p, eo);
        p->headerlen = eo;
        memmove(p->buf.p, p->buf.p + eo, p->buf.len - eo);
        p->buf.len -= eo;
    }
    return 0;
}

static int read_stream(pipe_in *p, int fd);

int pipe_read(pipe_in *p, int fd)
{
    int err = p->in_place ? pipe_in_place_read(p, fd) : read_stream(p, fd);
    if (err < 0)
        pipe_end_input(p); /* nothing more comes */
    return err;
}

static int read_stream(pipe_in *p, int fd)
{
    if (!p->header_done)
        return read_header(p, fd);
    for (;;) {
        /* Up to the next whole multiple of the block size. */
        size_t want = p->blocksize - p->buf.len % p->blocksize;
        buf_reserve(p, want);
        ssize_t n = read(fd, p->buf.p + p->buf.len, want);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                return 0;
            return -errno;
        }
        if (n == 0) {
            p->eof = true;
            int err = round_end(p);
            if (err == 0)
                err = emit(p, p->buf.len);
            pipe_end_input(p);
            return err;
        }
        p->buf.len += (size_t)n;
        if ((size_t)n == want) {
            size_t before = p->nblocks;
            int err = round_end(p);
            if (err < 0)
                return err;
            /* A block is ready: let the loop start its job first. */
            if (p->nblocks > before)
                return 0;
        }
        /* Read on while stdin has more now, so that one wakeup takes it. */
        int avail = 0;
        if (ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0)
            return 0;
    }
}

void pipe_free(pipe_in *p)
{
    pipe_feeds_free(p);
    for (size_t k = 0; k < p->nfiles; k++)
        close(p->files[k]);
    free(p->files);
    free(p->recstart);
    free(p->recend);
    free(p->sep);
    pcre2_code_free(p->re_cut);
    pcre2_code_free(p->re_sep);
    pcre2_code_free(p->re_start);
    pcre2_code_free(p->re_end);
    pcre2_code_free(p->re_nrec);
    pcre2_code_free(p->re_lead);
    pcre2_code_free(p->re_at_start);
    pcre2_code_free(p->re_header);
    free(p->header);
    buf_free(&p->buf);
    memset(p, 0, sizeof *p);
}
