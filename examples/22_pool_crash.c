/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 22_pool_crash: a task that segfaults fails alone, its worker is
 * replaced, and the pool carries on; a runaway task is stopped by
 * task_timeout. (Python's Pool would hang forever on the crash.) */
#include <mproc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int work(const void *arg, size_t len, mproc_out *out)
{
    int n;
    if (len != sizeof n)
        return 1;
    memcpy(&n, arg, sizeof n);
    if (n == 3) {
        signal(SIGSEGV, SIG_DFL);
        volatile int *p = NULL;
        *p = 1; /* a real segfault */
    }
    if (n == 5)
        for (;;)
            pause(); /* never ends */
    int pid = (int)getpid();
    return mproc_out_write(out, &pid, sizeof pid);
}

int main(void)
{
    mproc_pool_opts opts = { .processes = 2, .task_timeout = 0.5 };
    mproc_pool *pool;
    if (mproc_pool_new(&pool, &opts) < 0)
        return 1;
    enum { N = 8 };
    mproc_result *r[N];
    for (int i = 0; i < N; i++)
        if (mproc_pool_apply_async(pool, work, &i, sizeof i, &r[i]) < 0)
            return 1;
    for (int i = 0; i < N; i++) {
        const void *d;
        int err = mproc_result_get(r[i], -1, &d, NULL);
        if (err == 0) {
            int pid;
            memcpy(&pid, d, sizeof pid);
            printf("  task %d: done by worker %d\n", i, pid);
        } else if (err == MPROC_EWORKER) {
            printf("  task %d: %s (signal %d); worker replaced\n", i, mproc_strerror(err),
                   mproc_result_signal(r[i]));
        } else {
            printf("  task %d: %s\n", i, mproc_strerror(err));
        }
        mproc_result_free(r[i]);
    }
    printf("  the pool carried on: every task has exactly one outcome\n");
    mproc_pool_free(pool);
    return 0;
}
