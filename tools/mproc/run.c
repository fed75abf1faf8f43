/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* run.c: `mproc run`, GNU parallel's interface on one poll loop.
 *
 * DESIGN. The shape is git's run_processes_parallel: a table of -j slots,
 * one poll() over every running job's pidfd and output pipes (and a
 * signalfd for SIGINT, SIGTERM and SIGHUP), per-job output buffers flushed
 * whole when the job ends. Nothing sleeps on a timer: poll's timeout is the
 * nearest job deadline (--timeout, a kill grace) or infinite. A slot that
 * frees is refilled before the loop polls again, so the next job starts the
 * moment one ends.
 *
 * Each job is started by clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) and
 * execve (spawn.c; posix_spawn, which glibc runs the same way, under the
 * sanitizers), so a large parent costs nothing to copy, in its own process
 * group, with the caller's signal mask and the dispositions the tool
 * changed reset; stdin is /dev/null, stdout and stderr are pipes. A line
 * of plain words is executed without /bin/sh (cmd_plain_argv says when
 * that changes nothing; PWD must name the working directory, as dash would
 * make it), the rest by /bin/sh -c. Ending a
 * job (timeout, --halt now, an interrupt) signals the whole group, so the
 * job's own children go with it: SIGTERM (or the interrupting signal), then
 * SIGKILL after a grace.
 *
 * A job's exit is seen on its pidfd. By then everything the job itself
 * wrote is in its pipes (it could not have exited blocked on a full pipe),
 * so the pipes are drained without blocking and the job is finished
 * without waiting for an end of file that a background grandchild may hold
 * back forever.
 *
 * Values from stdin alone are read in the same loop, as slots free, so jobs
 * start before the input ends; other sources are read whole first, since
 * their combinations need them all.
 */
#include "out.h"
#include "spawn.h"
#include "tool.h"

#include "mproc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* How long a job has after SIGTERM before SIGKILL. */
#define KILL_GRACE 1.0
/* At most this many words go to a job executed without the shell. */
#define PLAIN_ARGV_MAX 64

enum { HALT_NEVER, HALT_SOON, HALT_NOW };

typedef struct opts {
    long jobs;          /* -j as given, resolved later; -1 unset */
    const char *jobs_s;
    bool keep, null, tag, dry, bar, linebuf;
    double timeout;     /* 0: none */
    long retries;       /* tries in all, >= 1 */
    int halt_when;      /* HALT_* */
    bool halt_success;  /* success=N rather than fail=N */
    long halt_n;        /* N, or -1 with halt_pct */
    double halt_pct;    /* fail=X%: X, else -1 */
    const char *joblog;
} opts;

/* A finished job whose output waits for its turn (-k). */
typedef struct pending {
    bool done;
    tbuf out, err;
} pending;

typedef struct slot {
    bool busy;
    size_t seq;         /* 1-based job number */
    long tries;
    pid_t pid;
    int pidfd, fd_out, fd_err;
    int wr_out, wr_err; /* our copies of the pipes' write ends */
    tbuf out, err;
    size_t received;    /* bytes of stdout, for the joblog */
    double start_mono, start_real;
    double deadline;    /* --timeout, monotonic; INFINITY when none */
    double kill_at;     /* SIGKILL after the grace; INFINITY when not due */
    bool timed_out;
    bool cancelled;     /* ended by halt now, an interrupt or EPIPE: output dropped */
    tbuf cmd;
    char *tagstr;       /* "values\t" for --tag */
} slot;

typedef struct run {
    opts o;
    source *src;
    size_t nsrc;
    size_t total;       /* jobs in all */
    size_t next;        /* next job to start, 0-based */
    size_t done;        /* finished (for the bar) */
    size_t nfail, nsucc;
    long nslots;
    slot *slots;
    size_t running;
    cmd_tmpl *tmpl;
    char **vals;        /* scratch: a job's values */

    bool streaming;     /* values come from stdin as the jobs run */
    bool eof;           /* streaming: stdin has ended */
    tbuf partial;       /* streaming: the unfinished last record */

    pending *pend;      /* -k: by seq - 1 */
    size_t pend_cap;
    size_t next_print;  /* -k: next seq (1-based) to print */

    FILE *joblog;
    int devnull;
    int sigfd;
    sigset_t orig_mask; /* the mask we were given: the jobs' */
    bool reset_pipe;    /* SIGPIPE was SIG_DFL: the jobs get it back */
    bool direct_ok;     /* plain word lists may run without the shell */

    bool stop;          /* start no more jobs */
    bool halted;
    int halt_status;
    int interrupted;    /* the signal that interrupts us, or 0 */
    bool epipe;         /* stdout's reader went away */

    double t0;
    double bar_last;
    bool bar;

    struct pollfd *pfd;
    size_t *pidx;       /* pollfd -> slot */
} run;

