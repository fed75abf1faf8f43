/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool_api.c: the pool's 0.2 conveniences: mproc_out_printf,
 * mproc_pool_submit (callbacks and a per-task timeout in one call), and the
 * NUL after every result's bytes.
 *
 * ctest-label: threads
 */
#include "test_pool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- tasks (they run in workers: no ck_assert there) ---------------------------- */

static int greet(const void *arg, size_t len, mproc_out *out)
{
    int v;
    if (len != sizeof v)
        return -1;
    memcpy(&v, arg, sizeof v);
    return mproc_out_printf(out, "hello %d, %s", v, "world");
}

/* Text far longer than any first guess at its length, in several pieces. */
static int long_text(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    static char big[100000];
    memset(big, 'x', sizeof big - 1);
    if (mproc_out_printf(out, "[%s]", big) < 0)
        return 1;
    if (mproc_out_printf(out, "%d", 42) < 0)
        return 2;
    if (mproc_out_printf(out, "%s", "") < 0)
        return 3;
    return 0;
}

static int bad_printf_args(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    int a = mproc_out_printf(NULL, "x");
    /* Through a pointer, which carries no format attribute: a NULL format
       is what is tested, and -Wformat-security would refuse it. */
    int (*out_printf)(mproc_out *, const char *, ...) = mproc_out_printf;
    const char *no_fmt = NULL;
    int b = out_printf(out, no_fmt);
    return a == -EINVAL && b == -EINVAL ? 0 : 1;
}

static int nap_half_second(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    struct timespec ts = { 0, 500 * 1000 * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return mproc_out_printf(out, "woke");
}

/* Writes as many bytes as its argument (a size_t) says, all '7'. */
static int write_n(const void *arg, size_t len, mproc_out *out)
{
    size_t n;
    if (len != sizeof n)
        return -1;
    memcpy(&n, arg, sizeof n);
    char *b = malloc(n ? n : 1);
    memset(b, '7', n);
    int rc = mproc_out_write(out, b, n);
    free(b);
    return rc;
}

/* Map items: item i (an int) writes i % 5 bytes of 'a' + i % 26, and item
   7 fails, so the chunk is not uniform. */
static int varying(const void *arg, size_t len, mproc_out *out)
{
    int v;
    if (len != sizeof v)
        return -1;
    memcpy(&v, arg, sizeof v);
    char b[5];
    memset(b, 'a' + v % 26, sizeof b);
    mproc_out_write(out, b, (size_t)(v % 5));
    return v == 7 ? 9 : 0;
}

/* ---- mproc_out_printf ---------------------------------------------------------- */

START_TEST(printf_into_the_result)
{
    mproc_pool *p = pool_of(1);
    int v = 7;
    void *d;
    size_t n;
    ck_assert_int_eq(mproc_pool_apply(p, greet, &v, sizeof v, &d, &n), 0);
    ck_assert_str_eq(d, "hello 7, world");
    ck_assert_uint_eq(n, strlen("hello 7, world"));
    free(d);

    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, long_text, NULL, 0, &r));
    const void *cd;
    ck_assert_int_eq(mproc_result_get(r, -1, &cd, &n), 0);
    ck_assert_uint_eq(n, 1 + 99999 + 1 + 2);
    const char *s = cd;
    ck_assert_int_eq(s[0], '[');
    ck_assert_int_eq(s[99999], 'x');
    ck_assert_str_eq(s + 100000, "]42");
    mproc_result_free(r);

    ck_assert_int_eq(mproc_pool_apply(p, bad_printf_args, NULL, 0, NULL, NULL), 0);
    mproc_pool_free(p);
}
END_TEST

/* ---- the NUL after every result ---------------------------------------------- */

