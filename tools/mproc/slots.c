/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* slots.c: mproc run's slot table and its size: -j, and -j FILE read again
 * as the jobs run, the table growing as jobs need slots. */
#include "runloop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* Enough descriptors for n slots of five each (pidfd, two pipes), raising
   the soft limit when the hard one allows; returns the slots that fit. */
static long fit_fds(long n)
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

/* Room for at least n slots: the table grows by doubling, so that a count
   that grows as the jobs run (-j FILE, or as many as possible) costs
   nothing until a job needs the slot. */
void slots_reserve(run *r, long n)
{
    if (n <= r->slot_cap)
        return;
    long cap = r->slot_cap ? r->slot_cap : 1;
    while (cap < n)
        cap *= 2;
    r->slots = xrealloc(r->slots, (size_t)cap * sizeof *r->slots);
    memset(r->slots + r->slot_cap, 0, (size_t)(cap - r->slot_cap) * sizeof *r->slots);
    for (long k = r->slot_cap; k < cap; k++)
        r->slots[k].pidfd = r->slots[k].fd_out = r->slots[k].fd_err = r->slots[k].wr_out =
            r->slots[k].wr_err = -1;
    r->slot_cap = cap;
}

/* The slots a -j count asks for: as many as possible is every job (or,
   with values still coming in, no limit); none is 0. */
static long slots_for(const run *r, long n, bool all)
{
    if (!all)
        return n > 0 ? n : 0;
    if (r->in.streaming)
        return JOBS_MAX;
    return r->total > 0 && r->total < (size_t)JOBS_MAX ? (long)r->total : 1;
}

void slots_init(run *r)
{
    r->nslots = fit_fds(r->nslots);
    /* A count past what the jobs need at first is only a limit. */
    slots_reserve(r, r->nslots < 1024 ? r->nslots : 1024);
}

/* -j FILE: the count is read again (as GNU parallel does after a job ends
   and every second). A shrinking count ends no job: the slots above it
   empty as their jobs end. */
int slots_reread(run *r, bool more)
{
    long n;
    bool all, is_file;
    int err = jobs_eval(r->o.jobs_file, run_cpus(&r->o), &n, &all, &is_file);
    if (err < 0) {
        if (err == -EINVAL)
            fprintf(stderr, "mproc run: -j %s: not a number of jobs\n", r->o.jobs_file);
        else
            fprintf(stderr, "mproc run: cannot read the -j file '%s': %s\n", r->o.jobs_file,
                    strerror(-err));
        /* As GNU parallel: what runs is ended, and the run fails. */
        r->stop = true;
        cancel_all(r, SIGTERM);
        return ERR_REPORTED;
    }
    n = slots_for(r, n, all);
    if (n != r->nslots)
        n = fit_fds(n);
    r->nslots = n;
    if (n > 0)
        r->no_slot_warned = false;
    else if (r->running == 0 && more && !r->no_slot_warned) {
        fprintf(stderr, "mproc: Warning: There are no job slots available. Increase --jobs.\n");
        r->no_slot_warned = true;
    }
    return 0;
}