/* ---- small helpers ---------------------------------------------------------- */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void xclose(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("mproc run: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return TOOL_EXIT_USAGE;
}

static void run_usage(FILE *f)
{
    fputs("usage: mproc run [OPTIONS] COMMAND [ARG...] ::: VALUE... [::: VALUE...]\n"
          "       mproc run [OPTIONS] COMMAND [ARG...] :::: FILE [:::: FILE]\n"
          "       ... | mproc run [OPTIONS] COMMAND [ARG...]\n"
          "\n"
          "Run COMMAND once per input (every combination of several sources), in\n"
          "parallel, by /bin/sh -c with each value shell-quoted. Replacement strings:\n"
          "{} value, {.} without extension, {/} basename, {//} dirname, {/.} basename\n"
          "without extension, {#} job number, {%} job slot, {N} {N.} {N/} {N//} {N/.}\n"
          "of source N. Without any, \" {}\" is appended.\n"
          "\n"
          "  -j, --jobs N        N jobs at a time (default: the CPU count; 0: all)\n"
          "  -k, --keep-order    print outputs in input order\n"
          "  -0, --null          stdin and :::: values are separated by NUL\n"
          "      --tag           prefix output lines with the values and a tab\n"
          "      --line-buffer   pass output lines through as they come\n"
          "      --timeout SECS  end a job and its process group after SECS\n"
          "      --retries N     run a failed job up to N times in all\n"
          "      --halt WHEN,fail=N|success=N   WHEN is now or soon\n"
          "      --joblog FILE   log each finished job, in GNU parallel's format\n"
          "      --dry-run       print the commands, run nothing\n"
          "      --bar           progress bar on stderr (on a terminal)\n"
          "  -h, --help          this text\n"
          "\n"
          "Exit status: 0 all succeeded; 1-100 the number failed; 101 more than 100\n"
          "failed; 255 a usage error. See mproc(1).\n",
          f);
}

/* ---- options ------------------------------------------------------------------ */

static bool parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

/* -j N, +N (CPUs plus N), -N (CPUs minus N, at least 1), N% (of CPUs). */
bool parse_jobs(const char *s, long *out)
{
    long cpus = mproc_cpu_count(), v;
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '%') {
        char tmp[32];
        if (len >= sizeof tmp)
            return false;
        memcpy(tmp, s, len - 1);
        tmp[len - 1] = '\0';
        if (!parse_long(tmp, &v) || v < 0)
            return false;
        *out = cpus * v / 100 > 0 ? cpus * v / 100 : 1;
        return true;
    }
    if (!parse_long(s, &v))
        return false;
    if (s[0] == '+')
        v = cpus + v;
    else if (s[0] == '-')
        v = cpus + v > 0 ? cpus + v : 1;
    if (v < 0)
        return false;
    *out = v;
    return true;
}

static bool parse_halt(opts *o, const char *s)
{
    long v;
    /* The old numeric forms: 0 never, 1 soon,fail=1, 2 now,fail=1. */
    if (parse_long(s, &v)) {
        if (v < 0 || v > 2)
            return false;
        o->halt_when = v == 0 ? HALT_NEVER : v == 1 ? HALT_SOON : HALT_NOW;
        o->halt_n = 1;
        return true;
    }
    if (!strcmp(s, "never")) {
        o->halt_when = HALT_NEVER;
        return true;
    }
    const char *comma = strchr(s, ',');
    if (!comma)
        return false;
    size_t wl = (size_t)(comma - s);
    if (wl == 3 && !strncmp(s, "now", 3))
        o->halt_when = HALT_NOW;
    else if (wl == 4 && !strncmp(s, "soon", 4))
        o->halt_when = HALT_SOON;
    else
        return false;
    const char *what = comma + 1, *num;
    if (!strncmp(what, "fail=", 5)) {
        o->halt_success = false;
        num = what + 5;
    } else if (!strncmp(what, "success=", 8)) {
        o->halt_success = true;
        num = what + 8;
    } else {
        return false;
    }
    size_t nl = strlen(num);
    if (nl > 1 && num[nl - 1] == '%') {
        char *end;
        double pct = strtod(num, &end);
        if (end != num + nl - 1 || !(pct > 0 && pct <= 100))
            return false;
        o->halt_pct = pct;
        o->halt_n = -1;
        return true;
    }
    if (!parse_long(num, &v) || v < 1)
        return false;
    o->halt_n = v;
    o->halt_pct = -1;
    return true;
}

/* Options come before the command; the first word that is not an option
   starts it. Returns the index of the command's first word, or -1 after a
   usage error was printed (*rc set). */
