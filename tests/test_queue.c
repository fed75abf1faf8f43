/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_queue.c: the shared-memory queue: order, sizes, timeouts, close,
 * join, many processes, sharing by name and by descriptor, and producers
 * and consumers killed in the middle of an operation. */
#include "test_ipc_util.h"
#include "queue_layout.h"

#include <stdio.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A message that proves itself whole: id, sequence, length, checksum. */
typedef struct {
    uint32_t id, seq, len, sum;
} msg_head;

static size_t make_msg(unsigned char *buf, uint32_t id, uint32_t seq)
{
    uint32_t len = (seq * 37u + id) % 300u;
    msg_head h = { id, seq, len, 0 };
    for (uint32_t i = 0; i < len; i++)
        buf[sizeof h + i] = (unsigned char)(seq + i * 7u + id);
    h.sum = ipc_sum(buf + sizeof h, len);
    memcpy(buf, &h, sizeof h);
    return sizeof h + len;
}

static bool msg_ok(const unsigned char *buf, size_t n, msg_head *out)
{
    msg_head h;
    if (n < sizeof h)
        return false;
    memcpy(&h, buf, sizeof h);
    if (n != sizeof h + h.len || ipc_sum(buf + sizeof h, h.len) != h.sum)
        return false;
    *out = h;
    return true;
}

START_TEST(fifo_sizes_and_small_buffers)
{
    mproc_queue *q;
    mproc_queue_opts o = { .bytes = 4096 };
    ASSERT_OK(mproc_queue_new(&q, &o));
    size_t max = mproc_queue_max_message(q);
    ck_assert_uint_eq(max, 4096 - 8);
    ck_assert(mproc_queue_empty(q));
    ASSERT_OK(mproc_queue_put(q, "one", 3, 0));
    ASSERT_OK(mproc_queue_put(q, NULL, 0, 0));
    ASSERT_OK(mproc_queue_put(q, "three", 5, 0));
    ck_assert_int_eq(mproc_queue_qsize(q), 3);
    char buf[16];
    size_t len = 99;
    ck_assert_int_eq(mproc_queue_get(q, buf, 2, &len, 0), -EMSGSIZE);
    ck_assert_uint_eq(len, 3); /* the size it needs; the message stays */
    ASSERT_OK(mproc_queue_get(q, buf, sizeof buf, &len, 0));
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(buf, "one", 3) == 0);
    ASSERT_OK(mproc_queue_get(q, NULL, 0, &len, 0));
    ck_assert_uint_eq(len, 0);
    void *data;
    ASSERT_OK(mproc_queue_get_alloc(q, &data, &len, 0));
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(data, "three", 5) == 0);
    free(data);
    /* The largest message fits exactly, once; one byte more never does. */
    unsigned char *big = calloc(1, max + 1);
    big[max - 1] = 0xab;
    ck_assert_int_eq(mproc_queue_put(q, big, max + 1, -1), -EMSGSIZE);
    for (int round = 0; round < 3; round++) {
        ASSERT_OK(mproc_queue_put(q, big, max, 0));
        ck_assert(mproc_queue_full(q));
        ck_assert_int_eq(mproc_queue_put(q, "x", 1, 0), -ETIMEDOUT);
        ASSERT_OK(mproc_queue_get_alloc(q, &data, &len, 0));
        ck_assert_uint_eq(len, max);
        ck_assert_int_eq(((unsigned char *)data)[max - 1], 0xab);
        free(data);
        ASSERT_OK(mproc_queue_put(q, "pad", 3, 0)); /* move the wrap point */
        ASSERT_OK(mproc_queue_get(q, buf, sizeof buf, &len, 0));
    }
    free(big);
    /* Wrapping around many times keeps every message whole. */
    unsigned char m[512], r[512];
    for (uint32_t i = 0; i < 5000; i++) {
        size_t n = make_msg(m, 1, i);
        ASSERT_OK(mproc_queue_put(q, m, n, 0));
        if (i % 3 == 2)
            for (int k = 0; k < 3; k++) {
                msg_head h;
                ASSERT_OK(mproc_queue_get(q, r, sizeof r, &len, 0));
                ck_assert(msg_ok(r, len, &h));
                ck_assert_uint_eq(h.seq, i - 2 + (uint32_t)k);
            }
    }
    mproc_queue_free(q);
}
END_TEST

