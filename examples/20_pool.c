/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 20_pool: a process pool, as multiprocessing.Pool: Pool(processes),
 * apply_async in a loop, close, join, then the results. */
#include <mproc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A task reads its argument bytes and writes its result bytes. */
static int cube(const void *arg, size_t len, mproc_out *out)
{
    int n;
    if (len != sizeof n)
        return 1; /* any non-zero return is the task's error code */
    memcpy(&n, arg, sizeof n);
    int result[2] = { n * n * n, (int)getpid() };
    return mproc_out_write(out, result, sizeof result);
}

int main(void)
{
    mproc_pool_opts opts = { .processes = 3 };
    mproc_pool *pool;
    int err = mproc_pool_new(&pool, &opts);
    if (err < 0) {
        fprintf(stderr, "mproc_pool_new: %s\n", mproc_strerror(err));
        return 1;
    }
    printf("  pool of 3 workers made by pid %d\n", (int)getpid());

    enum { N = 8 };
    mproc_result *results[N];
    for (int i = 0; i < N; i++) {
        /* The argument is copied at once: i may change. */
        err = mproc_pool_apply_async(pool, cube, &i, sizeof i, &results[i]);
        if (err < 0) {
            fprintf(stderr, "apply_async: %s\n", mproc_strerror(err));
            return 1;
        }
    }
    mproc_pool_close(pool); /* no more tasks; the queued ones still run */
    mproc_pool_join(pool);  /* every task done, every worker gone */
    printf("  closed and joined; the results:\n");

    for (int i = 0; i < N; i++) {
        const void *data;
        size_t len;
        err = mproc_result_get(results[i], 0, &data, &len);
        if (err == 0 && len == 2 * sizeof(int)) {
            int r[2];
            memcpy(r, data, sizeof r);
            printf("  %d cubed is %4d  (computed by worker %d)\n", i, r[0], r[1]);
        } else {
            printf("  %d failed: %s\n", i, mproc_strerror(err));
        }
        mproc_result_free(results[i]);
    }
    mproc_pool_free(pool);
    return 0;
}