static int parse_opts(opts *o, int argc, char **argv, int *rc)
{
    int i = 1;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break;
        if (!strcmp(a, ":::") || !strcmp(a, "::::"))
            break;
        /* --name=value and --name value; -jN and -j N. */
        char name[32];
        const char *val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            if (nl >= sizeof name) {
                *rc = usage_error("unknown option '%s'", a);
                return -1;
            }
            memcpy(name, a, nl);
            name[nl] = '\0';
            if (eq)
                val = eq + 1;
        } else {
            name[0] = '-';
            name[1] = a[1];
            name[2] = '\0';
            if (a[2]) {
                if (a[1] == 'j') {
                    val = a + 2;
                } else {
                    /* Bundled flags: -k0. */
                    for (const char *p = a + 1; *p; p++)
                        if (*p != 'k' && *p != '0') {
                            *rc = usage_error("unknown option '%s'", a);
                            return -1;
                        }
                    o->keep |= strchr(a + 1, 'k') != NULL;
                    o->null |= strchr(a + 1, '0') != NULL;
                    continue;
                }
            }
        }
        static const char *const with_value[] = { "-j", "--jobs", "--timeout", "--retries",
                                                  "--halt", "--joblog", NULL };
        bool needs = false;
        for (size_t k = 0; with_value[k]; k++)
            needs |= !strcmp(name, with_value[k]);
        if (needs && !val) {
            if (i + 1 >= argc) {
                *rc = usage_error("option '%s' needs a value", name);
                return -1;
            }
            val = argv[++i];
        } else if (!needs && val) {
            *rc = usage_error("option '%s' takes no value", name);
            return -1;
        }

        if (!strcmp(name, "-j") || !strcmp(name, "--jobs")) {
            if (!parse_jobs(val, &o->jobs)) {
                *rc = usage_error("-j: not a number of jobs: '%s'", val);
                return -1;
            }
        } else if (!strcmp(name, "-k") || !strcmp(name, "--keep-order")) {
            o->keep = true;
        } else if (!strcmp(name, "-0") || !strcmp(name, "--null")) {
            o->null = true;
        } else if (!strcmp(name, "--tag")) {
            o->tag = true;
        } else if (!strcmp(name, "--line-buffer") || !strcmp(name, "--lb")) {
            o->linebuf = true;
        } else if (!strcmp(name, "--group")) {
            o->linebuf = false;
        } else if (!strcmp(name, "--dry-run")) {
            o->dry = true;
        } else if (!strcmp(name, "--bar")) {
            o->bar = true;
        } else if (!strcmp(name, "--will-cite")) {
            /* Accepted so that GNU parallel command lines work unchanged. */
        } else if (!strcmp(name, "--timeout")) {
            char *end;
            double t = strtod(val, &end);
            if (end == val || *end || !(t > 0) || t > 1e9) {
                *rc = usage_error("--timeout: not a number of seconds: '%s'", val);
                return -1;
            }
            o->timeout = t;
        } else if (!strcmp(name, "--retries")) {
            if (!parse_long(val, &o->retries) || o->retries < 0) {
                *rc = usage_error("--retries: not a number: '%s'", val);
                return -1;
            }
            if (o->retries == 0)
                o->retries = 1;
        } else if (!strcmp(name, "--halt")) {
            if (!parse_halt(o, val)) {
                *rc = usage_error("--halt: expected now|soon,fail=N|success=N, got '%s'", val);
                return -1;
            }
        } else if (!strcmp(name, "--joblog")) {
            o->joblog = val;
        } else if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            run_usage(stdout);
            *rc = 0;
            return -1;
        } else {
            *rc = usage_error("unknown option '%s'", a);
            return -1;
        }
    }
    return i;
}

/* ---- inputs ------------------------------------------------------------------- */

static bool is_marker(const char *a)
{
    return !strcmp(a, ":::") || !strcmp(a, "::::");
}

/* Read the sources after the command: ::: values, :::: files (each file a
   source; - is stdin), or stdin alone when there are none. */
static int read_sources(run *r, int argc, char **argv, int i, int *rc)
{
    char sep = r->o.null ? '\0' : '\n';
    if (i >= argc) {
        r->src = xmalloc(sizeof *r->src);
        memset(r->src, 0, sizeof *r->src);
        r->nsrc = 1;
        /* Values from stdin alone are read as the jobs run, so that jobs
           start before the input ends (tail -f | mproc run ...). -j 0 and
           --dry-run need them all first. */
        if (r->o.jobs != 0 && !r->o.dry) {
            r->streaming = true;
            return 0;
        }
        int err = source_read_fd(&r->src[0], 0, sep);
        if (err < 0) {
            *rc = usage_error("cannot read stdin: %s", strerror(-err));
            return -1;
        }
        return 0;
    }
    r->src = xmalloc((size_t)argc * sizeof *r->src);
    memset(r->src, 0, (size_t)argc * sizeof *r->src);
    while (i < argc) {
        bool files = !strcmp(argv[i], "::::");
        i++;
        if (!files) {
            source *s = &r->src[r->nsrc++];
            for (; i < argc && !is_marker(argv[i]); i++)
                source_push(s, argv[i]);
            continue;
        }
        for (; i < argc && !is_marker(argv[i]); i++) {
            source *s = &r->src[r->nsrc++];
            int fd = !strcmp(argv[i], "-") ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                *rc = usage_error("cannot open input file '%s'", argv[i]);
                return -1;
            }
            int err = source_read_fd(s, fd, sep);
            if (fd > 0)
                close(fd);
            if (err < 0) {
                *rc = usage_error("cannot read input file '%s'", argv[i]);
                return -1;
            }
        }
    }
    if (r->nsrc == 0) {
        /* ":::: " with no file: nothing to combine. */
        r->nsrc = 1;
    }
    return 0;
}

/* Every combination of the sources, the last varying fastest. Among
   several sources an empty one holds one empty value, as in GNU parallel
   (echo ::: a ::: runs "echo a ''"); a single empty source runs nothing. */
static size_t count_jobs(run *r)
{
    size_t total = 1;
    for (size_t k = 0; k < r->nsrc; k++) {
        if (r->src[k].n == 0 && r->nsrc > 1)
            source_push(&r->src[k], "");
        if (r->src[k].n == 0)
            return 0;
        if (total > SIZE_MAX / r->src[k].n)
            return SIZE_MAX;
        total *= r->src[k].n;
    }
    return total;
}

static void job_values(const run *r, size_t idx, char **vals)
{
    for (size_t k = r->nsrc; k-- > 0;) {
        vals[k] = r->src[k].v[idx % r->src[k].n];
        idx /= r->src[k].n;
    }
}