START_TEST(timeouts_and_bad_input)
{
    mproc_queue *q;
    mproc_queue_opts o = { .maxsize = 2 };
    ASSERT_OK(mproc_queue_new(&q, &o));
    char buf[8];
    size_t len;
    double t0 = now();
    ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, 0), -ETIMEDOUT);
    ASSERT_OK(mproc_queue_put(q, "a", 1, 0));
    ASSERT_OK(mproc_queue_put(q, "b", 1, 0));
    ck_assert(mproc_queue_full(q));
    t0 = now();
    ck_assert_int_eq(mproc_queue_put(q, "c", 1, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    ck_assert_int_eq(mproc_queue_put(NULL, "c", 1, 0), -EINVAL);
    ck_assert_int_eq(mproc_queue_put(q, NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(mproc_queue_put(q, "c", 1, NAN), -EINVAL);
    ck_assert_int_eq(mproc_queue_put(q, "c", SIZE_MAX, 0), -EMSGSIZE);
    ck_assert_int_eq(mproc_queue_get(q, NULL, 4, &len, 0), -EINVAL);
    ck_assert_int_eq(mproc_queue_get(q, buf, 4, NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_queue_get(NULL, buf, 4, &len, 0), -EINVAL);
    ck_assert_int_eq(mproc_queue_get_alloc(q, NULL, &len, 0), -EINVAL);
    ck_assert_int_eq(mproc_queue_new(NULL, NULL), -EINVAL);
    mproc_queue_opts huge = { .bytes = (size_t)1 << 41 };
    mproc_queue *x = NULL;
    ck_assert_int_eq(mproc_queue_new(&x, &huge), -EINVAL);
    mproc_queue_opts badname = { .name = "no/slashes" };
    ck_assert_int_eq(mproc_queue_new(&x, &badname), -EINVAL);
    ck_assert_int_eq(mproc_queue_attach(&x, "mproc-test-no-such-queue"), -ENOENT);
    ck_assert_int_eq(mproc_queue_attach(&x, ""), -EINVAL);
    ck_assert_int_eq(mproc_queue_from_fd(&x, -1), -EBADF);
    ck_assert_ptr_null(x);
    /* A plain shared block is not a queue. */
    mproc_shm *blk;
    ASSERT_OK(mproc_shm_new(&blk, 4096));
    ck_assert_int_eq(mproc_queue_from_fd(&x, mproc_shm_fd(blk)), -EINVAL);
    mproc_shm_free(blk);
    ck_assert_int_eq(mproc_queue_task_done(NULL), -EINVAL);
    ck_assert_int_eq(mproc_queue_qsize(NULL), -EINVAL);
    /* The snapshots say false for no queue, as ipc.h promises. */
    ck_assert(!mproc_queue_empty(NULL));
    ck_assert(!mproc_queue_full(NULL));
    ck_assert(!mproc_queue_closed(NULL));
    mproc_queue_free(NULL);
    mproc_queue_free(q);
}
END_TEST

static int get_until_closed(void *arg)
{
    mproc_queue *q = arg;
    char buf[8];
    size_t len;
    int n = 0, r;
    while ((r = mproc_queue_get(q, buf, sizeof buf, &len, 30)) == 0)
        n++;
    return r == -EPIPE ? n : 100;
}

START_TEST(close_drains_then_ends)
{
    mproc_queue *q;
    ASSERT_OK(mproc_queue_new(&q, NULL));
    pid_t pid = ipc_spawn(get_until_closed, q);
    for (int i = 0; i < 5; i++)
        ASSERT_OK(mproc_queue_put(q, "m", 1, 0));
    ASSERT_OK(mproc_queue_close(q));
    ASSERT_OK(mproc_queue_close(q));
    ck_assert(mproc_queue_closed(q));
    ck_assert_int_eq(ipc_reap(pid), 5);
    ck_assert_int_eq(mproc_queue_put(q, "m", 1, 0), -EPIPE);
    char buf[8];
    size_t len;
    ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, -1), -EPIPE);
    mproc_queue_free(q);
}
END_TEST

/* ---- many processes ---------------------------------------------------------------- */

#define PER 100000

typedef struct {
    mproc_queue *q;
    uint32_t id;
    long *results; /* per consumer: count, sum of seqs; in shared memory */
} worker;

static int producer(void *arg)
{
    worker *w = arg;
    unsigned char m[512];
    for (uint32_t i = 0; i < PER; i++) {
        size_t n = make_msg(m, w->id, i);
        if (mproc_queue_put(w->q, m, n, -1))
            return 1;
    }
    return 0;
}

static int consumer(void *arg)
{
    worker *w = arg;
    unsigned char m[512];
    size_t len;
    long count = 0, sum = 0;
    int r;
    while ((r = mproc_queue_get(w->q, m, sizeof m, &len, -1)) == 0) {
        msg_head h;
        if (!msg_ok(m, len, &h))
            return 2;
        count++;
        sum += h.seq + h.id;
        mproc_queue_task_done(w->q);
    }
    w->results[2 * w->id] = count;
    w->results[2 * w->id + 1] = sum;
    return r == -EPIPE ? 0 : 3;
}

START_TEST(two_producers_two_consumers_exact_totals)
{
    mproc_queue *q;
    mproc_queue_opts o = { .bytes = 64 * 1024 };
    ASSERT_OK(mproc_queue_new(&q, &o));
    mproc_shm *res;
    ASSERT_OK(mproc_shm_array_new(&res, sizeof(long), 4, NULL, false));
    long *results = mproc_shm_ptr(res);
    worker w[4] = { { q, 0, results }, { q, 1, results }, { q, 0, results }, { q, 1, results } };
    pid_t c0 = ipc_spawn(consumer, &w[0]), c1 = ipc_spawn(consumer, &w[1]);
    pid_t p0 = ipc_spawn(producer, &w[2]), p1 = ipc_spawn(producer, &w[3]);
    ck_assert_int_eq(ipc_reap(p0), 0);
    ck_assert_int_eq(ipc_reap(p1), 0);
    ASSERT_OK(mproc_queue_join(q, 60)); /* every message taken and done */
    ASSERT_OK(mproc_queue_close(q));
    ck_assert_int_eq(ipc_reap(c0), 0);
    ck_assert_int_eq(ipc_reap(c1), 0);
    long seqsum = (long)PER * (PER - 1) / 2;
    ck_assert_int_eq(results[0] + results[2], 2L * PER);
    ck_assert_int_eq(results[1] + results[3], 2 * seqsum + PER); /* ids 0 and 1 */
    mproc_shm_free(res);
    mproc_queue_free(q);
}
END_TEST

/* ---- killed in the middle ------------------------------------------------------------ */

typedef struct {
    mproc_queue *q;
    mproc_test_gate gate;
} kill_arg;

static _Noreturn int put_forever(void *arg)
{
    kill_arg *k = arg;
    unsigned char m[512];
    mproc_test_gate_signal(&k->gate);
    for (uint32_t i = 0;; i++) {
        size_t n = make_msg(m, 7, i);
        mproc_queue_put(k->q, m, n, -1);
    }
}

static int get_forever(void *arg)
{
    kill_arg *k = arg;
    unsigned char m[512];
    size_t len;
    mproc_test_gate_signal(&k->gate);
    for (;;) {
        msg_head h;
        if (mproc_queue_get(k->q, m, sizeof m, &len, -1) == 0 && !msg_ok(m, len, &h))
            return 2; /* a torn message: never */
    }
}

START_TEST(producers_and_consumers_killed_mid_operation)
{
    kill_arg k;
    mproc_queue_opts o = { .bytes = 8192 };
    ASSERT_OK(mproc_queue_new(&k.q, &o));
    mproc_test_gate_open(&k.gate);
    srand(12345);
    for (int round = 0; round < 40; round++) {
        pid_t p = ipc_spawn(put_forever, &k);
        pid_t c = ipc_spawn(get_forever, &k);
        ck_assert(mproc_test_gate_wait(&k.gate, 10));
        ck_assert(mproc_test_gate_wait(&k.gate, 10));
        /* A random moment, so that some kills land inside a put or a get. */
        struct timespec ts = { 0, (rand() % 2000) * 1000L };
        nanosleep(&ts, NULL);
        if (round % 2) {
            ipc_kill(p);
            ipc_kill(c);
        } else {
            ipc_kill(c);
            ipc_kill(p);
        }
        /* Never wedged, every message whole, the count right. */
        long n = mproc_queue_qsize(k.q);
        unsigned char m[512];
        size_t len;
        for (long i = 0; i < n; i++) {
            msg_head h;
            ck_assert_int_eq(mproc_queue_get(k.q, m, sizeof m, &len, 5), 0);
            ck_assert(msg_ok(m, len, &h));
        }
        ck_assert_int_eq(mproc_queue_get(k.q, m, sizeof m, &len, 0), -ETIMEDOUT);
        size_t mn = make_msg(m, 9, (uint32_t)round);
        ASSERT_OK(mproc_queue_put(k.q, m, mn, 5));
        ASSERT_OK(mproc_queue_get(k.q, m, sizeof m, &len, 5));
        ck_assert_uint_eq(len, mn);
    }
    mproc_test_gate_close(&k.gate);
    mproc_queue_free(k.q);
}
END_TEST


/* A child takes the producers' lock and dies holding it, as a producer
   killed inside put would: the kernel marks the lock through the child's
   robust list, and the next taker repairs. */
static int die_holding_queue_mutex(void *arg)
{
    kill_arg *k = arg;
    if (mproc__qlock_lock(&k->q->h->pm, INFINITY) != 0)
        return 1;
    mproc_test_gate_signal(&k->gate);
    pause();
    return 0;
}

START_TEST(holder_of_the_queue_mutex_killed)
{
    kill_arg k;
    ASSERT_OK(mproc_queue_new(&k.q, NULL));
    mproc_test_gate_open(&k.gate);
    ASSERT_OK(mproc_queue_put(k.q, "before", 6, 0));
    pid_t pid = ipc_spawn(die_holding_queue_mutex, &k);
    ck_assert(mproc_test_gate_wait(&k.gate, 10));
    /* Held: a non-blocking put gives up instead of waiting. */
    ck_assert_int_eq(mproc_queue_put(k.q, "x", 1, 0), -ETIMEDOUT);
    ipc_kill(pid);
    char buf[16];
    size_t len;
    ASSERT_OK(mproc_queue_get(k.q, buf, sizeof buf, &len, 5));
    ck_assert_uint_eq(len, 6);
    ck_assert(memcmp(buf, "before", 6) == 0);
    ASSERT_OK(mproc_queue_put(k.q, "after", 5, 5));
    ck_assert_int_eq(mproc_queue_qsize(k.q), 1);
    ASSERT_OK(mproc_queue_get(k.q, buf, sizeof buf, &len, 5));
    ck_assert_uint_eq(len, 5);
    mproc_test_gate_close(&k.gate);
    mproc_queue_free(k.q);
}
END_TEST

/* Shared memory written over by something else: reported, never followed
   (the cases fuzz/queue_frames.c explores, fixed here). */
START_TEST(written_over_positions_and_lengths_are_reported)
{
    mproc_queue *q;
    mproc_queue_opts o = { .bytes = 4096 };
    ASSERT_OK(mproc_queue_new(&q, &o));
    ASSERT_OK(mproc_queue_put(q, "hello", 5, 0));
    qhdr *h = q->h;
    char buf[64];
    size_t len;
    void *data;
    uint64_t head = atomic_load(&h->head), tail = atomic_load(&h->tail);
    atomic_store(&h->head, head + 3); /* not at a record */
    ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, 0), -EPROTO);
    atomic_store(&h->head, tail - 8192); /* more than a ring behind */
    ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, 0), -EPROTO);
    atomic_store(&h->head, head);
    atomic_store(&h->tail, tail + 2); /* a put would write across the ring's end */
    ck_assert_int_eq(mproc_queue_put(q, "x", 1, 0), -EPROTO);
    atomic_store(&h->tail, tail);
    uint64_t n;
    memcpy(&n, q->ring, 8);
    uint64_t bad[] = { (uint64_t)1 << 62, 4096, 16 }; /* past the ring, past the tail */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(q->ring, &bad[i], 8);
        ck_assert_int_eq(mproc_queue_get_alloc(q, &data, &len, 0), -EPROTO);
        ck_assert_int_eq(mproc_queue_get(q, buf, sizeof buf, &len, 0), -EPROTO);
    }
    memcpy(q->ring, &n, 8);
    /* A ring size changed after opening moves nothing: our own copy rules. */
    h->cap = (uint64_t)1 << 40;
    ck_assert_uint_eq(mproc_queue_max_message(q), 4096 - 8);
    ASSERT_OK(mproc_queue_get(q, buf, sizeof buf, &len, 0));
    ck_assert_uint_eq(len, 5);
    mproc_queue *q2 = NULL;
    ck_assert_int_eq(mproc_queue_from_fd(&q2, mproc_queue_fd(q)), -EINVAL);
    mproc_queue_free(q);
}
END_TEST

