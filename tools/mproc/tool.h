/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* tool.h: what the modules of the mproc tool share; never installed.
 *
 * The tool is built on the public API of libmproc only. Its modules:
 *   main.c    dispatch to the commands, --help
 *   run.c     `mproc run`: the job table and the one poll loop; its other
 *             parts (options, value parsers, policy, joblog, sources) are
 *             listed in run.h
 *   input.c   input sources (:::, ::::, stdin, -0) and their combinations
 *   repl.c    replacement-string options and parsing a command template
 *   cmd.c     expanding a template for a job, shell quoting
 *   perl.c    the perl coprocess for {= perl =} expressions
 *   out.c     grouped, line-buffered and tagged output; the progress bar
 *   spawn.c   starting a job: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)
 *   spawncpu.c  on which CPU the runner waits and starts jobs
 *   tree.c    `mproc tree`
 *   sem.c     `mproc sem`, `sem`, `mproc run --semaphore`
 *   tbuf.c    a growable byte buffer and EINTR-safe writes
 */
#ifndef MPROC_TOOL_H
#define MPROC_TOOL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Exit status of every usage error, as GNU parallel's "other error". */
#define TOOL_EXIT_USAGE 255

/* ---- tbuf.c ------------------------------------------------------------- */

/* A growable byte buffer; {0} is an empty one. p is NUL-terminated whenever
   len > 0 or after tbuf_cstr. Allocation failure ends the tool (exit 255):
   a command-line tool has no better answer to it. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

void tbuf_grow(tbuf *b, size_t extra);
void tbuf_add(tbuf *b, const void *data, size_t n);
void tbuf_adds(tbuf *b, const char *s);
void tbuf_addc(tbuf *b, char c);
void tbuf_addf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *tbuf_cstr(tbuf *b);
void tbuf_free(tbuf *b);

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
_Noreturn void die_nomem(void);

/* write(2) until done, resuming after EINTR; 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* ---- input.c ----------------------------------------------------------- */

/* One input source: its values in order. */
typedef struct source {
    char **v;
    size_t n, cap;
} source;

/* Split the whole of fd into records ending in sep ('\n' or '\0'); a last
   record without its separator still counts, an empty input has none.
   Appends to src. Returns 0 or -errno. */
int source_read_fd(source *src, int fd, char sep);
void source_push(source *src, const char *v);
/* Incremental reading: append the complete records of data (n bytes) to
   src, keeping an unfinished one in partial; at end of input,
   source_feed_end adds what partial holds as the last record. */
void source_feed(source *src, tbuf *partial, const char *data, size_t n, char sep);
void source_feed_end(source *src, tbuf *partial);
void source_free(source *src);

/* How records are read: their delimiter (a character or a string) and GNU
   parallel's filters. */
/* TRIM_GIVEN: --trim was on the command line (without it --colsep trims
   both sides, as GNU parallel does). */
enum { TRIM_NONE = 0, TRIM_LEFT = 1, TRIM_RIGHT = 2, TRIM_GIVEN = 4 };
typedef struct rec_reader {
    const char *delim;  /* the record delimiter, dlen bytes (>= 1) */
    size_t dlen;
    const char *eof;    /* -E: the record that ends the input; NULL none */
    bool skip_blank;    /* -r: records of white space only are dropped */
    int trim;           /* --trim: TRIM_* bits */
    bool ended;         /* the eof record was seen: the rest is ignored */
} rec_reader;

/* Append one record (len bytes), filtered by rd. */
void rec_push(source *src, rec_reader *rd, const char *v, size_t len);
/* As source_feed and source_feed_end, source_read_fd, with rd. */
void rec_feed(source *src, rec_reader *rd, tbuf *partial, const char *data, size_t n);
void rec_end(source *src, rec_reader *rd, tbuf *partial);
int rec_read_fd(source *src, rec_reader *rd, int fd);
/* Narrow *v, *len by the white space trim (TRIM_* bits) takes off. */
void trim_span(const char **v, size_t *len, int trim);

