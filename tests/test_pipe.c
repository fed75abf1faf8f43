/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pipe.c: message-framed pipes: sizes, both directions, end of file,
 * no SIGPIPE, timeouts that keep the framing, and bad input. */
#include "test_ipc_util.h"

#include <poll.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    mproc_pipe *mine, *theirs;
} ends;

static int echo_child(void *arg)
{
    ends *e = arg;
    mproc_pipe_free(e->theirs);
    void *data;
    size_t len;
    int r;
    while ((r = mproc_pipe_recv(e->mine, &data, &len, 30)) == 0) {
        int s = mproc_pipe_send(e->mine, data, len, 30);
        free(data);
        if (s)
            return 1;
    }
    mproc_pipe_free(e->mine);
    return r == -EPIPE ? 0 : 2;
}

START_TEST(duplex_echo_of_every_size)
{
    mproc_pipe *a, *b;
    ASSERT_OK(mproc_pipe_new(&a, &b, NULL));
    ends e = { b, a };
    pid_t pid = ipc_spawn(echo_child, &e);
    mproc_pipe_free(b);
    size_t sizes[] = { 0, 1, 7, 8, 64, 4095, 4096, 65536 - 8, 65536, 65537, 3 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *m = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            m[k] = (unsigned char)(k * 13 + i);
        ASSERT_OK(mproc_pipe_send(a, n ? m : NULL, n, 30));
        void *back;
        size_t len;
        ASSERT_OK(mproc_pipe_recv(a, &back, &len, 30));
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(back, m, n) == 0);
        free(back);
        free(m);
    }
    /* Many small messages in flight at once keep their boundaries. */
    for (uint32_t i = 0; i < 1000; i++)
        ASSERT_OK(mproc_pipe_send(a, &i, sizeof i, 30));
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t v;
        size_t len;
        ASSERT_OK(mproc_pipe_recv_into(a, &v, sizeof v, &len, 30));
        ck_assert_uint_eq(len, 4);
        ck_assert_uint_eq(v, i);
    }
    mproc_pipe_close(a);
    ck_assert_int_eq(ipc_reap(pid), 0);
    mproc_pipe_free(a);
}
END_TEST

#define COUNT 100000

static int send_count(void *arg)
{
    ends *e = arg;
    mproc_pipe_free(e->theirs);
    for (uint32_t i = 0; i < COUNT; i++) {
        unsigned char m[64];
        size_t n = 4 + i % 60;
        memcpy(m, &i, 4);
        memset(m + 4, (int)(i & 0xff), n - 4);
        if (mproc_pipe_send(e->mine, m, n, -1))
            return 1;
    }
    mproc_pipe_free(e->mine);
    return 0;
}

START_TEST(one_way_hundred_thousand_messages_then_eof)
{
    mproc_pipe *r, *w;
    mproc_pipe_opts o = { .one_way = true };
    ASSERT_OK(mproc_pipe_new(&r, &w, &o));
    ck_assert_int_eq(mproc_pipe_send(r, "x", 1, 0), -EBADF);
    char c;
    size_t len;
    ck_assert_int_eq(mproc_pipe_recv_into(w, &c, 1, &len, 0), -EBADF);
    ends e = { w, r };
    pid_t pid = ipc_spawn(send_count, &e);
    mproc_pipe_free(w);
    uint64_t total = 0;
    for (uint32_t i = 0; i < COUNT; i++) {
        unsigned char m[64];
        ASSERT_OK(mproc_pipe_recv_into(r, m, sizeof m, &len, 30));
        uint32_t v;
        memcpy(&v, m, 4);
        ck_assert_uint_eq(v, i);
        ck_assert_uint_eq(len, 4 + i % 60);
        if (len > 4)
            ck_assert_int_eq(m[len - 1], (int)(i & 0xff));
        total += len;
    }
    uint64_t expect = 0;
    for (uint32_t i = 0; i < COUNT; i++)
        expect += 4 + i % 60;
    ck_assert_uint_eq(total, expect);
    /* The writer is gone: end of file, at once and every time after. */
    ck_assert_int_eq(mproc_pipe_recv_into(r, &c, 1, &len, 30), -EPIPE);
    ck_assert_int_eq(mproc_pipe_recv_into(r, &c, 1, &len, -1), -EPIPE);
    ck_assert_int_eq(mproc_pipe_poll(r, 0), 1);
    ck_assert_int_eq(ipc_reap(pid), 0);
    mproc_pipe_free(r);
}
END_TEST