static char *make_tag(const run *r)
{
    tbuf t = {0};
    for (size_t k = 0; k < r->nsrc; k++) {
        if (k)
            tbuf_addc(&t, ' ');
        tbuf_adds(&t, r->vals[k]);
    }
    tbuf_addc(&t, '\t');
    return t.p;
}

/* ---- output ------------------------------------------------------------------ */

static void note_write(run *r, int err)
{
    if (err == -EPIPE && !r->epipe) {
        /* The reader of our output is gone: end everything and leave as a
           writer to a closed pipe does, by SIGPIPE. */
        r->epipe = true;
        r->stop = true;
    }
}

static void print_whole(run *r, const char *tag, tbuf *out, tbuf *err)
{
    if (!r->epipe)
        note_write(r, out_write(1, tag, out->p, out->len));
    (void)out_write(2, tag, err->p, err->len);
}

/* -k: room in the pending table for every job known so far. */
static void pend_grow(run *r)
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
static bool may_retry(const run *r, const slot *s)
{
    return r->o.retries > 1 && s->tries < r->o.retries;
}

/* -k: print every finished job whose turn has come; the first unfinished
   one, with --line-buffer, starts passing its lines through. */
static void print_ready(run *r)
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
static bool streams(const run *r, const slot *s)
{
    return r->o.linebuf && (!r->o.keep || s->seq == r->next_print) && !may_retry(r, s);
}

/* ---- the joblog ------------------------------------------------------------------ */

static void joblog_line(run *r, const slot *s, int exitval, int sig, double runtime)
{
    if (!r->joblog)
        return;
    fprintf(r->joblog, "%zu\t:\t%.3f\t%10.3f\t0\t%zu\t%d\t%d\t", s->seq, s->start_real,
            runtime, s->received, exitval, sig);
    /* One line per job: a newline in the command is written as a NUL byte,
       as GNU parallel does. */
    for (size_t k = 0; k < s->cmd.len; k++)
        putc(s->cmd.p[k] == '\n' ? '\0' : s->cmd.p[k], r->joblog);
    putc('\n', r->joblog);
    fflush(r->joblog);
}

/* ---- starting jobs ----------------------------------------------------------------- */

/* The read end of a new pipe has no status flag but O_RDONLY, so one
   F_SETFL suffices. */
static int set_nonblock(int fd)
{
    return fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
}

/* Start s->cmd with out_w and err_w as its stdout and stderr.
 *
 * A plain word list runs without the shell: the same program, argv, output
 * and status, one exec fewer. When the program is not found (or cannot
 * run) the shell runs the line instead, to say so in its own words and
 * exit 127 or 126 as it would. */
static int do_spawn(run *r, slot *s, int out_w, int err_w, pid_t *pid, int *pidfd)
{
    char line[4096];
    char *argv[PLAIN_ARGV_MAX + 1];
    char *sh_argv[] = { "/bin/sh", "-c", s->cmd.p, NULL };
    bool plain = false;
    if (r->direct_ok && s->cmd.len < sizeof line) {
        memcpy(line, s->cmd.p, s->cmd.len + 1);
        plain = cmd_plain_argv(line, argv, PLAIN_ARGV_MAX + 1) > 0;
    }
    spawn_plan plan = { .fd0 = r->devnull, .fd1 = out_w, .fd2 = err_w,
                        .mask = &r->orig_mask, .reset_sigpipe = r->reset_pipe };
    if (plain) {
        const char *path = spawn_resolve(argv[0]);
        if (path && spawn_job(&plan, path, argv, pid, pidfd) == 0)
            return 0;
    }
    return spawn_job(&plan, "/bin/sh", sh_argv, pid, pidfd);
}

/* Start job s->seq (again, on a retry) in slot index si. */
static int start_job(run *r, long si)
{
    slot *s = &r->slots[si];
    int p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 };
    int err = 0;
    job_values(r, s->seq - 1, r->vals);
    cmd_build(r->tmpl, &s->cmd, r->vals, s->seq, (int)si + 1);
    if (r->o.tag && !s->tagstr)
        s->tagstr = make_tag(r);
    if (pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0) {
        err = -errno;
        goto out;
    }
    if ((err = set_nonblock(p_out[0])) < 0 || (err = set_nonblock(p_err[0])) < 0)
        goto out;
    s->out.len = s->err.len = 0;
    s->received = 0;
    s->timed_out = false;
    s->kill_at = INFINITY;
    s->start_real = now_real();
    s->start_mono = now_mono();
    s->deadline = r->o.timeout > 0 ? s->start_mono + r->o.timeout : INFINITY;
    pid_t pid;
    int pidfd;
    if ((err = do_spawn(r, s, p_out[1], p_err[1], &pid, &pidfd)) < 0)
        goto out;
    s->pid = pid;
    s->pidfd = pidfd;
    s->fd_out = p_out[0];
    s->fd_err = p_err[0];
    /* We keep the write ends until the job is reaped: its pipes then never
       signal end of file (POLLHUP) as it exits, only the pidfd wakes us, one
       wakeup and context switch per job instead of two. Its output is read
       once it has exited, without waiting for an end of file. */
    s->wr_out = p_out[1];
    s->wr_err = p_err[1];
    p_out[0] = p_err[0] = p_out[1] = p_err[1] = -1;
    s->busy = true;
    s->tries++;
    r->running++;
out:
    xclose(&p_out[0]);
    xclose(&p_out[1]);
    xclose(&p_err[0]);
    xclose(&p_err[1]);
    return err;
}