START_TEST(results_end_with_a_nul)
{
    mproc_pool *p = pool_of(2);
    long page = sysconf(_SC_PAGESIZE);
    /* Empty, inline, around the inline limit, exactly pages, large. */
    size_t sizes[] = { 0, 1, 100, 415, 416, 417, 1024, (size_t)page - 1, (size_t)page,
                       (size_t)page + 1, 2 * (size_t)page, (size_t)1 << 20, ((size_t)1 << 20) + 5 };
    enum { K = sizeof sizes / sizeof sizes[0] };
    mproc_result *rs[K];
    for (int i = 0; i < K; i++)
        ASSERT_OK(mproc_pool_apply_async(p, write_n, &sizes[i], sizeof sizes[i], &rs[i]));
    for (int i = 0; i < K; i++) {
        const void *d = NULL;
        size_t n = 99;
        ck_assert_int_eq(mproc_result_get(rs[i], -1, &d, &n), 0);
        ck_assert_uint_eq(n, sizes[i]);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(strlen(d), sizes[i]);
        mproc_result_free(rs[i]);
    }
    /* mproc_pool_apply's copy ends with the NUL too. */
    void *d;
    size_t n;
    ck_assert_int_eq(mproc_pool_apply(p, write_n, &sizes[8], sizeof sizes[8], &d, &n), 0);
    ck_assert_uint_eq(strlen(d), sizes[8]);
    free(d);
    mproc_pool_free(p);
}
END_TEST

START_TEST(map_items_end_with_a_nul)
{
    mproc_pool *p = pool_of(2);
    enum { N = 50 };
    int items[N];
    for (int i = 0; i < N; i++)
        items[i] = i;
    size_t chunks[] = { 1, 3, 50 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        mproc_map *m;
        ASSERT_OK(mproc_pool_map(p, varying, items, sizeof(int), N, chunks[c], &m));
        for (int i = 0; i < N; i++) {
            const void *d = NULL;
            size_t n = 99;
            ck_assert_int_eq(mproc_map_get(m, (size_t)i, &d, &n), i == 7 ? MPROC_ETASK : 0);
            ck_assert_uint_eq(n, (size_t)(i % 5));
            ck_assert_ptr_nonnull(d);
            ck_assert_uint_eq(strlen(d), n);
            for (size_t k = 0; k < n; k++)
                ck_assert_int_eq(((const char *)d)[k], 'a' + i % 26);
        }
        mproc_map_free(m);
        /* Uniform chunks (every item returned 0 and wrote nothing). */
        ASSERT_OK(mproc_pool_map(p, empty, items, sizeof(int), N, chunks[c], &m));
        for (int i = 0; i < N; i++) {
            const void *d = NULL;
            size_t n = 99;
            ck_assert_int_eq(mproc_map_get(m, (size_t)i, &d, &n), 0);
            ck_assert_uint_eq(n, 0);
            ck_assert_str_eq(d, "");
        }
        mproc_map_free(m);
        /* Uniform chunks with bytes. */
        ASSERT_OK(mproc_pool_map(p, greet, items, sizeof(int), N, chunks[c], &m));
        for (int i = 0; i < N; i++) {
            const void *d = NULL;
            char want[64];
            snprintf(want, sizeof want, "hello %d, world", i);
            ck_assert_int_eq(mproc_map_get(m, (size_t)i, &d, NULL), 0);
            ck_assert_str_eq(d, want);
        }
        mproc_map_free(m);
    }
    for (int ordered = 0; ordered < 2; ordered++) {
        mproc_iter *it;
        if (ordered)
            ASSERT_OK(mproc_pool_imap(p, varying, items, sizeof(int), N, 4, &it));
        else
            ASSERT_OK(mproc_pool_imap_unordered(p, varying, items, sizeof(int), N, 4, &it));
        mproc_item item;
        int seen = 0;
        while (mproc_iter_next(it, -1, &item) == 1) {
            ck_assert_ptr_nonnull(item.data);
            ck_assert_uint_eq(item.len, item.index % 5);
            ck_assert_uint_eq(strlen(item.data), item.len);
            seen++;
        }
        ck_assert_int_eq(seen, N);
        mproc_iter_free(it);
    }
    mproc_pool_free(p);
}
END_TEST

