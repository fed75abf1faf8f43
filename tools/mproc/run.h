/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* run.h: what the parts of `mproc run` share: its options, their value
 * parsers, the exit-status and halt policy, the joblog and the sources.
 *
 * The parts, one concern each:
 *   runopt.c   the option table (getopt_long), --help generated from it
 *   runval.c   value parsers: -j, --halt, numbers, durations
 *   policy.c   exit status and halt decisions, pure (no process, no I/O)
 *   joblog.c   the joblog, in GNU parallel's format
 *   sources.c  the input sources after the command and their combinations
 *   throttle.c when the next job may start; --timeout N%'s median
 *   sysinfo.c  CPU topology, load and free memory
 *   groups.c   several values per job (-n -N -X -m -L -s)
 *   profile.c  options from profiles (-J, ~/.parallel/config) and $PARALLEL
 *   shell.c    which shell runs the jobs, as GNU parallel chooses it
 *   jobenv.c   the jobs' environment (PARALLEL_SEQ ...)
 *   runmain.c  from the command line to the exit status: setup, cleanup
 *   run.c      the one poll loop (runloop.h: its state)
 *   slots.c    the slot table and its size (-j, -j FILE read again)
 *   runout.c   where job output goes (-k, --line-buffer, --tag, -v, -t)
 *   progress.c --progress and --eta, as GNU parallel prints them
 *
 * ADDING AN OPTION: a field in run_opts (in the section of its concern), a
 * line in runopt.c's table (in its group) and, when it takes more than a
 * flag, a handler there or in the file of its concern. --help, the
 * abbreviations and the refusal of what is not supported all follow from
 * the table.
 */
#ifndef MPROC_TOOL_RUN_H
#define MPROC_TOOL_RUN_H

#include "pipe.h"
#include "repl.h"

#include <stdio.h>

enum { HALT_NEVER, HALT_SOON, HALT_NOW };

#define TERMSEQ_MAX 16

typedef struct run_opts {
    /* ---- jobs and control */
    long jobs;          /* -j resolved; -1 unset */
    const char *jobs_s; /* -j as given, resolved after all options */
    const char *jobs_file; /* -j FILE: read again as the jobs run */
    bool use_cores, use_sockets;
    double delay;       /* --delay: seconds between job starts */
    double timeout_pct; /* --timeout N%: N/100 of the median, else 0 */
    int term_sig[TERMSEQ_MAX], nterm; /* --termseq */
    double term_ms[TERMSEQ_MAX];
    double memfree;     /* --memfree bytes, 0 none */
    const char *load;   /* --load as given */
    int nice;           /* --nice */
    bool ungroup;       /* -u */
    const char *tmpdir; /* --tmpdir */
    const char *tagstring; /* --tagstring */
    bool files;         /* --files */
    const char *results; /* --results DIR or FILE.csv|.tsv|.json */
    bool verbose_t;     /* -t: commands to stderr */
    int verbose_v;      /* -v: commands before their output */
    bool keep, dry, bar, linebuf, tag;
    bool progress, eta; /* --progress, --eta (which implies --progress) */
    double timeout;     /* 0: none */
    long retries;       /* tries in all, >= 1 */
    bool retries_given; /* --retries, whatever its count (--round-robin refuses it) */
    int halt_when;      /* HALT_* */
    bool halt_success;  /* success=N rather than fail=N */
    long halt_n;        /* N, or -1 with halt_pct */
    double halt_pct;    /* fail=X%: X, else -1 */
    const char *joblog;
    bool resume, resume_failed, retry_failed;

    /* ---- inputs */
    bool null;          /* -0 */
    const char **argfiles; /* -a FILE, in order */
    size_t nargfiles;
    const char *arg_sep, *arg_file_sep; /* ::: and :::: unless changed */
    bool link;          /* --link: every source linked, shorter ones wrap */
    char delim[64];     /* -d (unescaped), dlen bytes; 0: newline (or NUL) */
    size_t dlen;
    const char *eof;    /* -E / -e: the end-of-file record; NULL none */
    bool skip_blank;    /* -r */
    int trim;           /* --trim: TRIM_* */
    bool shuf;          /* --shuf */
    const char *colsep; /* --colsep: a Perl regular expression */
    const char *header; /* --header */
    const char **profiles; /* -J NAME, in order */
    size_t nprofiles;
    bool probe;         /* parse for -J only: no effect, no message */

    /* ---- several values per job (groups.c) */
    long max_args, max_replace_args, max_lines, max_lines_L; /* -n -N -l -L; -1 unset */
    long max_chars;     /* -s; 0 unset */
    /* -n -N -l -L as given: a fraction fills a group up past it (1.5 is 2
       values, as above), but --pipe counts its records by whole numbers
       and GNU parallel's count of jobs divides by it. */
    double max_args_f, max_replace_args_f, max_lines_f, max_lines_L_f;
    bool multi_X, multi_m, multi_xargs; /* -X -m --xargs */
    bool show_limits;   /* --show-limits */
    bool whole_input;   /* read every value before the first job */

    /* ---- --pipe (pipe.h) */
    pipe_opts pipe;

    /* ---- replacement strings (repl.h) */
    repl_opts repl;

    /* ---- --mpi (mpirun.c) */
    bool mpi;           /* one farm over the ranks of an MPI job */
    bool mpi_no_local;  /* --mpi-no-local: rank 0 runs no job itself */

    /* ---- semaphore */
    bool semaphore;     /* --semaphore or an option only it has: mproc sem */
} run_opts;