/* Fill the free slots with the next jobs. */
static int fill_slots(run *r)
{
    for (long i = 0; i < r->nslots && !r->stop && r->next < r->total; i++) {
        slot *s = &r->slots[i];
        if (s->busy)
            continue;
        s->seq = ++r->next;
        s->tries = 0;
        s->cancelled = false;
        free(s->tagstr);
        s->tagstr = NULL;
        int err = start_job(r, i);
        if ((err == -EAGAIN || err == -ENOMEM) && r->running > 0) {
            /* The kernel refuses another process for now: try this job
               again when a running one has ended. */
            r->next--;
            return 0;
        }
        if (err < 0)
            return err;
    }
    return 0;
}

/* ---- ending jobs --------------------------------------------------------------------- */

/* Signal the job's whole process group; after the leader is reaped its
   group may still hold its children, which this reaches too. */
static void signal_job(slot *s, int sig)
{
    if (kill(-s->pid, sig) < 0 && s->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, s->pidfd, sig, NULL, 0);
}

static void cancel_all(run *r, int sig)
{
    double t = now_mono();
    for (long i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (!s->busy || s->cancelled)
            continue;
        s->cancelled = true;
        signal_job(s, sig);
        s->kill_at = t + KILL_GRACE;
    }
}

/* The exit status when no halt decides it: with fail=X% GNU parallel's
   percentage of all the jobs that failed, rounded up; else the number
   failed. */
static int fail_status(const run *r)
{
    if (r->o.halt_when != HALT_NEVER && !r->o.halt_success && r->o.halt_pct > 0 &&
        r->total > 0 && r->total != SIZE_MAX)
        return (int)((r->nfail * 100 + r->total - 1) / r->total);
    return r->nfail > 100 ? 101 : (int)r->nfail;
}

static void trigger_halt(run *r, const slot *s, int exitval, int sig, bool failed)
{
    r->halted = true;
    r->stop = true;
    if (failed) {
        /* fail=1 leaves with the job's own status; a timed-out job's
           Exitval is -1, which GNU parallel's exit makes 255. */
        if (r->o.halt_n == 1)
            r->halt_status = s->timed_out ? 255 : exitval > 0 ? exitval : sig > 0 ? 128 + sig : 1;
        else
            r->halt_status = fail_status(r);
    } else {
        r->halt_status = 0;
    }
    if (r->o.halt_when == HALT_NOW) {
        cancel_all(r, SIGTERM);
    } else if (r->running > 0) {
        fprintf(stderr, "mproc: Starting no more jobs. Waiting for %zu jobs to finish.\n",
                r->running);
    }
}

static void check_halt(run *r, const slot *s, int exitval, int sig, bool failed)
{
    if (r->o.halt_when == HALT_NEVER || failed == r->o.halt_success)
        return;
    /* Every job of the kind the policy counts is named, not only the one
       that halts, as GNU parallel does. */
    fprintf(stderr, "mproc: This job %s:\n%s\n", failed ? "failed" : "succeeded", s->cmd.p);
    if (r->halted)
        return;
    size_t n = failed ? r->nfail : r->nsucc;
    bool hit;
    /* X% of all the jobs, as GNU parallel counts: not of those done so far. */
    if (r->o.halt_pct > 0)
        hit = (double)n * 100.0 >= r->o.halt_pct * (double)r->total;
    else
        hit = n >= (size_t)r->o.halt_n;
    if (hit)
        trigger_halt(r, s, exitval, sig, failed);
}

static void drain(run *r, slot *s, int *fd, tbuf *b, bool is_out)
{
    char buf[65536];
    while (*fd >= 0) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                xclose(fd);
            return;
        }
        if (n == 0) {
            xclose(fd);
            return;
        }
        if (is_out)
            s->received += (size_t)n;
        if (s->cancelled)
            continue;
        tbuf_add(b, buf, (size_t)n);
        if (streams(r, s)) {
            if (!is_out)
                (void)out_lines(2, s->tagstr, b);
            else if (!r->epipe)
                note_write(r, out_lines(1, s->tagstr, b));
        }
        if ((size_t)n < sizeof buf)
            return;
    }
}

static void bar_update(run *r, bool last)
{
    if (!r->bar)
        return;
    double t = now_mono();
    if (!last && t - r->bar_last < 0.1)
        return;
    r->bar_last = t;
    bar_draw(r->done, r->total, t - r->t0, last);
}

/* The job's leader has exited: collect what it wrote and finish it, or run
   it again. */
