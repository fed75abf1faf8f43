/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* run.c: `mproc run`, GNU parallel's interface on one poll loop.
 *
 * DESIGN. The shape is git's run_processes_parallel: a table of -j slots,
 * one poll() over every running job's pidfd and output pipes (and a
 * signalfd for SIGINT, SIGTERM and SIGHUP), per-job output buffers flushed
 * whole when the job ends. Nothing sleeps on a timer: poll's timeout is the
 * nearest job deadline (--timeout, a kill grace) or infinite (with -j FILE,
 * at most a second, to read the file again as GNU parallel does). A slot
 * that frees is refilled before the loop polls again, so the next job
 * starts the moment one ends. The count of slots may change as the jobs
 * run (-j FILE): the table grows as jobs need slots, and a smaller count
 * only keeps new jobs from starting until fewer run.
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
#include "runloop.h"
#include "spawn.h"

#include "mproc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* ---- starting jobs ----------------------------------------------------------------- */

/* The read end of a new pipe has no status flag but O_RDONLY, so one
   F_SETFL suffices. */
static int set_nonblock(int fd)
{
    return fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
}

/* How job s runs: plain words without the shell where that changes
   nothing (x->plain, x->argv), else the shell's -c line (x->sh_argv). */
void job_exec_prepare(run *r, const slot *s, job_exec *x)
{
    memset(&x->wrapped, 0, sizeof x->wrapped);
    x->sh_argv[0] = r->shell;
    x->sh_argv[1] = "-c";
    x->sh_argv[2] = s->cmd.p;
    x->sh_argv[3] = NULL;
    x->plain = false;
    x->argv = x->small_argv;
    x->line = x->small_line;
    if (r->o.repl.shellquote) {
        tbuf_add(&x->wrapped, s->cmd.p, s->cmd.len);
        cmd_shellquote_wrap(r->tmpl, &x->wrapped);
        x->sh_argv[2] = x->wrapped.p;
    } else if (r->direct_ok) {
        size_t argv_cap = PLAIN_ARGV_MAX + 1;
        if (s->cmd.len >= sizeof x->small_line) {
            argv_cap = s->cmd.len / 2 + 2; /* words and their spaces */
            x->line = xmalloc(s->cmd.len + 1);
            x->argv = xmalloc(argv_cap * sizeof *x->argv);
        }
        memcpy(x->line, s->cmd.p, s->cmd.len + 1);
        x->plain = cmd_plain_argv(x->line, x->argv, argv_cap) > 0;
        /* An exported bash function of that name is what the shell runs. */
        if (x->plain && r->funcs && shell_is_function(x->argv[0], strlen(x->argv[0])))
            x->plain = false;
    }
}

void job_exec_free(job_exec *x)
{
    if (x->line != x->small_line) {
        free(x->line);
        free(x->argv);
    }
    tbuf_free(&x->wrapped);
}

/* Whether we are to be held to a CPU (spawncpu.c): while the jobs may
   fill every CPU we have, one job to each. */
static bool holding(const run *r)
{
    return r->follow && r->nslots == r->cpus.n;
}

/* The slot of the oldest running job but the one in slot except, which
   most likely ends first; except when none other runs. */
static long oldest_job(const run *r, long except)
{
    long oldest = -1;
    for (long i = 0; i < r->slot_cap; i++) {
        const slot *s = &r->slots[i];
        if (s->busy && i != except &&
            (oldest < 0 || s->start_mono < r->slots[oldest].start_mono))
            oldest = i;
    }
    return oldest >= 0 ? oldest : except;
}

/* Before we wait: held to the CPU of the oldest job, so that its exit
   wakes us on the CPU it frees. */
static void hold_for_wait(run *r)
{
    if (!holding(r)) {
        spawn_cpus_release(&r->cpus);
        return;
    }
    long oldest = oldest_job(r, -1);
    if (oldest >= 0)
        spawn_cpus_hold(&r->cpus, oldest);
}

/* From this length on, a plain line's job is started without waiting
   for its exec. */
#define DETACH_LINE 16384

/* Start s->cmd with out_w and err_w as its stdout and stderr.
 *
 * A plain word list runs without the shell: the same program, argv, output
 * and status, one exec fewer. When the program is not found (or cannot
 * run) the child executes the shell on the line instead, to say so in its
 * own words and exit 127 or 126 as it would. */
