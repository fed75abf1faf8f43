/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* policy.c: mproc run's exit status and halt decisions, as GNU parallel
 * makes them; pure functions of the options and the counts. */
#include "run.h"

#include <stdint.h>

int policy_fail_status(const run_opts *o, const run_counts *c)
{
    if (o->halt_when != HALT_NEVER && !o->halt_success && o->halt_pct > 0 && c->total > 0 &&
        c->total != SIZE_MAX)
        return (int)((c->nfail * 100 + c->total - 1) / c->total);
    return c->nfail > 100 ? 101 : (int)c->nfail;
}

bool policy_halt_counts(const run_opts *o, bool failed)
{
    return o->halt_when != HALT_NEVER && failed != o->halt_success;
}

bool policy_halt_hit(const run_opts *o, const run_counts *c, bool failed)
{
    size_t n = failed ? c->nfail : c->nsucc;
    /* X% of all the jobs, as GNU parallel counts: not of those done so far. */
    if (o->halt_pct > 0)
        return (double)n * 100.0 >= o->halt_pct * (double)c->total;
    return n >= (size_t)o->halt_n;
}

int policy_halt_status(const run_opts *o, const run_counts *c, bool failed, bool timed_out,
                       int exitval, int sig)
{
    if (!failed)
        return 0;
    /* fail=1 leaves with the job's own status; a timed-out job's Exitval
       is -1, which GNU parallel's exit makes 255. */
    if (o->halt_n == 1)
        return timed_out ? 255 : exitval > 0 ? exitval : sig > 0 ? 128 + sig : 1;
    return policy_fail_status(o, c);
}