static int reap_job(run *r, long si)
{
    slot *s = &r->slots[si];
    siginfo_t si_ = { 0 };
    if (waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si_, WEXITED | WNOHANG) < 0)
        return -errno;
    if (si_.si_pid == 0)
        return 0; /* not yet: a spurious wakeup */
    double runtime = now_mono() - s->start_mono;
    drain(r, s, &s->fd_out, &s->out, true);
    drain(r, s, &s->fd_err, &s->err, false);
    xclose(&s->fd_out);
    xclose(&s->fd_err);
    xclose(&s->wr_out);
    xclose(&s->wr_err);
    xclose(&s->pidfd);
    if (s->timed_out || s->cancelled)
        kill(-s->pid, SIGKILL); /* whatever of the group outlived its leader */
    s->busy = false;
    r->running--;

    if (s->cancelled)
        return 0;
    int exitval = 0, sig = 0;
    if (si_.si_code == CLD_EXITED)
        exitval = si_.si_status;
    else
        sig = si_.si_status;
    if (s->timed_out) {
        exitval = -1;
        sig = SIGTERM;
    }
    bool failed = exitval != 0 || sig != 0;
    if (failed && s->tries < r->o.retries && !r->stop) {
        /* Only the last try's output and joblog line count. */
        return start_job(r, si);
    }
    r->done++;
    if (failed)
        r->nfail++;
    else
        r->nsucc++;

    if (r->o.keep) {
        pending *p = &r->pend[s->seq - 1];
        p->done = true;
        if (s->seq == r->next_print && r->o.linebuf) {
            print_whole(r, s->tagstr, &s->out, &s->err);
        } else {
            p->out = s->out;
            p->err = s->err;
            memset(&s->out, 0, sizeof s->out);
            memset(&s->err, 0, sizeof s->err);
            if (s->tagstr) {
                /* Tag now: the pending table holds finished text. */
                tbuf t = {0};
                out_tag_into(&t, s->tagstr, p->out.p, p->out.len);
                tbuf_free(&p->out);
                p->out = t;
                tbuf t2 = {0};
                out_tag_into(&t2, s->tagstr, p->err.p, p->err.len);
                tbuf_free(&p->err);
                p->err = t2;
            }
        }
        print_ready(r);
    } else {
        print_whole(r, s->tagstr, &s->out, &s->err);
    }
    /* After the output, as GNU parallel does, for --joblog - */
    joblog_line(r, s, exitval, sig, runtime);
    s->out.len = s->err.len = 0;
    check_halt(r, s, exitval, sig, failed);
    bar_update(r, false);
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------- */

static void on_deadlines(run *r)
{
    double t = now_mono();
    for (long i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (!s->busy)
            continue;
        if (t >= s->deadline && !s->timed_out) {
            s->timed_out = true;
            s->deadline = INFINITY;
            s->kill_at = t + KILL_GRACE;
            fprintf(stderr, "mproc: Warning: This job was killed because it timed out:\n"
                            "mproc: Warning: %s\n",
                    s->cmd.p);
            signal_job(s, SIGTERM);
        }
        if (t >= s->kill_at) {
            s->kill_at = INFINITY;
            signal_job(s, SIGKILL);
        }
    }
}

static int poll_timeout(const run *r)
{
    double next = INFINITY;
    for (long i = 0; i < r->nslots; i++) {
        const slot *s = &r->slots[i];
        if (!s->busy)
            continue;
        if (s->deadline < next)
            next = s->deadline;
        if (s->kill_at < next)
            next = s->kill_at;
    }
    if (next == INFINITY)
        return -1;
    /* Rounded up, so that poll never wakes before the deadline (ceil by
       hand: the tool does not link libm). */
    double ms = (next - now_mono()) * 1000.0;
    if (ms <= 0)
        return 0;
    if (ms >= INT_MAX)
        return INT_MAX;
    int whole = (int)ms;
    return (double)whole < ms ? whole + 1 : whole;
}

static void on_signal(run *r)
{
    struct signalfd_siginfo ssi;
    while (read(r->sigfd, &ssi, sizeof ssi) == (ssize_t)sizeof ssi) {
        int sig = (int)ssi.ssi_signo;
        if (r->interrupted) {
            /* A second interrupt: no more grace. */
            for (long i = 0; i < r->nslots; i++)
                if (r->slots[i].busy)
                    signal_job(&r->slots[i], SIGKILL);
            continue;
        }
        r->interrupted = sig;
        r->stop = true;
        cancel_all(r, sig);
    }
}

/* stdin is readable: take what it has (one read, which cannot block after
   poll said so; stdin is shared, so it is never made non-blocking). */
static void on_input(run *r)
{
    char buf[65536];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (n < 0)
            fprintf(stderr, "mproc run: reading stdin: %s\n", strerror(errno));
        source_feed_end(&r->src[0], &r->partial);
        r->eof = true;
    } else {
        source_feed(&r->src[0], &r->partial, buf, (size_t)n, r->o.null ? '\0' : '\n');
    }
    r->total = r->src[0].n;
    pend_grow(r);
}

/* Whether to wait for more input: only while a slot is free for it. */
static bool want_input(const run *r)
{
    return r->streaming && !r->eof && !r->stop && r->next >= r->total &&
           r->running < (size_t)r->nslots;
}