/* ---- cmd.c, repl.c, perl.c: replacement strings (repl.h) ------------------ */

/* The command template: literal text and replacement strings. */
typedef struct cmd_tmpl cmd_tmpl;
struct repl_opts;

/* Parse the command words (argv's, in order) into a template, with the
   replacement strings the options define, as GNU parallel does: " {}" is
   appended when the command holds none; no words at all is the command
   "{}" (the values are the commands). Returns NULL after printing a usage
   error (a --rpl tag that is no valid regular expression). */
cmd_tmpl *cmd_parse(char *const *words, size_t nwords, const struct repl_opts *ro);
/* A --tagstring: its replacement strings as in a command, but nothing
   appended and no value quoted. NULL after a usage error. */
cmd_tmpl *cmd_parse_tag(const char *s, const struct repl_opts *ro);
void cmd_free(cmd_tmpl *t);

/* One job, as its command line is built. */
typedef struct cmd_job {
    char *const *vals;  /* its values: one per source (several per group) */
    size_t nvals;
    size_t seq;         /* {#} */
    long slot;          /* {%} */
    size_t total;       /* total_jobs(), {##} */
    long nslots;        /* the number of slots (-j) */
    bool context;       /* -X (and -N): a word with {} repeated per value */
    bool novals;        /* -N0: no value at all, not one empty one */
} cmd_job;

/* The command line of one job into out. Returns 0; 1 when an expression
   called skip() (the job is not to run; out holds its command all the
   same); -1 after printing why an expression could not be evaluated. */
int cmd_build(const cmd_tmpl *t, tbuf *out, const cmd_job *job);
/* The length of the line cmd_build writes, counted without writing it
   where that gives the same (it is written into scratch where it does
   not: perl's values, -q, (t)csh's and rc's quoting). */
size_t cmd_measure(const cmd_tmpl *t, tbuf *scratch, const cmd_job *job);

/* Whether the template may call total_jobs(): all input must be read
   before the first job. */
bool cmd_wants_total(const cmd_tmpl *t);

/* --shellquote: make line the command that prints line quoted (once per
   --shellquote), which is what GNU parallel runs instead; dry runs print
   line as it is. Nothing without --shellquote. */
void cmd_shellquote_wrap(const cmd_tmpl *t, tbuf *line);

/* Append s (len bytes) to out quoted for /bin/sh, as GNU parallel quotes:
   unchanged when it holds only [-_.+/a-zA-Z0-9], '' when empty, else
   single-quoted. */
void shell_quote_n(tbuf *out, const char *s, size_t len);
/* Quote for this shell from now on: GNU parallel's (t)csh quoting when its
   name holds "csh", its rc quoting when it is named rc, else the Bourne
   shells'. */
void shell_quote_for(const char *shell);
/* Whether that shell is (t)csh, or rc, whose quoting Q() in {= =} uses
   too. */
bool shell_quotes_csh(void);
bool shell_quotes_rc(void);
void shell_quote(tbuf *out, const char *s);

/* When the command line is a plain word list that /bin/sh would run as it
   stands (no quoting, expansion, redirection, keyword or builtin whose
   behaviour differs from the program's), split it in place into argv
   (NULL-terminated, at most cap entries) and return the count; otherwise
   return 0 and leave line alone. */
size_t cmd_plain_argv(char *line, char **argv, size_t cap);

/* End the perl coprocess, if one was started, and reap it. */
void cmd_finish(void);

/* ---- tree.c / run.c -------------------------------------------------------- */

int tool_run(int argc, char **argv);
/* Print "mproc VERSION" on stdout (main.c). */
void tool_print_version(void);
int tool_tree(int argc, char **argv);

/* ---- sem.c ---------------------------------------------------------------- */

/* `mproc sem`, `sem` and `mproc run --semaphore`: argv[0] is the
   command's name. */
int tool_sem(int argc, char **argv);

#endif