/* ---- join --------------------------------------------------------------------------- */

static int take_and_done(void *arg)
{
    mproc_queue *q = arg;
    char buf[8];
    size_t len;
    for (int i = 0; i < 10; i++) {
        if (mproc_queue_get(q, buf, sizeof buf, &len, 30))
            return 1;
        if (mproc_queue_task_done(q))
            return 2;
    }
    return 0;
}

START_TEST(joinable_task_done_and_join)
{
    mproc_queue *q;
    ASSERT_OK(mproc_queue_new(&q, NULL));
    ASSERT_OK(mproc_queue_join(q, 0)); /* nothing unfinished */
    ck_assert_int_eq(mproc_queue_task_done(q), -EINVAL);
    for (int i = 0; i < 10; i++)
        ASSERT_OK(mproc_queue_put(q, "t", 1, 0));
    double t0 = now();
    ck_assert_int_eq(mproc_queue_join(q, 0.03), -ETIMEDOUT);
    ck_assert(now() - t0 >= 0.03);
    pid_t pid = ipc_spawn(take_and_done, q);
    ASSERT_OK(mproc_queue_join(q, 30));
    ck_assert_int_eq(ipc_reap(pid), 0);
    ck_assert_int_eq(mproc_queue_task_done(q), -EINVAL);
    ck_assert_int_eq(mproc_queue_join(q, NAN), -EINVAL);
    mproc_queue_free(q);
}
END_TEST