static int loop(run *r)
{
    size_t cap = (size_t)r->nslots * 3 + 2;
    r->pfd = xmalloc(cap * sizeof *r->pfd);
    r->pidx = xmalloc(cap * sizeof *r->pidx);
    int err = fill_slots(r);
    bar_update(r, false);
    while (err >= 0 && (r->running > 0 || want_input(r))) {
        size_t n = 0;
        r->pfd[n++] = (struct pollfd){ .fd = r->sigfd, .events = POLLIN };
        bool input = want_input(r);
        if (input) {
            r->pfd[n] = (struct pollfd){ .fd = 0, .events = POLLIN };
            r->pidx[n++] = SIZE_MAX;
        }
        for (long i = 0; i < r->nslots; i++) {
            slot *s = &r->slots[i];
            if (!s->busy)
                continue;
            int fds[3] = { s->pidfd, s->fd_out, s->fd_err };
            for (int k = 0; k < 3; k++) {
                if (fds[k] < 0)
                    continue;
                r->pfd[n] = (struct pollfd){ .fd = fds[k], .events = POLLIN };
                r->pidx[n++] = (size_t)i;
            }
        }
        int ready = poll(r->pfd, n, poll_timeout(r));
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            break;
        }
        if (r->pfd[0].revents)
            on_signal(r);
        if (input && r->pfd[1].revents) {
            on_input(r);
            r->pfd[1].revents = 0;
            if ((err = fill_slots(r)) < 0)
                break;
        }
        /* Output first, exits second: a job's last bytes before its end. */
        for (size_t k = 1; k < n; k++) {
            if (!r->pfd[k].revents)
                continue;
            slot *s = &r->slots[r->pidx[k]];
            if (r->pfd[k].fd == s->fd_out)
                drain(r, s, &s->fd_out, &s->out, true);
            else if (r->pfd[k].fd == s->fd_err)
                drain(r, s, &s->fd_err, &s->err, false);
        }
        for (size_t k = 1; k < n && err >= 0; k++) {
            if (!r->pfd[k].revents)
                continue;
            long si = (long)r->pidx[k];
            slot *s = &r->slots[si];
            if (s->busy && r->pfd[k].fd == s->pidfd) {
                err = reap_job(r, si);
                if (err >= 0)
                    err = fill_slots(r);
            }
        }
        if (r->epipe && !r->interrupted) {
            r->interrupted = SIGPIPE;
            cancel_all(r, SIGTERM);
        }
        on_deadlines(r);
    }
    return err;
}

/* ---- setup ----------------------------------------------------------------------------- */

/* Whether a job run without the shell sees the environment the shell would
   give it: dash sets PWD to the working directory when PWD is unset or
   names another one, so only a PWD that names "." changes nothing. */
static bool pwd_is_cwd(void)
{
    const char *pwd = getenv("PWD");
    struct stat a, b;
    if (!pwd || pwd[0] != '/' || stat(pwd, &a) < 0 || stat(".", &b) < 0)
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* posix_spawn needs 0, 1 and 2 open: a job's dup2 onto a descriptor that is
   already its number would not clear close-on-exec. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int nfd = open("/dev/null", O_RDWR);
        if (nfd >= 0 && nfd != fd) {
            dup2(nfd, fd);
            close(nfd);
        }
    }
}

/* Enough descriptors for n slots of five each (pidfd, two pipes), raising the soft limit when
   the hard one allows; returns the slots that fit. */
static long fit_slots(long n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return n;
    rlim_t need = (rlim_t)n * 5 + 32;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        long fit = ((long)rl.rlim_cur - 32) / 5;
        return fit > 0 ? fit : 1;
    }
    return n;
}

static int dry_run(run *r)
{
    tbuf line = {0};
    int rc = 0;
    for (size_t i = 0; i < r->total; i++) {
        job_values(r, i, r->vals);
        cmd_build(r->tmpl, &line, r->vals, i + 1, (int)(i % (size_t)r->nslots) + 1);
        tbuf_addc(&line, '\n');
        char *tag = r->o.tag ? make_tag(r) : NULL;
        int err = out_write(1, tag, line.p, line.len);
        free(tag);
        if (err < 0) {
            rc = err == -EPIPE ? 0 : TOOL_EXIT_USAGE;
            break;
        }
    }
    tbuf_free(&line);
    return rc;
}

