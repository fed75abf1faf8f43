/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 20_pool: a process pool, as multiprocessing.Pool: apply_async with a
 * callback in a loop, close, join (every callback has run), then the
 * results freed. The README shows it beside its Python version. */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

static int cube(const void *arg, size_t len, mproc_out *out)
{
    int n = len ? *(const int *)arg : 0;
    return mproc_out_printf(out, "%d cubed is %d (worker %d)", n, n * n * n, getpid());
}

static void print(mproc_result *r, void *cookie)
{
    const void *text;
    mproc_result_get(r, 0, &text, NULL);
    fprintf(cookie, "%s\n", (const char *)text);
}

int main(void)
{
    mproc_pool *pool;
    mproc_result *results[8] = { 0 };
    if (mproc_pool_new(&pool, &(mproc_pool_opts){ .processes = 3 }) < 0)
        return 1;
    mproc_submit_opts opts = { .on_success = print, .cookie = stdout };
    for (int i = 0; i < 8; i++)
        mproc_pool_submit(pool, cube, &i, sizeof i, &opts, &results[i]);
    mproc_pool_close(pool);
    mproc_pool_join(pool);
    for (int i = 0; i < 8; i++)
        mproc_result_free(results[i]);
    mproc_pool_free(pool);
}
