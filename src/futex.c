/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* futex.c: process-shared futex wait and wake with monotonic deadlines,
 * under the pool's rings and the IPC primitives. */
#include "internal.h"

#include <linux/futex.h>
#include <math.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void mproc__timespec(double t, struct timespec *ts)
{
    if (!(t < 1e15))
        t = 1e15; /* a far future that still fits time_t */
    /* Monotonic times are positive, so truncation is floor; the nanosecond
       added rounds up, so the kernel's deadline is never before ours (no
       libm: the library does not link it). */
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9) + 1;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int mproc__futex_wait(_Atomic uint32_t *word, uint32_t expect, double deadline)
{
    struct timespec ts, *tsp = NULL;
    if (!isinf(deadline)) {
        if (mproc__now() >= deadline)
            return -ETIMEDOUT;
        mproc__timespec(deadline, &ts);
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute time on CLOCK_MONOTONIC (without
       FUTEX_CLOCK_REALTIME), so a wait resumed after EINTR keeps its
       deadline. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expect, tsp, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN)
        return 0;
    if (errno == ETIMEDOUT)
        return mproc__now() >= deadline ? -ETIMEDOUT : 0;
    if (errno == EINTR)
        return -EINTR;
    return mproc__err();
}

void mproc__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}