/* Defaults: every field as if no option were given. */
void run_opts_init(run_opts *o);
/* Free what the options hold (lists of -a files, profiles and --rpl). */
void run_opts_free(run_opts *o);

/* ---- runopt.c ------------------------------------------------------------ */

/* Parse the options before the command (the first word that is not an
   option starts it, as GNU parallel's require_order). Returns the index of
   the command's first word in argv, or -1 with *rc the tool's exit status
   after a usage error was printed, or after --help and the like did their
   work. */
int run_parse_opts(run_opts *o, int argc, char **argv, int *rc);

/* Print a usage error "mproc run: ..." and return TOOL_EXIT_USAGE. */
int run_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- runval.c ------------------------------------------------------------- */

/* A whole decimal long. */
bool parse_long(const char *s, long *out);
/* The most slots a count asks for: past it, as many as possible. */
#define JOBS_MAX (1L << 30)
/* One -j count of n bytes as GNU parallel reads it: N, +N (CPUs plus N),
   -N (CPUs minus N), N% (of the CPUs, N maybe decimal), rounded up; at
   most JOBS_MAX, and it may be 0 or -1 (no slot). *all: 0, as many as
   possible. false when s is none of these. */
bool parse_jobs_count(const char *s, size_t n, long cpus, long *out, bool *all);
/* -j SPEC: a count, else a regular file holding one (read now, whole).
   0, -EINVAL when it is neither, or -errno when the file cannot be read;
   *is_file says whether a file gave the count. */
int jobs_eval(const char *spec, long cpus, long *out, bool *all, bool *is_file);
/* A count for mproc sem: as parse_jobs_count, 0 for as many as possible,
   at least 1. */
bool parse_jobs(const char *s, long cpus, long *out);
/* --halt: never, 0 1 2, now|soon,fail|success=N|X%. */
bool parse_halt(run_opts *o, const char *s);
/* A positive number of seconds, at most 1e9. */
bool parse_seconds(const char *s, double *out);
/* A duration: seconds, or numbers with d h m s units (1h30m). */
bool parse_duration(const char *s, double *out);
/* A size with GNU parallel's prefixes (K M G = 1024^n, k m g = 1000^n). */
bool parse_size(const char *s, double *out);
/* printf's backslash escapes of s into out (at most cap bytes); the length,
   or cap when it does not fit. */
