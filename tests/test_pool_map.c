/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool_map.c: the pool's map and its iterators, wait_any, and
 * callbacks (the rest of the pool: test_pool.c). */
#include "test_pool_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A task that runs in workers (no ck_assert there): some items fail, as
   some items of a map may. */
static int square(const void *arg, size_t len, mproc_out *out)
{
    int v;
    if (len != sizeof v)
        return -1;
    memcpy(&v, arg, sizeof v);
    if (v % 1000 == 999)
        return v; /* fails, as some items of a map may */
    int sq = v * v;
    return mproc_out_write(out, &sq, sizeof sq);
}

/* ---- map and iterators --------------------------------------------------------------- */

START_TEST(map_in_order)
{
    mproc_pool *p = pool_of(2);
    enum { N = 10007 };
    static int items[N];
    for (int i = 0; i < N; i++)
        items[i] = i;
    size_t chunks[] = { 0, 1, 7, 5000, N + 10 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        mproc_map *m;
        ASSERT_OK(mproc_pool_map(p, square, items, sizeof(int), N, chunks[c], &m));
        ck_assert_uint_eq(mproc_map_count(m), N);
        for (int i = 0; i < N; i++) {
            const void *d;
            size_t n;
            int rc = mproc_map_get(m, (size_t)i, &d, &n);
            if (i % 1000 == 999) {
                ck_assert_int_eq(rc, MPROC_ETASK);
                continue;
            }
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(n, sizeof(int));
            int v;
            memcpy(&v, d, sizeof v);
            ck_assert_int_eq(v, i * i);
        }
        size_t at;
        ck_assert_int_eq(mproc_map_error(m, &at), MPROC_ETASK);
        ck_assert_uint_eq(at, 999);
        ck_assert_int_eq(mproc_map_get(m, N, NULL, NULL), -EINVAL);
        mproc_map_free(m);
    }
    mproc_map *m;
    ASSERT_OK(mproc_pool_map(p, square, NULL, sizeof(int), 0, 0, &m));
    ck_assert_uint_eq(mproc_map_count(m), 0);
    ck_assert_int_eq(mproc_map_error(m, NULL), 0);
    mproc_map_free(m);
    mproc_pool_free(p);
}
END_TEST

START_TEST(imap_ordered_and_unordered)
{
    mproc_pool *p = pool_of(2);
    enum { N = 3001 };
    static int items[N];
    for (int i = 0; i < N; i++)
        items[i] = i;
    for (int unordered = 0; unordered < 2; unordered++) {
        mproc_iter *it;
        if (unordered)
            ASSERT_OK(mproc_pool_imap_unordered(p, square, items, sizeof(int), N, 10, &it));
        else
            ASSERT_OK(mproc_pool_imap(p, square, items, sizeof(int), N, 0, &it));
        static bool seen[N];
        memset(seen, 0, sizeof seen);
        mproc_item item;
        size_t count = 0;
        int rc;
        while ((rc = mproc_iter_next(it, -1, &item)) == 1) {
            if (!unordered)
                ck_assert_uint_eq(item.index, count);
            ck_assert_uint_lt(item.index, N);
            ck_assert(!seen[item.index]);
            seen[item.index] = true;
            int i = (int)item.index;
            if (i % 1000 == 999) {
                ck_assert_int_eq(item.code, MPROC_ETASK);
                ck_assert_int_eq(item.detail, i);
            } else {
                ck_assert_int_eq(item.code, 0);
                int v;
                memcpy(&v, item.data, sizeof v);
                ck_assert_int_eq(v, i * i);
            }
            count++;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(count, N);
        ck_assert_int_eq(mproc_iter_next(it, -1, &item), 0);
        mproc_iter_free(it);
    }
    /* Freed before the end. */
    mproc_iter *it;
    ASSERT_OK(mproc_pool_imap(p, square, items, sizeof(int), N, 3, &it));
    mproc_item item;
    ck_assert_int_eq(mproc_iter_next(it, -1, &item), 1);
    mproc_iter_free(it);
    mproc_pool_free(p);
}
END_TEST

START_TEST(map_chunk_with_crash)
{
    mproc_pool *p = pool_of(2);
    int items[40];
    for (int i = 0; i < 40; i++)
        items[i] = i;
    mproc_iter *it;
    ASSERT_OK(mproc_pool_imap(p, square, items, sizeof(int), 40, 10, &it));
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, segv, NULL, 0, &r));
    mproc_item item;
    int n = 0;
    while (mproc_iter_next(it, -1, &item) == 1) {
        ck_assert_int_eq(item.code, 0);
        n++;
    }
    ck_assert_int_eq(n, 40);
    ck_assert_int_eq(mproc_result_get(r, -1, NULL, NULL), MPROC_EWORKER);
    mproc_result_free(r);
    mproc_iter_free(it);
    mproc_pool_free(p);
}
END_TEST