/* ---- by name and by descriptor ---------------------------------------------------------- */

static int attach_and_echo(void *arg)
{
    const char *name = arg;
    mproc_queue *q;
    int r = mproc_queue_attach(&q, name);
    if (r)
        return 1;
    char buf[64];
    size_t len;
    if (mproc_queue_get(q, buf, sizeof buf, &len, 30) || len != 5 || memcmp(buf, "hello", 5))
        return 2;
    r = mproc_queue_put(q, "back", 4, 30);
    mproc_queue_free(q);
    return r ? 3 : 0;
}

START_TEST(named_queue_attached_and_name_removed)
{
    char name[64], path[96];
    snprintf(name, sizeof name, "mproc-test-q-%d", (int)getpid());
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    mproc_queue *q;
    mproc_queue_opts o = { .name = name, .attachers = 1 };
    ASSERT_OK(mproc_queue_new(&q, &o));
    ck_assert_int_eq(access(path, F_OK), 0);
    mproc_queue *dup = NULL;
    ck_assert_int_eq(mproc_queue_new(&dup, &o), -EEXIST);
    ASSERT_OK(mproc_queue_put(q, "hello", 5, 0));
    pid_t pid = ipc_spawn(attach_and_echo, name);
    ck_assert_int_eq(ipc_reap(pid), 0);
    char buf[64];
    size_t len;
    ASSERT_OK(mproc_queue_get(q, buf, sizeof buf, &len, 30));
    ck_assert_uint_eq(len, 4);
    /* The one attach it waited for removed the name. */
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(mproc_queue_unlink(name), -ENOENT);
    mproc_queue_free(q);

    /* Without attachers the name stays until unlinked. */
    o.attachers = 0;
    ASSERT_OK(mproc_queue_new(&q, &o));
    mproc_queue *q2;
    ASSERT_OK(mproc_queue_attach(&q2, name));
    ASSERT_OK(mproc_queue_put(q2, "x", 1, 0));
    ASSERT_OK(mproc_queue_get(q, buf, sizeof buf, &len, 0));
    ck_assert_int_eq(access(path, F_OK), 0);
    ASSERT_OK(mproc_queue_unlink(name));
    ck_assert_int_ne(access(path, F_OK), 0);
    mproc_queue_free(q2);
    mproc_queue_free(q);
}
END_TEST