size_t unescape_printf(const char *s, char *out, size_t cap);
/* --load MAX: N, +N, -N, N% of cpus. */
bool parse_load(const char *s, long cpus, double *out);
/* Resolve -j (o->jobs_s) into o->jobs, reading a -j FILE; 0, or the exit
   status after a usage error was printed. */
int run_jobs_resolve(run_opts *o);
/* --termseq SIG,MS,SIG,MS... into o. */
bool parse_termseq(run_opts *o, const char *s);

/* ---- sysinfo.c ------------------------------------------------------------ */

/* CPU threads, cores and sockets, as GNU parallel counts them. */
void cpu_topology(long *threads, long *cores, long *sockets);
/* The CPUs -j counts: threads, or cores or sockets when asked. */
long run_cpus(const run_opts *o);
/* Threads running or waiting for a disk now; -1 when unknown. */
long load_now(void);
/* Free memory in bytes as GNU parallel sums it; -1 when unknown. */
double mem_free(void);

/* ---- throttle.c ------------------------------------------------------------ */

#define REMEDIAN_W 999

typedef struct throttle {
    double next_start;                  /* --delay */
    double load_max, load_checked;      /* --load */
    long load_seen;
    double mem_checked, mem_seen;       /* --memfree */
    double rem[3][REMEDIAN_W];          /* --timeout N%: the remedian */
    size_t rem_n[3], rem_i;
    double remedian;
} throttle;

void throttle_init(throttle *t, const run_opts *o);
/* The earliest time (monotonic) the next job may start; now when it may. */
double throttle_next_start(throttle *t, const run_opts *o, double now);
void throttle_started(throttle *t, const run_opts *o, double now);
/* --memfree: whether memory is so low that the youngest job is to end. */
bool throttle_mem_low(throttle *t, const run_opts *o, double now);
/* A job succeeded after runtime seconds (--timeout N%). */
void throttle_runtime(throttle *t, double runtime);
/* How long a job may run now; INFINITY without --timeout. */
double throttle_timeout(const throttle *t, const run_opts *o);

/* ---- policy.c ------------------------------------------------------------- */

/* What the exit status and halting depend on, counted by the loop. */
typedef struct run_counts {
    size_t total;       /* jobs in all; SIZE_MAX when not yet known */
    size_t nfail, nsucc;
} run_counts;

/* The exit status when no halt decides it: with fail=X% GNU parallel's
   percentage of all the jobs that failed, rounded up; else the number
   failed, 101 past 100. */
int policy_fail_status(const run_opts *o, const run_counts *c);

/* Whether a finished job (failed or not) is one the halt policy counts. */
bool policy_halt_counts(const run_opts *o, bool failed);

/* Whether, with the counts after that job, the run halts. */
bool policy_halt_hit(const run_opts *o, const run_counts *c, bool failed);

/* The exit status of a halted run, given the job that halted it. */
int policy_halt_status(const run_opts *o, const run_counts *c, bool failed, bool timed_out,
                       int exitval, int sig);

/* ---- joblog.c -------------------------------------------------------------- */

/* Open the joblog named by path: - is stdout, +FILE (or append) appends
   with no header; else the file is created with GNU parallel's header
   line. NULL with errno set on failure. */
FILE *joblog_open(const char *path, bool append);

/* The jobs a joblog says ran (--resume) or succeeded (the others). */
typedef struct joblog_done {
    unsigned char *bits;
    size_t cap;
} joblog_done;

enum { JOBLOG_RESUME, JOBLOG_RESUME_FAILED, JOBLOG_RETRY };

/* Read the joblog at path (a leading + ignored) for --resume (mode
   JOBLOG_RESUME: every job in it is done), --resume-failed (the jobs that
   succeeded are done) or --retry-failed (also: retry gets each job's
   command by its Seq, "true" for those that succeeded). Returns 1 when it
   exists and has a header (append to it), 0 when it does not exist, -1
   after printing that a line is no joblog line (*rc set). */