static int exit_at_once(void *arg)
{
    ends *e = arg;
    mproc_pipe_free(e->theirs);
    mproc_pipe_free(e->mine);
    return 0;
}

START_TEST(peer_gone_is_eof_and_epipe_never_sigpipe)
{
    mproc_pipe *a, *b;
    ASSERT_OK(mproc_pipe_new(&a, &b, NULL));
    ends e = { b, a };
    pid_t pid = ipc_spawn(exit_at_once, &e);
    mproc_pipe_free(b);
    ck_assert_int_eq(ipc_reap(pid), 0);
    void *data;
    size_t len;
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 5), -EPIPE);
    /* After end of file, a send fails at once; the harness checks that the
       SIGPIPE disposition is unchanged and we are alive to see it. */
    ck_assert_int_eq(mproc_pipe_send(a, "x", 1, 5), -EPIPE);
    mproc_pipe_free(a);

    /* A sender that has not seen end of file learns of the dead peer when
       the pipe fills, without a signal and without hanging. */
    mproc_pipe *r, *w;
    mproc_pipe_opts o = { .one_way = true };
    ASSERT_OK(mproc_pipe_new(&r, &w, &o));
    ends e2 = { r, w };
    pid = ipc_spawn(exit_at_once, &e2);
    mproc_pipe_free(r);
    ck_assert_int_eq(ipc_reap(pid), 0);
    static unsigned char chunk[16384];
    int s = 0;
    for (int i = 0; i < 1000 && s == 0; i++)
        s = mproc_pipe_send(w, chunk, sizeof chunk, 5);
    ck_assert_int_eq(s, -EPIPE);
    mproc_pipe_free(w);
}
END_TEST

static int send_late(void *arg)
{
    ends *e = arg;
    mproc_pipe_free(e->theirs);
    char go;
    size_t len;
    /* Send the first half of a large message, wait for the word, then the
       rest: the parent's receive times out in the middle. */
    if (mproc_pipe_recv_into(e->mine, &go, 1, &len, 30))
        return 1;
    static unsigned char big[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31);
    if (mproc_pipe_send(e->mine, big, sizeof big, 30))
        return 2;
    mproc_pipe_free(e->mine);
    return 0;
}

START_TEST(timeouts_keep_the_framing)
{
    mproc_pipe *a, *b;
    ASSERT_OK(mproc_pipe_new(&a, &b, NULL));
    void *data;
    size_t len;
    double t0 = now();
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 0), -ETIMEDOUT);
    ck_assert_int_eq(mproc_pipe_poll(a, 0), 0);
    /* A full pipe times out a send before any byte went: still usable.
       (Messages of up to 4088 bytes go whole or not at all.) */
    static unsigned char chunk[1024];
    int s;
    size_t sent = 0;
    while ((s = mproc_pipe_send(b, chunk, sizeof chunk, 0)) == 0)
        sent++;
    ck_assert_int_eq(s, -ETIMEDOUT);
    ck_assert_int_eq(mproc_pipe_poll(a, 0), 1);
    struct pollfd p = { .fd = mproc_pipe_fd(a), .events = POLLIN };
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    for (size_t i = 0; i < sent; i++) {
        ASSERT_OK(mproc_pipe_recv_into(a, chunk, sizeof chunk, &len, 0));
        ck_assert_uint_eq(len, sizeof chunk);
    }
    /* Too small a buffer: -EMSGSIZE with the size, and nothing lost. */
    ASSERT_OK(mproc_pipe_send(b, "hello", 5, 0));
    char small[2];
    ck_assert_int_eq(mproc_pipe_recv_into(a, small, sizeof small, &len, 1), -EMSGSIZE);
    ck_assert_uint_eq(len, 5);
    ASSERT_OK(mproc_pipe_recv(a, &data, &len, 0));
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(data, "hello", 5) == 0);
    free(data);

    /* A receive that times out in the middle of a message resumes it. */
    ends e = { b, a };
    pid_t pid = ipc_spawn(send_late, &e);
    mproc_pipe_free(b);
    ASSERT_OK(mproc_pipe_send(a, "g", 1, 5));
    int r;
    int timeouts = 0;
    while ((r = mproc_pipe_recv(a, &data, &len, 0.0005)) == -ETIMEDOUT)
        timeouts++;
    ck_assert_int_eq(r, 0);
    ck_assert_uint_eq(len, 1 << 20);
    for (size_t i = 0; i < len; i++)
        if (((unsigned char *)data)[i] != (unsigned char)(i * 31))
            ck_abort_msg("byte %zu differs", i);
    free(data);
    ck_assert_int_eq(ipc_reap(pid), 0);
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 5), -EPIPE);
    mproc_pipe_free(a);
}
END_TEST

