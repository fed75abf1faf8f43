/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool_util.h: what the pool tests share: a few tasks and a pool of n
 * workers. Tasks run in workers: no ck_assert there (Check's messages would
 * come from the wrong process); they report through their results. */
#ifndef MPROC_TEST_POOL_UTIL_H
#define MPROC_TEST_POOL_UTIL_H

#include "harness.h"

#include <signal.h>
#include <unistd.h>

/* Returns its argument: a large one is its own result, without a copy. */
static inline int echo(const void *arg, size_t len, mproc_out *out)
{
    return mproc_out_write(out, arg, len);
}

/* Returns a copy of its argument, written in two parts so that it is
   never the argument itself: a large one goes through an extent of the
   worker's place. */
static inline int copy(const void *arg, size_t len, mproc_out *out)
{
    int err = mproc_out_write(out, arg, len / 2);
    return err ? err : mproc_out_write(out, (const char *)arg + len / 2, len - len / 2);
}

static inline int empty(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    return 0;
}

/* Dies of SIGSEGV. */
static inline int segv(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    signal(SIGSEGV, SIG_DFL); /* a sanitizer's handler would turn it into an exit */
    raise(SIGSEGV);
    return 0;
}

/* Never returns: ended by a timeout, terminate or a signal. */
static inline int sleep_long(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    for (;;)
        pause();
    return 0;
}

static inline mproc_pool *pool_of(int n)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = n };
    ASSERT_OK(mproc_pool_new(&p, &o));
    return p;
}

#endif