static int do_spawn(run *r, slot *s, long si, int in_r, int out_w, int err_w, pid_t *pid,
                    int *pidfd)
{
    job_exec x;
    job_exec_prepare(r, s, &x);
    spawn_plan plan = { .fd0 = in_r, .fd1 = out_w, .fd2 = err_w,
                        .mask = &r->orig_mask, .reset_sigpipe = r->reset_pipe,
                        .envp = jobenv_set(&r->env, s->seq, (int)si + 1),
                        .alt_path = r->shell, .alt_argv = x.sh_argv, .cpus = &r->cpus };
    if (holding(r)) {
        spawn_cpus_hold(&r->cpus, si); /* the child is created where it is to run */
        spawn_cpus_wait_on(&r->cpus, oldest_job(r, si));
    }
    int err;
    if (x.plain) {
        /* Words by the thousand (-X, -m) take the kernel milliseconds to
           copy: the other slots are served meanwhile. */
        plan.detach = s->cmd.len >= DETACH_LINE;
        err = spawn_job(&plan, spawn_resolve(x.argv[0]), x.argv, pid, pidfd);
    } else {
        plan.alt_path = NULL;
        err = spawn_job(&plan, r->shell, x.sh_argv, pid, pidfd);
    }
    spawn_cpus_waited(&r->cpus);
    job_exec_free(&x);
    return err;
}


/* Job idx's (0-based) values into r->vals. */
void job_values(run *r, size_t idx)
{
    r->nvals = r->grp.on ? groups_job(&r->grp, &r->in, idx, &r->vals)
                         : sources_job(&r->in, idx, &r->vals);
}

/* The command line of job seq in slot slotno (1-based) from r->vals: 0; 1
   when skip() was called; -1 after an error was printed. */
int build_cmd(run *r, tbuf *line, size_t seq, long slotno)
{
    cmd_job job = { .vals = r->vals, .nvals = r->nvals, .context = r->grp.context,
                    .novals = r->grp.novals, .seq = seq, .slot = slotno,
                    .total = total_shown(r), .nslots = r->nslots };
    return cmd_build(r->tmpl, line, &job);
}

/* --results: the job's values, kept for when it ends. */
static void keep_values(run *r, slot *s)
{
    s->rvals.len = 0;
    for (size_t k = 0; k < r->nvals; k++) {
        tbuf_adds(&s->rvals, r->vals[k]);
        tbuf_addc(&s->rvals, '\0');
    }
    s->nrvals = r->nvals;
    s->rper = r->grp.on ? r->grp.per_tuple : r->nvals;
}

static void record_results(run *r, slot *s, int exitval, int sig, double runtime)
{
    char **vals = xmalloc((s->nrvals + 1) * sizeof *vals);
    const char *p = s->rvals.p;
    for (size_t k = 0; k < s->nrvals; k++, p += strlen(p) + 1)
        vals[k] = (char *)p;
    results_rec rec = { .seq = s->seq, .start_real = s->start_real, .runtime = runtime,
                        .received = s->received, .exitval = exitval, .sig = sig,
                        .cmd = s->cmd.p, .vals = vals, .nvals = s->nrvals,
                        .per_record = s->rper, .names = r->in.names, .nnames = r->in.nnames,
                        .out = s->out.p ? s->out.p : "", .outlen = s->out.len,
                        .err = s->err.p ? s->err.p : "", .errlen = s->err.len };
    tbuf line = {0};
    (void)results_write(&r->rs, &rec, &line);
    free(vals);
    /* On stdout, the line is the job's output (in order with -k). */
    tbuf_free(&s->out);
    s->out = line;
    s->err.len = 0;
}

/* --files: the job's stdout goes into a file of its own in the temporary
   folder, which is left there, and its name is the job's output; stderr
   is dropped, as GNU parallel does. */
static void output_to_file(run *r, slot *s)
{
    tbuf name = {0};
    tbuf_addf(&name, "%s/parXXXXXX.par", tmp_dir(r));
    int fd = mkostemps(name.p, 4, O_CLOEXEC);
    int err = fd < 0 ? -errno : write_all(fd, s->out.p, s->out.len);
    if (fd >= 0)
        close(fd);
    s->out.len = s->err.len = 0;
    if (err < 0) {
        fprintf(stderr, "mproc run: cannot write '%s': %s\n", name.p, strerror(-err));
    } else {
        tbuf_add(&s->out, name.p, name.len);
        tbuf_addc(&s->out, '\n');
    }
    tbuf_free(&name);
}

