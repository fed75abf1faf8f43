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
 * of plain words is executed without the shell (cmd_plain_argv says when
 * that changes nothing; PWD must name the working directory, as dash would
 * make it), the rest by the shell GNU parallel would choose (shell.c), with -c. Ending a
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
#include "repl.h"
#include "run.h"
#include "spawn.h"
#include "tool.h"

#include "mproc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
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

/* At most this many words go to a job executed without the shell. */
#define PLAIN_ARGV_MAX 64
/* A failure whose message is already printed. */
#define ERR_REPORTED (-4096)

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
    double kill_at;     /* the next --termseq step; INFINITY when not due */
    int term_step;      /* the --termseq step due at kill_at */
    bool timed_out;
    bool requeued;      /* ended by --memfree: runs again later */
    bool cancelled;     /* ended by halt now, an interrupt or EPIPE: output dropped */
    tbuf cmd;
    char *tagstr;       /* "values\t" for --tag */
} slot;

typedef struct run {
    run_opts o;
    sources in;
    pipe_in pipe;       /* --pipe: the blocks, one per job */
    size_t total;       /* jobs in all */
    size_t next;        /* next job to start, 0-based */
    size_t done;        /* finished (for the bar) */
    size_t nfail, nsucc;
    long nslots;
    slot *slots;
    size_t running;
    cmd_tmpl *tmpl;
    char **vals;        /* scratch: a job's values */

    pending *pend;      /* -k: by seq - 1 */
    size_t pend_cap;
    size_t next_print;  /* -k: next seq (1-based) to print */

    FILE *joblog;
    int devnull;
    int sigfd;
    sigset_t orig_mask; /* the mask we were given: the jobs' */
    bool reset_pipe;    /* SIGPIPE was SIG_DFL: the jobs get it back */
    bool direct_ok;     /* plain word lists may run without the shell */
    bool funcs;         /* the environment holds exported bash functions */
    char *shell;        /* what runs the jobs' command lines */
    jobenv env;

    throttle th;
    double hold_until;  /* jobs wait to start until then; INFINITY: not held */
    size_t *requeue;    /* --memfree: jobs to run again */
    size_t nrequeue, requeue_cap;

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

static char *make_tag(const run *r)
{
    tbuf t = {0};
    for (size_t k = 0; k < r->in.nsrc; k++) {
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
    joblog_rec rec = { .seq = s->seq, .start_real = s->start_real, .runtime = runtime,
                       .sent = pipe_block_len(&r->pipe, s->seq), .received = s->received, .exitval = exitval, .sig = sig,
                       .cmd = s->cmd.p, .cmdlen = s->cmd.len };
    joblog_write(r->joblog, &rec);
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
static int do_spawn(run *r, slot *s, long si, int in_r, int out_w, int err_w, pid_t *pid,
                    int *pidfd)
{
    char line[4096];
    char *argv[PLAIN_ARGV_MAX + 1];
    tbuf wrapped = { 0 };
    char *sh_argv[] = { r->shell, "-c", s->cmd.p, NULL };
    bool plain = false;
    if (r->o.repl.shellquote) {
        tbuf_add(&wrapped, s->cmd.p, s->cmd.len);
        cmd_shellquote_wrap(r->tmpl, &wrapped);
        sh_argv[2] = wrapped.p;
    } else if (r->direct_ok && s->cmd.len < sizeof line) {
        memcpy(line, s->cmd.p, s->cmd.len + 1);
        plain = cmd_plain_argv(line, argv, PLAIN_ARGV_MAX + 1) > 0;
        /* An exported bash function of that name is what the shell runs. */
        if (plain && r->funcs && shell_is_function(argv[0], strlen(argv[0])))
            plain = false;
    }
    spawn_plan plan = { .fd0 = in_r, .fd1 = out_w, .fd2 = err_w,
                        .mask = &r->orig_mask, .reset_sigpipe = r->reset_pipe,
                        .envp = jobenv_set(&r->env, s->seq, (int)si + 1) };
    if (plain) {
        const char *path = spawn_resolve(argv[0]);
        if (path && spawn_job(&plan, path, argv, pid, pidfd) == 0)
            return 0;
    }
    int err = spawn_job(&plan, r->shell, sh_argv, pid, pidfd);
    tbuf_free(&wrapped);
    return err;
}

/* The command line of job seq in slot slotno (1-based) from r->vals: 0; 1
   when skip() was called; -1 after an error was printed. */
static int build_cmd(run *r, tbuf *line, size_t seq, long slotno)
{
    cmd_job job = { .vals = r->vals, .nvals = r->in.nsrc, .seq = seq, .slot = slotno,
                    .total = r->total, .nslots = r->nslots };
    return cmd_build(r->tmpl, line, &job);
}

/* -v: the command before its output; -t: on stderr as it starts. */
static void announce(run *r, slot *s)
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

/* Start job s->seq (again, on a retry) in slot index si; 1 when the job is
   skipped instead (skip() in an expression). */
static int start_job(run *r, long si)
{
    slot *s = &r->slots[si];
    int p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 };
    int err = 0, in_r = r->devnull;
    sources_job(&r->in, s->seq - 1, r->vals);
    int b = build_cmd(r, &s->cmd, s->seq, si + 1);
    if (b < 0)
        return ERR_REPORTED;
    if (b > 0)
        return 1; /* skip() */
    if (r->o.tag && !s->tagstr)
        s->tagstr = make_tag(r);
    if (!r->o.ungroup) {
        if (pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0) {
            err = -errno;
            goto out;
        }
        if ((err = set_nonblock(p_out[0])) < 0 || (err = set_nonblock(p_err[0])) < 0)
            goto out;
    }
    s->out.len = s->err.len = 0;
    s->received = 0;
    s->timed_out = false;
    s->requeued = false;
    s->kill_at = INFINITY;
    s->start_real = now_real();
    s->start_mono = now_mono();
    announce(r, s);
    pid_t pid;
    int pidfd;
    if (r->o.pipe.on && (in_r = pipe_job_stdin(&r->pipe, s->seq)) < 0) {
        err = in_r;
        goto out;
    }
    err = do_spawn(r, s, si, in_r, r->o.ungroup ? 1 : p_out[1], r->o.ungroup ? 2 : p_err[1], &pid,
                   &pidfd);
    if (r->o.pipe.on)
        xclose(&in_r);
    if (err < 0)
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

static void finish_skipped(run *r, slot *s);

static void requeue(run *r, size_t seq)
{
    if (r->nrequeue == r->requeue_cap) {
        r->requeue_cap = r->requeue_cap ? r->requeue_cap * 2 : 16;
        r->requeue = xrealloc(r->requeue, r->requeue_cap * sizeof *r->requeue);
    }
    r->requeue[r->nrequeue++] = seq;
}

/* Fill the free slots with the next jobs, unless the throttle holds them
   (then hold_until says till when). */
static bool jobs_waiting(const run *r)
{
    return !r->stop && (r->next < r->total || r->nrequeue > 0);
}

static int fill_slots(run *r)
{
    r->hold_until = INFINITY;
    for (long i = 0; i < r->nslots && jobs_waiting(r); i++) {
        slot *s = &r->slots[i];
        if (s->busy)
            continue;
        double t = now_mono(), at = throttle_next_start(&r->th, &r->o, t);
        if (at > t) {
            r->hold_until = at;
            return 0;
        }
        throttle_started(&r->th, &r->o, t);
        s->seq = r->nrequeue > 0 ? r->requeue[--r->nrequeue] : ++r->next;
        s->tries = 0;
        s->cancelled = false;
        free(s->tagstr);
        s->tagstr = NULL;
        int err = start_job(r, i);
        if (err == 1) {
            finish_skipped(r, s);
            i--; /* the slot is free again */
            continue;
        }
        if ((err == -EAGAIN || err == -ENOMEM) && r->running > 0) {
            /* The kernel refuses another process for now: try this job
               again when a running one has ended. */
            requeue(r, s->seq);
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

/* Begin ending a job by --termseq: its first signal (or sig, when not 0),
   then each next one as its time comes (on_deadlines). */
static void end_job(run *r, slot *s, int sig, double t)
{
    signal_job(s, sig ? sig : r->o.term_sig[0]);
    s->term_step = 1;
    s->kill_at = t + r->o.term_ms[0] / 1000.0;
}

static void cancel_all(run *r, int sig)
{
    double t = now_mono();
    for (long i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (!s->busy || s->cancelled)
            continue;
        s->cancelled = true;
        end_job(r, s, sig, t);
    }
}

/* --memfree: the youngest running job goes back to the queue. */
static void end_youngest(run *r)
{
    slot *young = NULL;
    for (long i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->busy && !s->cancelled && !s->timed_out && !s->requeued &&
            (!young || s->seq > young->seq))
            young = s;
    }
    if (!young || r->running < 2)
        return;
    young->requeued = true;
    end_job(r, young, 0, now_mono());
}

static run_counts counts(const run *r)
{
    return (run_counts){ .total = r->total, .nfail = r->nfail, .nsucc = r->nsucc };
}

static void trigger_halt(run *r, const slot *s, int exitval, int sig, bool failed)
{
    r->halted = true;
    r->stop = true;
    run_counts c = counts(r);
    r->halt_status = policy_halt_status(&r->o, &c, failed, s->timed_out, exitval, sig);
    if (r->o.halt_when == HALT_NOW) {
        cancel_all(r, SIGTERM);
    } else if (r->running > 0) {
        fprintf(stderr, "mproc: Starting no more jobs. Waiting for %zu jobs to finish.\n",
                r->running);
    }
}

static void check_halt(run *r, const slot *s, int exitval, int sig, bool failed)
{
    if (!policy_halt_counts(&r->o, failed))
        return;
    /* Every job of the kind the policy counts is named, not only the one
       that halts, as GNU parallel does. */
    fprintf(stderr, "mproc: This job %s:\n%s\n", failed ? "failed" : "succeeded", s->cmd.p);
    run_counts c = counts(r);
    if (!r->halted && policy_halt_hit(&r->o, &c, failed))
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
    if (s->timed_out || s->cancelled || s->requeued)
        kill(-s->pid, SIGKILL); /* whatever of the group outlived its leader */
    s->busy = false;
    r->running--;

    if (s->cancelled)
        return 0;
    if (s->requeued) {
        requeue(r, s->seq);
        return 0;
    }
    int exitval = 0, sig = 0;
    if (si_.si_code == CLD_EXITED)
        exitval = si_.si_status;
    else
        sig = si_.si_status;
    if (s->timed_out) {
        exitval = -1;
        sig = SIGTERM;
    }
    if (sig == 0 && exitval == 0 && pipe_job_broken(&r->pipe, s->seq))
        sig = SIGPIPE;
    bool failed = exitval != 0 || sig != 0;
    if (failed && s->tries < r->o.retries && !r->stop) {
        /* Only the last try's output and joblog line count. */
        return start_job(r, si);
    }
    r->done++;
    pipe_block_done(&r->pipe, s->seq);
    if (failed) {
        r->nfail++;
    } else {
        r->nsucc++;
        throttle_runtime(&r->th, runtime);
    }

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

/* A job that skip() left out: no process, Exitval -2 in the joblog, and
   counted as failed, as GNU parallel records it. */
static void finish_skipped(run *r, slot *s)
{
    s->start_real = now_real();
    s->received = 0;
    r->done++;
    r->nfail++;
    if (r->o.keep) {
        r->pend[s->seq - 1].done = true;
        print_ready(r);
    }
    joblog_line(r, s, -2, 0, 0.0);
    check_halt(r, s, -2, 0, true);
    bar_update(r, false);
}

/* ---- the loop ------------------------------------------------------------------------- */

/* When the job in s times out: monotonic, INFINITY for never. */
static double job_deadline(const run *r, const slot *s)
{
    if (s->timed_out || s->cancelled || s->requeued)
        return INFINITY;
    return s->start_mono + throttle_timeout(&r->th, &r->o);
}

static void on_deadlines(run *r)
{
    double t = now_mono();
    if (throttle_mem_low(&r->th, &r->o, t))
        end_youngest(r);
    for (long i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (!s->busy)
            continue;
        if (t >= job_deadline(r, s)) {
            s->timed_out = true;
            fprintf(stderr, "mproc: Warning: This job was killed because it timed out:\n"
                            "mproc: Warning: %s\n",
                    s->cmd.p);
            end_job(r, s, 0, t);
        } else if (t >= s->kill_at) {
            if (s->term_step < r->o.nterm) {
                signal_job(s, r->o.term_sig[s->term_step]);
                s->kill_at = t + r->o.term_ms[s->term_step] / 1000.0;
                s->term_step++;
            } else {
                s->kill_at = INFINITY;
            }
        }
    }
}

static int poll_timeout(const run *r)
{
    double next = r->hold_until;
    if (r->o.memfree > 0 && r->running > 1)
        next = fmin(next, r->th.mem_checked + 0.5);
    for (long i = 0; i < r->nslots; i++) {
        const slot *s = &r->slots[i];
        if (!s->busy)
            continue;
        next = fmin(next, fmin(job_deadline(r, s), s->kill_at));
    }
    if (next == INFINITY)
        return -1;
    /* Rounded up, so that poll never wakes before the deadline. */
    double ms = ceil((next - now_mono()) * 1000.0);
    if (ms <= 0)
        return 0;
    if (ms >= INT_MAX)
        return INT_MAX;
    return (int)ms;
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
    if (r->o.pipe.on) {
        int err = pipe_read(&r->pipe, 0);
        if (err < 0)
            fprintf(stderr, "mproc run: reading stdin: %s\n", strerror(-err));
        r->in.eof = r->pipe.eof || err < 0;
        r->total = r->pipe.nblocks;
        pend_grow(r);
        return;
    }
    char buf[65536];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (n < 0)
            fprintf(stderr, "mproc run: reading stdin: %s\n", strerror(errno));
        sources_feed(&r->in, &r->o, buf, 0);
    } else {
        sources_feed(&r->in, &r->o, buf, (size_t)n);
    }
    r->total = r->in.src[0].n;
    pend_grow(r);
}

/* Whether to wait for more input: only while a slot is free for it. */
static bool want_input(const run *r)
{
    return r->in.streaming && !r->in.eof && !r->stop && r->next >= r->total &&
           r->running < (size_t)r->nslots;
}

static int loop(run *r)
{
    size_t cap = (size_t)r->nslots * 4 + 2;
    r->pfd = xmalloc(cap * sizeof *r->pfd);
    r->pidx = xmalloc(cap * sizeof *r->pidx);
    int err = fill_slots(r);
    bar_update(r, false);
    while (err >= 0 && (r->running > 0 || want_input(r) ||
                        (jobs_waiting(r) && r->hold_until != INFINITY))) {
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
            int fds[4] = { s->pidfd, s->fd_out, s->fd_err, pipe_job_wfd(&r->pipe, s->seq) };
            for (int k = 0; k < 4; k++) {
                if (fds[k] < 0)
                    continue;
                r->pfd[n] = (struct pollfd){ .fd = fds[k], .events = k < 3 ? POLLIN : POLLOUT };
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
            else if (r->pfd[k].fd == pipe_job_wfd(&r->pipe, s->seq))
                pipe_job_feed(&r->pipe, s->seq);
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
        if (err >= 0 && r->hold_until <= now_mono())
            err = fill_slots(r);
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
    size_t skipped = 0;
    for (size_t i = 0; i < r->total; i++) {
        sources_job(&r->in, i, r->vals);
        /* A skipped job is printed all the same, and counts as failed, as
           GNU parallel does. */
        int b = build_cmd(r, &line, i + 1, (long)(i % (size_t)r->nslots) + 1);
        if (b < 0) {
            rc = TOOL_EXIT_USAGE;
            break;
        }
        skipped += (size_t)b;
        tbuf_addc(&line, '\n');
        char *tag = r->o.tag ? make_tag(r) : NULL;
        int err = out_write(1, tag, line.p, line.len);
        free(tag);
        if (err < 0) {
            rc = err == -EPIPE ? 0 : TOOL_EXIT_USAGE;
            break;
        }
    }
    if (rc == 0)
        rc = skipped > 100 ? 101 : (int)skipped;
    tbuf_free(&line);
    return rc;
}

int tool_run(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    run_opts_init(&r.o);
    r.devnull = r.sigfd = -1;
    int rc = 0;
    sigset_t orig_mask, block;
    bool masked = false;
    struct sigaction sa_pipe_old, sa_chld_old;
    bool pipe_set = false, chld_set = false;

    /* First of all: reading a closed stdin must find it empty (GNU parallel
       runs no job and exits 0), not fail. */
    ensure_std_fds();
    int i = run_parse_opts(&r.o, argc, argv, &rc);
    if (i < 0)
        goto out;
    if (r.o.semaphore)
        return tool_sem(argc, argv);
    int cmd_start = i;
    while (i < argc && !sources_is_marker(&r.o, argv[i]))
        i++;
    if (i == cmd_start) {
        rc = run_usage_error("missing command");
        goto out;
    }
    if (r.o.pipe.on) {
        if ((rc = pipe_setup(&r.pipe, &r.o.pipe)) != 0)
            goto out;
        r.o.repl.no_append = true;
    }
    r.tmpl = cmd_parse(argv + cmd_start, (size_t)(i - cmd_start), &r.o.repl);
    if (!r.tmpl) {
        rc = TOOL_EXIT_USAGE;
        goto out;
    }
    /* total_jobs() needs every value before the first job. */
    r.o.whole_input = cmd_wants_total(r.tmpl);
    if (r.o.pipe.on) {
        if (i < argc) {
            rc = run_usage_error("--pipe reads stdin: no ::: or :::: sources");
            goto out;
        }
        if (r.o.dry) {
            rc = run_usage_error("--dry-run with --pipe is not supported by mproc");
            goto out;
        }
        r.in.streaming = true;
    } else if (sources_read(&r.in, &r.o, argc, argv, i, &rc) < 0) {
        goto out;
    }
    r.total = r.o.pipe.on ? 0 : sources_count(&r.in);
    r.vals = xmalloc((r.in.nsrc + 1) * sizeof *r.vals);

    long j = r.o.jobs < 0 ? mproc_cpu_count() : r.o.jobs;
    if (!r.in.streaming && (j == 0 || (size_t)j > r.total))
        j = r.total > 0 && r.total < LONG_MAX ? (long)r.total : 1;
    if (j < 1)
        j = 1;
    r.nslots = j;

    if (r.o.joblog) {
        r.joblog = joblog_open(r.o.joblog);
        if (!r.joblog) {
            rc = run_usage_error("cannot write the joblog '%s': %s",
                                 r.o.joblog + (r.o.joblog[0] == '+'), strerror(errno));
            goto out;
        }
    }
    r.shell = shell_choose();
    if (!shell_usable(r.shell)) {
        rc = run_usage_error("Shell '%s' not found.", r.shell);
        goto out;
    }
    {
        const char *tmp = getenv("TMPDIR");
        jobenv_init(&r.env, r.shell, tmp && *tmp ? tmp : "/tmp");
    }
    if (r.o.dry) {
        rc = dry_run(&r);
        goto out;
    }
    if (r.total == 0 && !r.in.streaming)
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
        rc = run_usage_error("cannot open /dev/null: %s", strerror(errno));
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
        rc = run_usage_error("signalfd: %s", strerror(errno));
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
    r.funcs = shell_exports_functions();
    r.bar = r.o.bar && isatty(2);
    throttle_init(&r.th, &r.o);
    r.hold_until = INFINITY;
    /* --nice: as GNU parallel sets it in each job; here once, for mproc
       and so for every job it starts. A failure (lowering it without the
       privilege) is ignored, as GNU parallel ignores it. */
    if (r.o.nice != 0)
        (void)setpriority(PRIO_PROCESS, 0, r.o.nice);
    r.t0 = now_mono();
    int err = loop(&r);
    if (err < 0) {
        if (err != ERR_REPORTED)
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
    run_counts c = counts(&r);
    rc = r.halted ? r.halt_status : policy_fail_status(&r.o, &c);

out:
    joblog_close(r.joblog);
    xclose(&r.sigfd);
    xclose(&r.devnull);
    /* The perl coprocess, if any, ends before we may leave by a signal. */
    cmd_finish();
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
    sources_free(&r.in);
    pipe_free(&r.pipe);
    free(r.vals);
    free(r.pfd);
    free(r.pidx);
    free(r.requeue);
    cmd_free(r.tmpl);
    repl_opts_free(&r.o.repl);
    jobenv_free(&r.env);
    free(r.shell);
    return rc;
}
