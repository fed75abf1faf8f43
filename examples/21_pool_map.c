/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 21_pool_map: map over an array (results in input order), and
 * imap_unordered (results as they finish), as Pool.map and
 * Pool.imap_unordered. The results are text: every result is followed by
 * a NUL, so it reads as a C string. */
#include <mproc.h>
#include <stdio.h>
#include <stdlib.h>

/* The Collatz steps of one 8-byte item, as text. */
static int steps(const void *arg, size_t len, mproc_out *out)
{
    long n = len == sizeof n ? *(const long *)arg : 1;
    int k = 0;
    for (; n > 1; k++)
        n = n % 2 ? 3 * n + 1 : n / 2;
    return mproc_out_printf(out, "%d", k);
}

int main(void)
{
    mproc_pool *pool;
    if (mproc_pool_new(&pool, NULL) < 0) /* NULL options: one worker per CPU */
        return 1;

    enum { N = 100000 };
    static long items[N];
    for (long i = 0; i < N; i++)
        items[i] = i + 1;
    /* chunksize 0: chosen as Python does, so 100000 items travel in a few
       tasks, not 100000. */
    mproc_map *m;
    int err = mproc_pool_map(pool, steps, items, sizeof items[0], N, 0, &m);
    if (err < 0) {
        fprintf(stderr, "map: %s\n", mproc_strerror(err));
        return 1;
    }
    int best = 0;
    size_t best_i = 0;
    for (size_t i = 0; i < mproc_map_count(m); i++) {
        const void *text;
        if (mproc_map_get(m, i, &text, NULL) == 0 && atoi(text) > best) {
            best = atoi(text);
            best_i = i;
        }
    }
    printf("  map: of 1..%d, %ld takes the most Collatz steps: %d\n", N, items[best_i], best);
    mproc_map_free(m);

    /* imap_unordered: items as their chunks finish. */
    mproc_iter *it;
    long few[6] = { 27, 97, 871, 6171, 77031, 837799 };
    if (mproc_pool_imap_unordered(pool, steps, few, sizeof few[0], 6, 1, &it) < 0)
        return 1;
    mproc_item item;
    while (mproc_iter_next(it, -1, &item) == 1)
        printf("  imap_unordered: item %zu (%ld) takes %s steps\n", item.index, few[item.index],
               (const char *)item.data);
    mproc_iter_free(it);
    mproc_pool_free(pool);
    return 0;
}