int joblog_read(const char *path, int mode, joblog_done *done, source *retry, int *rc);
bool joblog_is_done(const joblog_done *d, size_t seq);
void joblog_done_free(joblog_done *d);
void joblog_close(FILE *f);

typedef struct joblog_rec {
    size_t seq;
    const char *host;   /* NULL: ":" (this machine) */
    double start_real, runtime;
    size_t sent, received;
    int exitval, sig;
    const char *cmd;
    size_t cmdlen;
} joblog_rec;

void joblog_write(FILE *f, const joblog_rec *rec);

/* ---- sources.c --------------------------------------------------------------- */

typedef struct sources {
    source *src;        /* the sources, in order */
    bool *linked;       /* linked[k]: source k pairs with k - 1 */
    rec_reader *rd;     /* how each is read */
    size_t nsrc, cap;
    rec_reader reader;  /* the options' reader, copied to each */
    bool link;          /* --link: linked sources wrap */
    int trim;           /* --trim of --colsep columns */
    struct pcre2_real_code_8 *colsep;
    struct pcre2_real_match_data_8 *md;
    size_t *order;      /* --shuf: job -> combination */
    char **jv;          /* a job's values */
    size_t jn, jcap;
    tbuf cols;          /* --colsep: a job's columns */
    bool stdin_only;    /* no source given: stdin */
    char **names;       /* --header: the columns' names, in order */
    size_t nnames;
    bool streaming;     /* values come from stdin as the jobs run */
    bool eof;           /* streaming: stdin has ended */
    tbuf partial;       /* streaming: the unfinished last record */
} sources;

/* Whether a word separates sources (:::, ::::, :::+, ::::+ or as
   --arg-sep / --arg-file-sep name them). */
bool sources_is_marker(const run_opts *o, const char *a);

/* Read the sources: -a files, then from argv[i] on ::: values and ::::
   files (- is stdin), or stdin alone when none is given, which is read as
   the jobs run (streaming) unless -j 0, --dry-run, --shuf or whole_input
   need it whole. Returns 0, or -1 after printing why (*rc the status). */
int sources_read(sources *s, const run_opts *o, int argc, char **argv, int i, int *rc);
/* One source of v's values, instead of reading any (--retry-failed). */
void sources_use(sources *s, source *v);
/* Streaming: read the rest of stdin now (every value is needed). */
int sources_read_rest(sources *s, int *rc);

/* --header: take each source's first value as its columns' names and
   make {name} in the command words (nwords, each a malloc'd string) {N};
   --header 0 names them by the :::: files. 0, or -1 (*rc set). */
int sources_header(sources *s, const run_opts *o, char **words, size_t nwords, int argc,
                   char **argv, int i, int *rc);

/* The number of jobs: every combination of the sources (linked ones
   paired). Among several sources an empty one becomes one empty value, as
   in GNU parallel. With --shuf, their order is drawn here. */
size_t sources_count(sources *s, const run_opts *o);

/* The values of job idx (0-based): *vals, valid until the next call; the
   count. One per source, or their columns with --colsep. */
size_t sources_job(sources *s, size_t idx, char ***vals);

/* Streaming: feed what was read from stdin, or its end (n == 0). */
void sources_feed(sources *s, const char *data, size_t n);

void sources_free(sources *s);

/* ---- profile.c ------------------------------------------------------------ */

/* Words, as argv: NULL-terminated, each malloc'd. */
typedef struct profile_args {
    char **argv;
    size_t n, cap;
} profile_args;

/* Append the words of s, split as the shell splits them. */
void split_shell_words(profile_args *p, const char *s);
/* Append the words of the profiles o asks for (-J), or of the default
   configuration files. */
void profile_collect(profile_args *p, const run_opts *o);
void profile_free(profile_args *p);

/* ---- groups.c --------------------------------------------------------------- */

