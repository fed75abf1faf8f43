/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 22_pool_crash: a task that segfaults fails alone, its worker is
 * replaced, and the pool carries on; a runaway task is stopped by its own
 * timeout. Outcomes arrive in callbacks, as Python's callback and
 * error_callback. (Python's Pool would hang forever on the crash.) */
#include <mproc.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int work(const void *arg, size_t len, mproc_out *out)
{
    int n = len == sizeof n ? *(const int *)arg : 0;
    if (n == 3) {
        signal(SIGSEGV, SIG_DFL);
        volatile int *p = NULL;
        *p = 1; /* a real segfault */
    }
    if (n == 5)
        for (;;)
            pause(); /* never ends */
    return mproc_out_printf(out, "done by worker %d", (int)getpid());
}

static void done(mproc_result *r, void *cookie)
{
    const void *text;
    mproc_result_get(r, 0, &text, NULL);
    printf("  task %d: %s\n", *(int *)cookie, (const char *)text);
}

static void failed(mproc_result *r, void *cookie)
{
    int err = mproc_result_get(r, 0, NULL, NULL);
    printf("  task %d: %s", *(int *)cookie, mproc_strerror(err));
    if (err == MPROC_EWORKER)
        printf(" (signal %d); worker replaced", mproc_result_signal(r));
    printf("\n");
}

int main(void)
{
    mproc_pool *pool;
    if (mproc_pool_new(&pool, &(mproc_pool_opts){ .processes = 2 }) < 0)
        return 1;
    enum { N = 8 };
    int ids[N];
    mproc_result *r[N];
    for (int i = 0; i < N; i++) {
        ids[i] = i;
        /* Each task gets half a second: the runaway one is killed then. */
        mproc_submit_opts opts = { .on_success = done, .on_error = failed, .cookie = &ids[i],
                                   .timeout = 0.5 };
        if (mproc_pool_submit(pool, work, &i, sizeof i, &opts, &r[i]) < 0)
            return 1;
    }
    mproc_pool_close(pool);
    mproc_pool_join(pool); /* every task has its outcome, every callback ran */
    printf("  the pool carried on: every task has exactly one outcome\n");
    for (int i = 0; i < N; i++)
        mproc_result_free(r[i]);
    mproc_pool_free(pool);
    return 0;
}