/* ---- mproc_pool_submit --------------------------------------------------------- */

typedef struct tally {
    _Atomic int ok, err;
    _Atomic int last_code;
} tally;

static void on_ok(mproc_result *r, void *cookie)
{
    tally *t = cookie;
    const void *d;
    int v = -1;
    if (mproc_result_get(r, 0, &d, NULL) == 0)
        memcpy(&v, d, sizeof v);
    atomic_store(&t->last_code, v);
    atomic_fetch_add(&t->ok, 1);
}

static void on_err(mproc_result *r, void *cookie)
{
    tally *t = cookie;
    atomic_store(&t->last_code, mproc_result_get(r, 0, NULL, NULL));
    atomic_fetch_add(&t->err, 1);
}

START_TEST(submit_with_callbacks)
{
    mproc_pool *p = pool_of(2);
    tally t = { 0 };
    mproc_submit_opts o = { .on_success = on_ok, .on_error = on_err, .cookie = &t };
    enum { N = 100 };
    mproc_result *rs[N];
    for (int i = 0; i < N; i++)
        ASSERT_OK(mproc_pool_submit(p, echo, &i, sizeof i, &o, &rs[i]));
    mproc_result *bad;
    int seven = 7; /* varying fails item 7 */
    ASSERT_OK(mproc_pool_submit(p, varying, &seven, sizeof seven, &o, &bad));
    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_join(p));
    ck_assert_int_eq(atomic_load(&t.ok), N);
    ck_assert_int_eq(atomic_load(&t.err), 1);
    ck_assert_int_eq(mproc_result_get(bad, 0, NULL, NULL), MPROC_ETASK);
    /* Callbacks are attached: a second attach is refused as with on_ready. */
    ck_assert_int_eq(mproc_result_on_ready(rs[0], on_ok, on_err, &t), -EBUSY);
    for (int i = 0; i < N; i++)
        mproc_result_free(rs[i]);
    mproc_result_free(bad);
    mproc_pool_free(p);
}
END_TEST

START_TEST(submit_without_opts_is_apply_async)
{
    mproc_pool *p = pool_of(1);
    mproc_result *r;
    int v = 3;
    ASSERT_OK(mproc_pool_submit(p, echo, &v, sizeof v, NULL, &r));
    const void *d;
    size_t n;
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
    ck_assert_uint_eq(n, sizeof v);
    mproc_result_free(r);
    /* Options without callbacks leave on_ready free to attach them. */
    tally t = { 0 };
    mproc_submit_opts none = { 0 };
    ASSERT_OK(mproc_pool_submit(p, echo, &v, sizeof v, &none, &r));
    ASSERT_OK(mproc_result_on_ready(r, on_ok, on_err, &t));
    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_join(p));
    ck_assert_int_eq(atomic_load(&t.ok), 1);
    mproc_result_free(r);
    mproc_pool_free(p);
}
END_TEST