START_TEST(wait_any_gives_the_ready_one)
{
    mproc_pool *p = pool_of(2);
    mproc_result *rs[3];
    ASSERT_OK(mproc_pool_apply_async(p, sleep_long, NULL, 0, &rs[0]));
    ASSERT_OK(mproc_pool_apply_async(p, sleep_long, NULL, 0, &rs[1]));
    ck_assert_int_eq(mproc_result_wait_any(rs, 2, 0.05), -ETIMEDOUT);
    mproc_pool_terminate(p);
    ck_assert_int_eq(mproc_result_wait_any(rs, 2, 0), 0);
    mproc_pool_free(p);
    mproc_pool *q = pool_of(1);
    ASSERT_OK(mproc_pool_apply_async(q, empty, NULL, 0, &rs[2]));
    ck_assert_int_eq(mproc_result_wait_any(rs + 1, 2, -1), -EINVAL); /* two pools */
    ck_assert_int_eq(mproc_result_wait_any(rs + 2, 1, -1), 0);
    for (int i = 0; i < 3; i++)
        mproc_result_free(rs[i]);
    mproc_pool_free(q);
}
END_TEST

/* ---- callbacks --------------------------------------------------------------------- */

static int cb_fd = -1;

static void on_ok(mproc_result *r, void *cookie)
{
    const void *d;
    size_t n;
    char c = mproc_result_get(r, 0, &d, &n) == 0 && n == 1 ? *(const char *)d : '?';
    (void)cookie;
    (void)!write(cb_fd, &c, 1);
}

static void on_err(mproc_result *r, void *cookie)
{
    char c = mproc_result_get(r, 0, NULL, NULL) == MPROC_EWORKER ? 'E' : '!';
    (void)!write(cb_fd, &c, 1);
    *(int *)cookie += 1;
}

START_TEST(callbacks_run_once)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    cb_fd = fds[1];
    mproc_pool *p = pool_of(2);
    int errors = 0;
    mproc_result *a, *b, *c;
    ASSERT_OK(mproc_pool_apply_async(p, echo, "a", 1, &a));
    ASSERT_OK(mproc_result_on_ready(a, on_ok, on_err, &errors));
    ck_assert_int_eq(mproc_result_on_ready(a, on_ok, on_err, &errors), -EBUSY);
    ASSERT_OK(mproc_pool_apply_async(p, segv, NULL, 0, &b));
    ASSERT_OK(mproc_result_on_ready(b, on_ok, on_err, &errors));
    ASSERT_OK(mproc_pool_apply_async(p, echo, "c", 1, &c));
    ASSERT_OK(mproc_result_wait(c, -1));
    ASSERT_OK(mproc_result_on_ready(c, on_ok, on_err, &errors)); /* already ready */
    char got[3];
    for (int i = 0; i < 3; i++) {
        struct pollfd pf = { .fd = fds[0], .events = POLLIN };
        ck_assert_int_eq(poll(&pf, 1, 10000), 1);
        ck_assert_int_eq(read(fds[0], &got[i], 1), 1);
    }
    int a_seen = 0, e_seen = 0, c_seen = 0;
    for (int i = 0; i < 3; i++) {
        a_seen += got[i] == 'a';
        e_seen += got[i] == 'E';
        c_seen += got[i] == 'c';
    }
    ck_assert_int_eq(a_seen + e_seen + c_seen, 3);
    ck_assert_int_eq(a_seen, 1);
    ck_assert_int_eq(e_seen, 1);
    mproc_result_free(a);
    mproc_result_free(b);
    mproc_result_free(c);
    mproc_pool_free(p);
    ck_assert_int_eq(errors, 1);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "map", 30);
    tcase_add_test(tc, map_in_order);
    tcase_add_test(tc, imap_ordered_and_unordered);
    tcase_add_test(tc, map_chunk_with_crash);
    tcase_add_test(tc, wait_any_gives_the_ready_one);
    tcase_add_test(tc, callbacks_run_once);
}