static int send_big_forever(void *arg)
{
    ends *e = arg;
    mproc_pipe_free(e->theirs);
    static unsigned char big[8 << 20];
    mproc_pipe_send(e->mine, big, sizeof big, -1); /* killed while blocked in here */
    return 0;
}

START_TEST(sender_killed_mid_message_is_eof_not_a_hang)
{
    mproc_pipe *a, *b;
    ASSERT_OK(mproc_pipe_new(&a, &b, NULL));
    ends e = { b, a };
    pid_t pid = ipc_spawn(send_big_forever, &e);
    mproc_pipe_free(b);
    void *data;
    size_t len;
    /* The pipe fills with the start of the message and the sender blocks
       for the rest: kill it there. */
    ck_assert_int_eq(mproc_pipe_poll(a, 30), 1);
    ipc_kill(pid);
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 30), -EPIPE);
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 30), -EPIPE);
    mproc_pipe_free(a);
}
END_TEST

/* Found by fuzz/pipe_frames: a length header alone made the receiver
   allocate the whole claimed length before any of it came (-ENOMEM for a
   claim past memory, a libFuzzer out-of-memory report for a few GiB). The
   buffer now grows with what arrives: a claim of 2^47 bytes followed by a
   few bytes and the peer's end is a truncated message, -EPIPE. */
START_TEST(huge_length_header_costs_only_what_arrives)
{
    mproc_pipe *a, *b;
    mproc_pipe_opts o = { .one_way = true };
    ASSERT_OK(mproc_pipe_new(&a, &b, &o));
    unsigned char raw[8 + 100] = { 0 };
    raw[5] = 0x80; /* 2^47, under the 2^48 limit on a message */
    ck_assert_int_eq(write(mproc_pipe_fd(b), raw, sizeof raw), (ssize_t)sizeof raw);
    mproc_pipe_free(b);
    void *data;
    size_t len;
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 30), -EPIPE);
    mproc_pipe_free(a);
}
END_TEST

START_TEST(bad_input_and_use_after_close)
{
    mproc_pipe *a, *b;
    ck_assert_int_eq(mproc_pipe_new(NULL, &b, NULL), -EINVAL);
    ck_assert_int_eq(mproc_pipe_new(&a, NULL, NULL), -EINVAL);
    ASSERT_OK(mproc_pipe_new(&a, &b, NULL));
    void *data;
    size_t len;
    ck_assert_int_eq(mproc_pipe_send(NULL, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(mproc_pipe_send(a, NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(mproc_pipe_send(a, "x", 1, NAN), -EINVAL);
    ck_assert_int_eq(mproc_pipe_send(a, "x", SIZE_MAX, 0), -EMSGSIZE);
    ck_assert_int_eq(mproc_pipe_recv(a, NULL, &len, 0), -EINVAL);
    ck_assert_int_eq(mproc_pipe_recv(a, &data, NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_pipe_recv_into(a, NULL, 5, &len, 0), -EINVAL);
    ck_assert_int_eq(mproc_pipe_poll(NULL, 0), -EINVAL);
    ck_assert_int_ge(mproc_pipe_fd(a), 0);
    ASSERT_OK(mproc_pipe_close(a));
    ASSERT_OK(mproc_pipe_close(a));
    ck_assert_int_eq(mproc_pipe_send(a, "x", 1, 0), -EBADF);
    ck_assert_int_eq(mproc_pipe_recv(a, &data, &len, 0), -EBADF);
    ck_assert_int_eq(mproc_pipe_poll(a, 0), -EBADF);
    ck_assert_int_eq(mproc_pipe_fd(a), -EBADF);
    /* The other end sees end of file at once. */
    ck_assert_int_eq(mproc_pipe_recv(b, &data, &len, 5), -EPIPE);
    mproc_pipe_free(a);
    mproc_pipe_free(b);
    mproc_pipe_free(NULL);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pipe", 60);
    tcase_add_test(tc, duplex_echo_of_every_size);
    tcase_add_test(tc, one_way_hundred_thousand_messages_then_eof);
    tcase_add_test(tc, peer_gone_is_eof_and_epipe_never_sigpipe);
    tcase_add_test(tc, timeouts_keep_the_framing);
    tcase_add_test(tc, sender_killed_mid_message_is_eof_not_a_hang);
    tcase_add_test(tc, huge_length_header_costs_only_what_arrives);
    tcase_add_test(tc, bad_input_and_use_after_close);
}