int tool_run(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    r.o.jobs = -1;
    r.o.retries = 1;
    r.o.halt_pct = -1;
    r.devnull = r.sigfd = -1;
    int rc = 0;
    sigset_t orig_mask, block;
    bool masked = false;
    struct sigaction sa_pipe_old, sa_chld_old;
    bool pipe_set = false, chld_set = false;

    /* First of all: reading a closed stdin must find it empty (GNU parallel
       runs no job and exits 0), not fail. */
    ensure_std_fds();
    if (sem_wanted(argc, argv))
        return tool_sem(argc, argv);
    int i = parse_opts(&r.o, argc, argv, &rc);
    if (i < 0)
        goto out;
    int cmd_start = i;
    while (i < argc && !is_marker(argv[i]))
        i++;
    if (i == cmd_start) {
        rc = usage_error("%s", "missing command");
        goto out;
    }
    tbuf joined = {0};
    for (int k = cmd_start; k < i; k++) {
        if (k > cmd_start)
            tbuf_addc(&joined, ' ');
        tbuf_adds(&joined, argv[k]);
    }
    if (read_sources(&r, argc, argv, i, &rc) < 0) {
        tbuf_free(&joined);
        goto out;
    }
    r.tmpl = cmd_parse(tbuf_cstr(&joined), r.nsrc);
    tbuf_free(&joined);
    r.total = count_jobs(&r);
    r.vals = xmalloc((r.nsrc + 1) * sizeof *r.vals);

    long j = r.o.jobs < 0 ? mproc_cpu_count() : r.o.jobs;
    if (!r.streaming && (j == 0 || (size_t)j > r.total))
        j = r.total > 0 && r.total < LONG_MAX ? (long)r.total : 1;
    if (j < 1)
        j = 1;
    r.nslots = j;

    if (r.o.joblog) {
        /* As in GNU parallel: - is stdout; +FILE appends, with no header. */
        bool append = r.o.joblog[0] == '+';
        if (!strcmp(r.o.joblog, "-"))
            r.joblog = stdout;
        else
            r.joblog = fopen(r.o.joblog + append, append ? "ae" : "we");
        if (!r.joblog) {
            rc = usage_error("cannot write the joblog '%s'", r.o.joblog + append);
            goto out;
        }
        if (!append)
            fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n",
                  r.joblog);
        fflush(r.joblog);
    }
    if (r.o.dry) {
        rc = dry_run(&r);
        goto out;
    }
    if (r.total == 0 && !r.streaming)
        goto out;

    r.nslots = fit_slots(r.nslots);
    r.slots = xmalloc((size_t)r.nslots * sizeof *r.slots);
    memset(r.slots, 0, (size_t)r.nslots * sizeof *r.slots);
    for (long k = 0; k < r.nslots; k++)
        r.slots[k].pidfd = r.slots[k].fd_out = r.slots[k].fd_err = r.slots[k].wr_out =
            r.slots[k].wr_err = -1;
    if (r.o.keep) {
        pend_grow(&r);
        r.next_print = 1;
    }
    r.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r.devnull < 0) {
        rc = usage_error("cannot open /dev/null: %s", strerror(errno));
        goto out;
    }

    /* Interrupts arrive on a signalfd, read in the loop, so no handler runs
       in the middle of it; jobs get the mask we were given. One the caller
       ignores (nohup) is left out: Linux would queue it, blocked, for the
       signalfd all the same, and it must not stop the run. */
    sigemptyset(&block);
    static const int interrupts[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t k = 0; k < sizeof interrupts / sizeof interrupts[0]; k++) {
        struct sigaction old;
        if (sigaction(interrupts[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaddset(&block, interrupts[k]);
    }
    sigprocmask(SIG_BLOCK, &block, &orig_mask);
    masked = true;
    r.sigfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
    if (r.sigfd < 0) {
        rc = usage_error("signalfd: %s", strerror(errno));
        goto out;
    }

    /* A write to a closed stdout must come back as EPIPE, so that the jobs
       are ended before we go; the jobs themselves get SIGPIPE as usual. */
    struct sigaction ign = { .sa_handler = SIG_IGN };
    sigaction(SIGPIPE, &ign, &sa_pipe_old);
    pipe_set = true;
    if (sa_pipe_old.sa_handler == SIG_DFL)
        r.reset_pipe = true;
    r.orig_mask = orig_mask;
    /* With SIGCHLD ignored the kernel would reap the jobs before their
       exit status could be read. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigaction(SIGCHLD, &dfl, &sa_chld_old);
    chld_set = true;

    r.direct_ok = pwd_is_cwd();
    r.bar = r.o.bar && isatty(2);
    r.t0 = now_mono();
    int err = loop(&r);
    if (err < 0) {
        fprintf(stderr, "mproc run: %s\n", strerror(-err));
        /* End whatever runs, then leave. */
        cancel_all(&r, SIGKILL);
        for (long k = 0; k < r.nslots; k++) {
            slot *s = &r.slots[k];
            if (!s->busy)
                continue;
            waitpid(s->pid, NULL, 0);
            kill(-s->pid, SIGKILL);
            xclose(&s->pidfd);
            xclose(&s->fd_out);
            xclose(&s->fd_err);
            xclose(&s->wr_out);
            xclose(&s->wr_err);
            s->busy = false;
        }
        rc = TOOL_EXIT_USAGE;
        goto out;
    }
    if (r.o.keep && !(r.halted && r.o.halt_when == HALT_NOW)) {
        /* After a halt soon or an interrupt: what finished, in order. A
           halt now drops what was held, as GNU parallel does. */
        for (size_t k = r.next_print; k >= 1 && k <= r.total; k++)
            if (r.pend[k - 1].done)
                print_whole(&r, NULL, &r.pend[k - 1].out, &r.pend[k - 1].err);
    }
    bar_update(&r, true);
    if (r.halted)
        rc = r.halt_status;
    else
        rc = fail_status(&r);

out:
    if (r.joblog == stdout)
        fflush(stdout);
    else if (r.joblog)
        fclose(r.joblog);
    xclose(&r.sigfd);
    xclose(&r.devnull);
    int die_by = r.interrupted;
    if (pipe_set)
        sigaction(SIGPIPE, &sa_pipe_old, NULL);
    if (chld_set)
        sigaction(SIGCHLD, &sa_chld_old, NULL);
    if (die_by) {
        /* Leave as the signal would have made us, so a shell sees it. */
        signal(die_by, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, die_by);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(die_by);
    }
    if (masked)
        sigprocmask(SIG_SETMASK, &orig_mask, NULL);
    if (r.slots) {
        for (long k = 0; k < r.nslots; k++) {
            tbuf_free(&r.slots[k].out);
            tbuf_free(&r.slots[k].err);
            tbuf_free(&r.slots[k].cmd);
            free(r.slots[k].tagstr);
        }
        free(r.slots);
    }
    if (r.pend) {
        for (size_t k = 0; k < r.pend_cap; k++) {
            tbuf_free(&r.pend[k].out);
            tbuf_free(&r.pend[k].err);
        }
        free(r.pend);
    }
    for (size_t k = 0; k < r.nsrc && r.src; k++)
        source_free(&r.src[k]);
    free(r.src);
    free(r.vals);
    free(r.pfd);
    free(r.pidx);
    cmd_free(r.tmpl);
    tbuf_free(&r.partial);
    return rc;
}