/* Several values per job: which job takes which of the sources'
   combinations (tuples), as GNU parallel groups them: at most -n/-N/-L
   of them, and with -X/-m/--xargs as many as keep the command line below
   GNU parallel's usable length (or -s); -X and -m spread the last ones
   over the slots. */
typedef struct groups {
    bool on;            /* several values per job */
    bool context;       /* -X, -N, -L: the word with {} repeated per value */
    bool novals;        /* -N0 */
    size_t *start;      /* job k takes tuples [start[k], start[k + 1]) */
    size_t n, cap;      /* jobs */
    char **vals;        /* a job's values */
    size_t nvals, vcap;
    size_t per_tuple;   /* values of one combination in the last job */
    tbuf arena;         /* their text */
    /* What the arena holds: tuples [from, to), after each its count of
       values and the arena's length (grown or cut back, not rebuilt). */
    size_t from, to;
    size_t *tup_nvals, *tup_len, tup_cap;
    size_t *offs;       /* each value's offset in the arena */
} groups;

/* Whether the options ask for several values per job. */
bool groups_wanted(const run_opts *o);
/* The limits: GNU parallel's maximal command line (as its probe finds it
   here) and the usable part of it, -s applied. */
void line_limits(const run_opts *o, long *real, long *usable);
/* Form every job's group from the ntuples combinations; nslots is -j
   (for the spreading). Returns the number of jobs, or -1 after printing
   why (a value too long for any command line). */
long groups_form(groups *g, const run_opts *o, sources *s, size_t ntuples,
                 const cmd_tmpl *t, size_t nslots);
/* Job idx's values: *vals (valid until the next call), the count. */
size_t groups_job(groups *g, sources *s, size_t idx, char ***vals);
void groups_free(groups *g);

/* ---- results.c ------------------------------------------------------------ */

enum { RES_NONE, RES_DIR, RES_CSV, RES_TSV, RES_JSON };

typedef struct results {
    int kind;           /* RES_* */
    const char *dir;    /* RES_DIR */
    FILE *f;            /* the others */
} results;

/* A finished job, as --results records it. */
typedef struct results_rec {
    size_t seq;
    double start_real, runtime;
    size_t received;
    int exitval, sig;
    const char *cmd;
    char *const *vals;  /* its values, per_record to a record (source) */
    size_t nvals, per_record;
    char *const *names; /* --header's names of a record's columns, if any */
    size_t nnames;
    const char *out, *err;
    size_t outlen, errlen;
} results_rec;

/* Open what o->results names; 0, or -1 after printing why (*rc set). */
int results_open(results *rs, const run_opts *o, int *rc);
/* CSV and TSV: the header line, for records of nvals values. */
void results_header(results *rs, size_t nvals, char *const *names, size_t nnames);
/* Record one job; on stdout (-.csv ...) its line is appended to line
   instead, to be printed as the job's output. 0 or -errno (printed). */
int results_write(results *rs, const results_rec *j, tbuf *line);
void results_close(results *rs);

/* ---- shell.c ------------------------------------------------------------------ */

/* The shell for the jobs: $PARALLEL_SHELL, else the nearest ancestor that
   is a known shell (sh, bash, dash, zsh, ksh, fish, csh ...), else $SHELL,
   else /bin/sh. A new string. */
char *shell_choose(void);
/* Whether sh names a program that can run (a path, or a name in PATH). */
bool shell_usable(const char *sh);
/* Whether the environment holds bash functions (export -f), and whether
   the first len bytes of word name one. */
bool shell_exports_functions(void);
bool shell_is_function(const char *word, size_t len);

/* ---- jobenv.c ------------------------------------------------------------------ */

typedef struct jobenv {
    char **envp;
    char seq[40], slot[40];
    char *owned[3];
} jobenv;

void jobenv_init(jobenv *e, const char *shell, const char *tmpdir);
/* The environment for job seq in slot: valid until the next call. */
char *const *jobenv_set(jobenv *e, size_t seq, int slot);
void jobenv_free(jobenv *e);

#endif