START_TEST(submit_bad_input)
{
    mproc_pool *p = pool_of(1);
    mproc_result *r = NULL;
    mproc_submit_opts neg = { .timeout = -1 };
    mproc_submit_opts nan_t = { .timeout = NAN };
    ck_assert_int_eq(mproc_pool_submit(p, echo, NULL, 0, &neg, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_submit(p, echo, NULL, 0, &nan_t, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_submit(NULL, echo, NULL, 0, NULL, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_submit(p, NULL, NULL, 0, NULL, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_submit(p, echo, NULL, 3, NULL, &r), -EINVAL);
    ck_assert_int_eq(mproc_pool_submit(p, echo, NULL, 0, NULL, NULL), -EINVAL);
    ck_assert_ptr_null(r);
    ASSERT_OK(mproc_pool_close(p));
    tally t = { 0 };
    mproc_submit_opts o = { .on_success = on_ok, .cookie = &t };
    ck_assert_int_eq(mproc_pool_submit(p, echo, NULL, 0, &o, &r), -EINVAL);
    mproc_pool_free(p);
}
END_TEST

/* A per-task timeout in a pool without one; a task's own longer limit in a
   pool whose limit is shorter; the pool's limit for a task with 0. */
START_TEST(submit_with_a_timeout)
{
    mproc_pool *p = pool_of(1);
    tally t = { 0 };
    mproc_submit_opts o = { .on_error = on_err, .cookie = &t, .timeout = 0.2 };
    mproc_result *r;
    ASSERT_OK(mproc_pool_submit(p, sleep_long, NULL, 0, &o, &r));
    ck_assert_int_eq(mproc_result_get(r, -1, NULL, NULL), MPROC_ETASKTIMEOUT);
    ck_assert_int_eq(mproc_result_signal(r), SIGKILL);
    /* The replacement worker serves tasks without a limit as before. */
    int v = 4;
    void *d;
    ck_assert_int_eq(mproc_pool_apply(p, echo, &v, sizeof v, &d, NULL), 0);
    free(d);
    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_join(p));
    ck_assert_int_eq(atomic_load(&t.err), 1);
    ck_assert_int_eq(atomic_load(&t.last_code), MPROC_ETASKTIMEOUT);
    mproc_result_free(r); /* after join: freed earlier, its callback would be dropped */
    mproc_pool_free(p);

    mproc_pool_opts po = { .processes = 1, .task_timeout = 0.1 };
    ASSERT_OK(mproc_pool_new(&p, &po));
    mproc_submit_opts longer = { .timeout = 600 };
    ASSERT_OK(mproc_pool_submit(p, nap_half_second, NULL, 0, &longer, &r));
    const void *cd;
    ck_assert_int_eq(mproc_result_get(r, -1, &cd, NULL), 0);
    ck_assert_str_eq(cd, "woke");
    mproc_result_free(r);
    mproc_submit_opts pools = { .timeout = 0 };
    ASSERT_OK(mproc_pool_submit(p, sleep_long, NULL, 0, &pools, &r));
    ck_assert_int_eq(mproc_result_get(r, -1, NULL, NULL), MPROC_ETASKTIMEOUT);
    mproc_result_free(r);
    mproc_pool_free(p);
}
END_TEST

/* ---- large payloads: extents reused, never shared ------------------------------------- */

/* Echoes its argument, then overwrites nothing: what the owner reads must
   be exactly what it sent, whatever extents were reused meanwhile. */
static uint8_t pattern(size_t task, size_t i)
{
    return (uint8_t)((task * 131 + i * 7) ^ (i >> 9));
}

static size_t size_of_task(size_t t)
{
    static const size_t sizes[] = { 417, 4096, 4097, 65536, 100000, 1 << 20, 3 << 20 };
    return sizes[(t * 5) % (sizeof sizes / sizeof sizes[0])];
}

static void check_pattern(mproc_result *r, size_t t)
{
    const void *d;
    size_t n;
    ck_assert_int_eq(mproc_result_get(r, -1, &d, &n), 0);
    ck_assert_uint_eq(n, size_of_task(t));
    const uint8_t *b = d;
    for (size_t i = 0; i < n; i += 61)
        ck_assert_msg(b[i] == pattern(t, i), "task %zu byte %zu", t, i);
    ck_assert_uint_eq(b[n - 1], pattern(t, n - 1));
    ck_assert_uint_eq(b[n], 0);
}

START_TEST(large_payloads_reuse_extents_safely)
{
    mproc_pool *p = pool_of(2);
    enum { N = 150, HELD = 20, WINDOW = 20 };
    uint8_t *buf = malloc(3 << 20);
    mproc_result *held[HELD];
    mproc_result *win[WINDOW] = { 0 };
    size_t win_task[WINDOW];
    for (size_t t = 0; t < N; t++) {
        size_t n = size_of_task(t);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(t, i);
        mproc_result *r;
        /* Results in their arguments' extents and in the workers'
           extents, mixed, as the extents go round. */
        ASSERT_OK(mproc_pool_apply_async(p, t % 3 == 1 ? copy : echo, buf, n, &r));
        if (t < HELD) {
            held[t] = r; /* kept to the end, while later tasks reuse extents */
            continue;
        }
        size_t w = t % WINDOW;
        if (win[w]) {
            check_pattern(win[w], win_task[w]);
            mproc_result_free(win[w]);
        }
        win[w] = r;
        win_task[w] = t;
    }
    for (size_t w = 0; w < WINDOW; w++) {
        if (win[w]) {
            check_pattern(win[w], win_task[w]);
            mproc_result_free(win[w]);
        }
    }
    /* Results outlive their pool, large ones included. */
    mproc_pool_free(p);
    for (size_t t = 0; t < HELD; t++) {
        check_pattern(held[t], t);
        mproc_result_free(held[t]);
    }
    free(buf);
}
END_TEST

/* Large results of tasks whose workers crash after writing them: the
   extents come back, and the pool's later large results are right. The
   dying task writes a copy (into an extent of its place) or its very
   argument (which stays its owner's). */
static int write_then_die(const void *arg, size_t len, mproc_out *out)
{
    if (len % 2)
        mproc_out_write(out, arg, len);
    else
        copy(arg, len, out);
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 0;
}

START_TEST(large_results_of_dead_workers_come_back)
{
    mproc_pool *p = pool_of(2);
    uint8_t *buf = malloc(1 << 20);
    for (size_t t = 0; t < 21; t++) {
        size_t n = size_of_task(t) > (1 << 20) ? 1 << 20 : size_of_task(t);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(t, i);
        mproc_result *dead, *r;
        ASSERT_OK(mproc_pool_apply_async(p, write_then_die, buf, n, &dead));
        ASSERT_OK(mproc_pool_apply_async(p, t % 2 ? copy : echo, buf, n, &r));
        ck_assert_int_eq(mproc_result_get(dead, -1, NULL, NULL), MPROC_EWORKER);
        const void *d;
        size_t got;
        ck_assert_int_eq(mproc_result_get(r, -1, &d, &got), 0);
        ck_assert_uint_eq(got, n);
        ck_assert_int_eq(memcmp(d, buf, got), 0);
        mproc_result_free(dead);
        mproc_result_free(r);
    }
    free(buf);
    mproc_pool_free(p);
}
END_TEST

/* With one worker and one task at a time, a result is written into the
   extent that carried the argument before it, and the owner stages the
   next argument in the extent of the result it freed: two extents go
   round, each an argument and a result in turn (ring.h). Without the
   exchange every result would come back in the worker's one extent. */
START_TEST(extents_go_round)
{
    mproc_pool *p = pool_of(1);
    enum { LEN = 100000, N = 12 };
    uint8_t *buf = malloc(LEN);
    const void *at[N];
    for (size_t t = 0; t < N; t++) {
        for (size_t i = 0; i < LEN; i++)
            buf[i] = pattern(t, i);
        mproc_result *r;
        ASSERT_OK(mproc_pool_apply_async(p, copy, buf, LEN, &r));
        const void *d;
        size_t n;
        ASSERT_OK(mproc_result_get(r, -1, &d, &n));
        ck_assert_uint_eq(n, LEN);
        ck_assert_int_eq(memcmp(d, buf, LEN), 0);
        at[t] = d;
        mproc_result_free(r);
    }
    for (int t = 2; t < N; t++) {
        ck_assert_ptr_ne(at[t], at[t - 1]);
        ck_assert_ptr_eq(at[t], at[t - 2]);
    }
    free(buf);
    mproc_pool_free(p);
}
END_TEST

/* A task that returns its whole argument has it as its result, in the
   argument's own extent (pool_out.c): with one task at a time the owner
   stages each argument in the extent the last result gave back, so one
   extent goes round, where copies take two (extents_go_round). */
START_TEST(an_echo_is_its_argument)
{
    mproc_pool *p = pool_of(1);
    static const size_t sizes[] = { 417, 4097, 100000, 1 << 20 };
    enum { N = 8 };
    uint8_t *buf = malloc(1 << 20);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        const void *first = NULL;
        for (size_t t = 0; t < N; t++) {
            for (size_t i = 0; i < len; i++)
                buf[i] = pattern(t + k, i);
            mproc_result *r;
            ASSERT_OK(mproc_pool_apply_async(p, echo, buf, len, &r));
            const void *d;
            size_t n;
            ASSERT_OK(mproc_result_get(r, -1, &d, &n));
            ck_assert_uint_eq(n, len);
            ck_assert_int_eq(memcmp(d, buf, len), 0);
            ck_assert_uint_eq(((const uint8_t *)d)[len], 0);
            if (t == 0)
                first = d;
            else
                ck_assert_msg(d == first, "%zu bytes: echo %zu came back at %p, not %p", len, t, d,
                              first);
            mproc_result_free(r);
        }
    }
    free(buf);
    mproc_pool_free(p);
}
END_TEST

/* What a task writes after its whole argument follows it: the argument is
   copied out first, never written to. */
static int echo_twice(const void *arg, size_t len, mproc_out *out)
{
    int err = mproc_out_write(out, arg, len);
    return err ? err : mproc_out_write(out, arg, len);
}

static int echo_then_printf(const void *arg, size_t len, mproc_out *out)
{
    int err = mproc_out_write(out, arg, len);
    return err ? err : mproc_out_printf(out, "<%zu>", len);
}

static int byte_then_echo(const void *arg, size_t len, mproc_out *out)
{
    int err = mproc_out_write(out, arg, 1);
    return err ? err : mproc_out_write(out, arg, len);
}

START_TEST(writes_after_an_echo)
{
    mproc_pool *p = pool_of(2);
    static const size_t sizes[] = { 417, 65536, 1 << 20 };
    uint8_t *buf = malloc(1 << 20), *want = malloc((2 << 20) + 32);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(k, i);
        for (int kind = 0; kind < 3; kind++) {
            mproc_task_fn fn = kind == 0 ? echo_twice : kind == 1 ? echo_then_printf : byte_then_echo;
            size_t wlen = 0;
            if (kind == 2)
                want[wlen++] = buf[0];
            memcpy(want + wlen, buf, len);
            wlen += len;
            if (kind == 0) {
                memcpy(want + wlen, buf, len);
                wlen += len;
            } else if (kind == 1) {
                wlen += (size_t)sprintf((char *)want + wlen, "<%zu>", len);
            }
            /* Twice each, so that the second runs where the first's
               extents went. */
            for (int again = 0; again < 2; again++) {
                const void *d;
                size_t n;
                mproc_result *r;
                ASSERT_OK(mproc_pool_apply_async(p, fn, buf, len, &r));
                ASSERT_OK(mproc_result_get(r, -1, &d, &n));
                ck_assert_uint_eq(n, wlen);
                ck_assert_msg(memcmp(d, want, wlen) == 0, "%zu bytes, kind %d", len, kind);
                ck_assert_uint_eq(((const uint8_t *)d)[n], 0);
                mproc_result_free(r);
            }
        }
    }
    free(buf);
    free(want);
    mproc_pool_free(p);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pool 0.2", 60);
    tcase_add_test(tc, printf_into_the_result);
    tcase_add_test(tc, results_end_with_a_nul);
    tcase_add_test(tc, map_items_end_with_a_nul);
    tcase_add_test(tc, submit_with_callbacks);
    tcase_add_test(tc, submit_without_opts_is_apply_async);
    tcase_add_test(tc, submit_bad_input);
    tcase_add_test(tc, submit_with_a_timeout);
    tc = mproc_tcase(s, "large payloads", 60);
    tcase_add_test(tc, large_payloads_reuse_extents_safely);
    tcase_add_test(tc, large_results_of_dead_workers_come_back);
    tcase_add_test(tc, extents_go_round);
    tcase_add_test(tc, an_echo_is_its_argument);
    tcase_add_test(tc, writes_after_an_echo);
}