/* Start job s->seq (again, on a retry) in slot index si; 1 when the job is
   skipped instead (skip() in an expression). */
static int start_job(run *r, long si)
{
    slot *s = &r->slots[si];
    int p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 };
    int err = 0, in_r = r->devnull;
    job_values(r, s->seq - 1);
    if (r->o.pipe.on && (err = pipe_job_vals(&r->pipe, s->seq, &r->vals, &r->nvals)) < 0)
        return err;
    int b = build_cmd(r, &s->cmd, s->seq, si + 1);
    if (b < 0)
        return ERR_REPORTED;
    if (r->rs.kind != RES_NONE)
        keep_values(r, s);
    if (b > 0)
        return 1; /* skip() */
    if (r->o.tag && !s->tagstr)
        s->tagstr = make_tag(r, s->seq, si + 1);
    bool remote = mpi_remote(r, s);
    if (!r->o.ungroup && !remote) {
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
    if (remote) /* another rank runs it: its outcome comes back in mpi_collect */
        err = mpi_spawn(r, s, &pid, &pidfd);
    else
        err = do_spawn(r, s, si, in_r, r->o.ungroup ? 1 : p_out[1], r->o.ungroup ? 2 : p_err[1],
                       &pid, &pidfd);
    if (r->o.pipe.on)
        xclose(&in_r);
    if (err < 0)
        goto out;
    s->pid = pid;
    s->pidfd = pidfd;
    if (r->mpi && !remote)
        mpi_local_job(r, s, pid);
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
    r->pg.started++;
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

static bool jobs_waiting(const run *r)
{
    return !r->stop && (r->next < r->total || r->nrequeue > 0);
}

/* Whether jobs wait, or may still come from stdin. */
static bool jobs_to_come(const run *r)
{
    return jobs_waiting(r) || (r->in.streaming && !r->in.eof && !r->stop);
}

/* Fill the free slots with the next jobs, unless the throttle holds them
   (then hold_until says till when). */
static int fill_slots(run *r)
{
    r->hold_until = INFINITY;
    if (r->o.jobs_file) {
        int err = slots_reread(r, jobs_to_come(r));
        if (err < 0)
            return err;
        if (jobs_to_come(r)) /* read again in a second, whether or not a job ends */
            r->hold_until = now_mono() + 1;
    }
    for (long i = 0; r->running < (size_t)r->nslots && jobs_waiting(r); i++) {
        if (i >= r->slot_cap)
            slots_reserve(r, i + 1);
        slot *s = &r->slots[i];
        if (s->busy)
            continue;
        double t = now_mono(), at = throttle_next_start(&r->th, &r->o, t);
        if (at > t) {
            r->hold_until = fmin(r->hold_until, at);
            return 0;
        }
        s->seq = r->nrequeue > 0 ? r->requeue[--r->nrequeue] : ++r->next;
        if (r->resuming && joblog_is_done(&r->done_seqs, s->seq)) {
            /* --resume: it ran before; nothing to run, print or log. */
            r->done++;
            if (r->o.keep) {
                r->pend[s->seq - 1].done = true;
                print_ready(r);
            }
            i--;
            continue;
        }
        throttle_started(&r->th, &r->o, t);
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
        if ((err == -EAGAIN || err == -ENOMEM || err == -EMFILE || err == -ENFILE) &&
            r->running > 0) {
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

run_counts counts(const run *r)
{
    return (run_counts){ .total = r->total, .nfail = r->nfail, .nsucc = r->nsucc };
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

void bar_update(run *r, bool last)
{
    if (r->pg.on)
        progress_update(r, last);
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
    if (r->mpi)
        mpi_local_job(r, s, 0);
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
    return job_ended(r, si, exitval, sig, runtime);
}

/* The job in slot si ended (here or on another rank) with exitval or sig
   after runtime seconds, its output in the slot: print and log it, or run
   it again. */
int job_ended(run *r, long si, int exitval, int sig, double runtime)
{
    slot *s = &r->slots[si];
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
    r->pg.completed++;
    pipe_job_done(&r->pipe, s->seq);
    if (failed) {
        r->nfail++;
    } else {
        r->nsucc++;
        if (r->o.timeout_pct > 0) /* the median is needed only for it */
            throttle_runtime(&r->th, runtime);
    }
    if (r->rs.kind != RES_NONE) {
        /* --results takes the output: none is printed, as in GNU
           parallel. */
        record_results(r, s, exitval, sig, runtime);
    }
    else if (r->o.files)
        output_to_file(r, s);

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
            pend_hold(r, p);
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
    r->pg.completed++;
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

/* stdin is readable: take what it has (one read, which cannot block after
   poll said so; stdin is shared, so it is never made non-blocking). */
static void on_input(run *r)
{
    if (r->o.pipe.on) {
        int err = pipe_read(&r->pipe, 0);
        if (err < 0)
            fprintf(stderr, "mproc run: reading stdin: %s\n", strerror(-err));
        r->in.eof = r->pipe.eof || err < 0;
        r->total = pipe_njobs(&r->pipe);
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
        sources_feed(&r->in, buf, 0);
    } else {
        sources_feed(&r->in, buf, (size_t)n);
    }
    r->total = r->in.src[0].n;
    pend_grow(r);
}

/* Whether to wait for more input: only while a slot is free for it (or
   with --pipe, one block ahead of the jobs, so that reading never waits
   for them). */
static bool want_input(const run *r)
{
    if (!r->in.streaming || r->in.eof || r->stop)
        return false;
    if (r->pipe.rr)
        return pipe_wants_input(&r->pipe);
    return r->next >= r->total && (r->o.pipe.on || r->running < (size_t)r->nslots);
}

int loop(run *r)
{
    size_t cap = 0;
    spawn_prefer_latency();
    /* With --pipe the loop feeds the jobs, unless the pump does it all:
       then it only waits, as for plain jobs, and the pump's threads keep
       every CPU. */
    r->follow = spawn_cpus_init(&r->cpus) == 0 && !r->mpi &&
                (!r->o.pipe.on || pipe_all_pumped(&r->pipe));
    if (r->follow && r->o.pipe.on) {
        r->pipe.pump_cpus = r->cpus.orig;
        r->pipe.pump_cpus_size = r->cpus.size;
    }
    int err = fill_slots(r);
    bar_update(r, false);
    while (err >= 0 && (r->running > 0 || want_input(r) ||
                        (jobs_to_come(r) && r->hold_until != INFINITY))) {
        if (cap < (size_t)r->slot_cap * 4 + 3) {
            /* Only here, between polls: the slot table grows in fill_slots. */
            cap = (size_t)r->slot_cap * 4 + 3; /* the signals, stdin, MPI */
            r->pfd = xrealloc(r->pfd, cap * sizeof *r->pfd);
            r->pidx = xrealloc(r->pidx, cap * sizeof *r->pidx);
        }
        size_t n = 0;
        r->pfd[n++] = (struct pollfd){ .fd = r->sigfd, .events = POLLIN };
        bool input = want_input(r);
        if (input) {
            r->pfd[n] = (struct pollfd){ .fd = 0, .events = POLLIN };
            r->pidx[n++] = SIZE_MAX;
        }
        size_t mpi_at = n;
        if (mpi_fd(r) >= 0) {
            r->pfd[n] = (struct pollfd){ .fd = mpi_fd(r), .events = POLLIN };
            r->pidx[n++] = SIZE_MAX;
        }
        for (long i = 0; i < r->slot_cap; i++) {
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
        hold_for_wait(r);
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
        if (mpi_at < n && r->pfd[mpi_at].fd == mpi_fd(r) && r->pfd[mpi_at].revents) {
            r->pfd[mpi_at].revents = 0;
            if ((err = mpi_collect(r)) < 0 || (err = fill_slots(r)) < 0)
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
        pipe_fifo_check(&r->pipe);
        if (err >= 0 && r->hold_until <= now_mono())
            err = fill_slots(r);
    }
    r->pipe.pump_cpus = NULL; /* r->cpus.orig goes */
    spawn_cpus_free(&r->cpus);
    return err;
}