static int recv_fd_and_get(void *arg)
{
    int sock = *(int *)arg;
    char c;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { &c, 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf };
    if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
        return 1;
    int fd;
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof fd);
    mproc_queue *q;
    int r = mproc_queue_from_fd(&q, fd);
    close(fd);
    if (r)
        return 2;
    char buf[16];
    size_t len;
    r = mproc_queue_get(q, buf, sizeof buf, &len, 30);
    mproc_queue_free(q);
    return r || len != 3 || memcmp(buf, "fd!", 3) ? 3 : 0;
}

START_TEST(queue_passed_by_descriptor_to_unrelated_process)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* Forked before the queue exists: it can only learn of it by the fd. */
    pid_t pid = ipc_spawn(recv_fd_and_get, &sv[1]);
    mproc_queue *q;
    ASSERT_OK(mproc_queue_new(&q, NULL));
    ASSERT_OK(mproc_queue_put(q, "fd!", 3, 0));
    int fd = mproc_queue_fd(q);
    char c = 'q';
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = { &c, 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ck_assert_int_eq(sendmsg(sv[0], &mh, MSG_NOSIGNAL), 1);
    ck_assert_int_eq(ipc_reap(pid), 0);
    ck_assert(mproc_queue_empty(q));
    close(sv[0]);
    close(sv[1]);
    mproc_queue_free(q);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "queue", 60);
    tcase_add_test(tc, fifo_sizes_and_small_buffers);
    tcase_add_test(tc, timeouts_and_bad_input);
    tcase_add_test(tc, close_drains_then_ends);
    tcase_add_test(tc, joinable_task_done_and_join);
    tcase_add_test(tc, named_queue_attached_and_name_removed);
    tcase_add_test(tc, queue_passed_by_descriptor_to_unrelated_process);
    tcase_add_test(tc, written_over_positions_and_lengths_are_reported);
    tc = mproc_tcase(s, "queue_stress", 120);
    tcase_add_test(tc, two_producers_two_consumers_exact_totals);
    tcase_add_test(tc, producers_and_consumers_killed_mid_operation);
    tcase_add_test(tc, holder_of_the_queue_mutex_killed);
}
