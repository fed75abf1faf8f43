/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runend.c: how `mproc run` ends jobs: --termseq's signals in their time,
 * --timeout, --memfree's requeue, --halt, and the interrupts (SIGINT,
 * SIGTERM, SIGHUP: the jobs get the same signal, a second one SIGKILL).
 * A job's whole process group is signalled, so its own children go too;
 * a job on another rank (--mpi) is ended by its rank, on the farm's stop.
 */
#include "runloop.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Signal the job's whole process group; after the leader is reaped its
   group may still hold its children, which this reaches too. */
static void signal_job(run *r, slot *s, int sig)
{
    if (mpi_remote(r, s)) {
        mpi_cancel(r);
        return;
    }
    if (kill(-s->pid, sig) < 0 && s->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, s->pidfd, sig, NULL, 0);
}

/* Begin ending a job by --termseq: its first signal (or sig, when not 0),
   then each next one as its time comes (on_deadlines). */
static void end_job(run *r, slot *s, int sig, double t)
{
    signal_job(r, s, sig ? sig : r->o.term_sig[0]);
    s->term_step = 1;
    s->kill_at = t + r->o.term_ms[0] / 1000.0;
}

void cancel_all(run *r, int sig)
{
    double t = now_mono();
    for (long i = 0; i < r->slot_cap; i++) {
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
    for (long i = 0; i < r->slot_cap; i++) {
        slot *s = &r->slots[i];
        if (s->busy && !s->cancelled && !s->timed_out && !s->requeued && !mpi_remote(r, s) &&
            (!young || s->seq > young->seq))
            young = s;
    }
    if (!young || r->running < 2)
        return;
    young->requeued = true;
    end_job(r, young, 0, now_mono());
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

void check_halt(run *r, const slot *s, int exitval, int sig, bool failed)
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

/* When the job in s times out: monotonic, INFINITY for never. */
static double job_deadline(const run *r, const slot *s)
{
    if (s->timed_out || s->cancelled || s->requeued || mpi_remote(r, s))
        return INFINITY; /* another rank enforces its job's --timeout */
    return s->start_mono + throttle_timeout(&r->th, &r->o);
}

void warn_timeout(const slot *s)
{
    fprintf(stderr, "mproc: Warning: This job was killed because it timed out:\n"
                    "mproc: Warning: %s\n",
            s->cmd.p);
}

void on_deadlines(run *r)
{
    double t = now_mono();
    if (throttle_mem_low(&r->th, &r->o, t))
        end_youngest(r);
    for (long i = 0; i < r->slot_cap; i++) {
        slot *s = &r->slots[i];
        if (!s->busy)
            continue;
        if (t >= job_deadline(r, s)) {
            s->timed_out = true;
            warn_timeout(s);
            end_job(r, s, 0, t);
        } else if (t >= s->kill_at) {
            if (s->term_step < r->o.nterm) {
                signal_job(r, s, r->o.term_sig[s->term_step]);
                s->kill_at = t + r->o.term_ms[s->term_step] / 1000.0;
                s->term_step++;
            } else {
                s->kill_at = INFINITY;
            }
        }
    }
}

int poll_timeout(const run *r)
{
    double next = r->hold_until;
    if (r->o.memfree > 0 && r->running > 1)
        next = fmin(next, r->th.mem_checked + 0.5);
    if (pipe_fifo_draining(&r->pipe))
        next = fmin(next, now_mono() + 0.01);
    for (long i = 0; i < r->slot_cap; i++) {
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

void on_signal(run *r)
{
    struct signalfd_siginfo ssi;
    while (read(r->sigfd, &ssi, sizeof ssi) == (ssize_t)sizeof ssi) {
        int sig = (int)ssi.ssi_signo;
        if (r->interrupted) {
            /* A second interrupt: no more grace. */
            for (long i = 0; i < r->slot_cap; i++)
                if (r->slots[i].busy)
                    signal_job(r, &r->slots[i], SIGKILL);
            continue;
        }
        r->interrupted = sig;
        r->stop = true;
        cancel_all(r, sig);
    }
}
