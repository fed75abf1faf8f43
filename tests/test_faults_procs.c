/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_faults_procs.c: processes killed from outside: an owner SIGKILLed
 * with busy daemons (and daemons of daemons), and a queue whose producers
 * and consumers are killed and replaced over and over. */
#include "test_ipc_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

/* The bound on "soon", scaled as Check scales its timeouts. */
static double soon(double seconds)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double k = m ? atof(m) : 1;
    return seconds * (k >= 1 ? k : 1);
}

/* ---- owner killed with busy daemons ------------------------------------------ */

typedef struct {
    int report_fd; /* each daemon's PID goes here */
    int depth;     /* daemons that start daemons of their own */
} spin_ctx;

static int report(int fd, pid_t pid)
{
    return write(fd, &pid, sizeof pid) == sizeof pid ? 0 : 1;
}

static int start_daemons(spin_ctx *ctx, int n, int (*fn)(void *));

/* One context per depth, in static memory: a daemon runs on the thread that
   forked it, so a context on some thread's stack could be in a stack the C
   library hands to the next thread made in the child. */
static spin_ctx depth_ctx[3];

static int busy(void *arg)
{
    spin_ctx *ctx = arg;
    if (ctx->depth > 0) {
        spin_ctx *inner = &depth_ctx[ctx->depth - 1];
        *inner = (spin_ctx){ ctx->report_fd, ctx->depth - 1 };
        if (start_daemons(inner, 2, busy))
            return 1;
    }
    report(ctx->report_fd, getpid());
    for (volatile unsigned long i = 0;; i++)
        continue;
}

static int start_daemons(spin_ctx *ctx, int n, int (*fn)(void *))
{
    mproc_process_opts o = { .daemon = true };
    for (int i = 0; i < n; i++) {
        mproc_process *d;
        if (mproc_process_new(&d, fn, ctx, &o) < 0 || mproc_process_start(d) < 0)
            return 1;
    }
    return 0;
}

static int owner(void *arg)
{
    spin_ctx *ctx = arg;
    spin_ctx *flat = &depth_ctx[0];
    *flat = (spin_ctx){ ctx->report_fd, 0 };
    if (start_daemons(flat, 3, busy) || start_daemons(ctx, 1, busy))
        return 1;
    report(ctx->report_fd, getpid());
    for (;;)
        pause();
}

START_TEST(owner_killed_with_busy_daemons_all_gone)
{
    mproc_test_gate g;
    mproc_test_gate_open(&g);
    /* 3 busy daemons, and one busy daemon with 2 busy daemons, each of
       which has 2 more: 10 daemons, then the owner's own PID. */
    spin_ctx *ctx = &depth_ctx[2];
    *ctx = (spin_ctx){ g.wr, 2 };
    enum { DAEMONS = 3 + 1 + 2 + 4 };
    mproc_process *o;
    ASSERT_OK(mproc_process_new(&o, owner, ctx, NULL));
    ASSERT_OK(mproc_process_start(o));
    pid_t pids[DAEMONS + 1];
    int n = 0;
    for (int i = 0; i <= DAEMONS; i++) {
        pid_t pid;
        ck_assert_int_eq(read(g.rd, &pid, sizeof pid), (ssize_t)sizeof pid);
        if (pid != mproc_process_pid(o))
            pids[n++] = pid; /* the owner's own report comes once */
    }
    ck_assert_int_eq(n, DAEMONS);
    for (int i = 0; i < DAEMONS; i++)
        ck_assert(mproc_test_alive(pids[i]));
    ASSERT_OK(mproc_process_kill(o));
    ASSERT_OK(mproc_process_join(o, -1));
    for (int i = 0; i < DAEMONS; i++)
        ck_assert_msg(mproc_test_wait_gone(pids[i], soon(2)),
                      "daemon %d still running 2 s after its owner was killed", (int)pids[i]);
    mproc_process_free(o);
    mproc_test_gate_close(&g);
}
END_TEST

/* ---- a queue under kills ------------------------------------------------------- */

/* What the consumers saw, in memory they share with the test. */
typedef struct {
    mproc_queue *q;
    _Atomic long torn;      /* a message not whole */
    _Atomic long reordered; /* one producer's messages out of order */
    _Atomic long got;
    _Atomic uint32_t next_id;
    mproc_test_gate gate;
} qshared;

typedef struct {
    uint32_t id, seq, len, sum;
} head;

static size_t make_msg(unsigned char *buf, uint32_t id, uint32_t seq)
{
    uint32_t len = (seq * 37u + id) % 400u;
    head h = { id, seq, len, 0 };
    for (uint32_t i = 0; i < len; i++)
        buf[sizeof h + i] = (unsigned char)(seq + i * 7u + id);
    h.sum = ipc_sum(buf + sizeof h, len);
    memcpy(buf, &h, sizeof h);
    return sizeof h + len;
}

static bool msg_ok(const unsigned char *buf, size_t n, head *out)
{
    if (n < sizeof *out)
        return false;
    memcpy(out, buf, sizeof *out);
    return n == sizeof *out + out->len && ipc_sum(buf + sizeof *out, out->len) == out->sum;
}

static int producer(void *arg)
{
    qshared *s = arg;
    uint32_t id = atomic_fetch_add(&s->next_id, 1);
    unsigned char m[512];
    mproc_test_gate_signal(&s->gate);
    for (uint32_t seq = 0;; seq++) {
        size_t n = make_msg(m, id, seq);
        int r = mproc_queue_put(s->q, m, n, -1);
        if (r != 0)
            return 1;
    }
}

/* Sees each producer's messages in the order they were put (first in,
   first out, and one consumer's gets are ordered). */
#define MAX_IDS 1024
static int consumer(void *arg)
{
    qshared *s = arg;
    static int64_t last[MAX_IDS];
    for (int i = 0; i < MAX_IDS; i++)
        last[i] = -1;
    unsigned char m[512];
    mproc_test_gate_signal(&s->gate);
    for (;;) {
        size_t len;
        int r = mproc_queue_get(s->q, m, sizeof m, &len, -1);
        if (r != 0)
            return 1;
        head h;
        if (!msg_ok(m, len, &h) || h.id >= MAX_IDS) {
            atomic_fetch_add(&s->torn, 1);
            continue;
        }
        if ((int64_t)h.seq <= last[h.id])
            atomic_fetch_add(&s->reordered, 1);
        last[h.id] = h.seq;
        atomic_fetch_add(&s->got, 1);
    }
}

START_TEST(queue_producers_and_consumers_killed_and_replaced)
{
    qshared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(s, MAP_FAILED);
    memset(s, 0, sizeof *s);
    mproc_queue_opts o = { .bytes = 16384 };
    ASSERT_OK(mproc_queue_new(&s->q, &o));
    mproc_test_gate_open(&s->gate);
    enum { PRODUCERS = 3, CONSUMERS = 2, KILLS = 120 };
    pid_t prod[PRODUCERS], cons[CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++)
        prod[i] = ipc_spawn(producer, s);
    for (int i = 0; i < CONSUMERS; i++)
        cons[i] = ipc_spawn(consumer, s);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        ck_assert(mproc_test_gate_wait(&s->gate, 10));
    srand(777);
    for (int k = 0; k < KILLS; k++) {
        struct timespec ts = { 0, (rand() % 500) * 1000L };
        nanosleep(&ts, NULL);
        /* One victim a time, at a random moment: often inside a put or a
           get; replaced at once so the traffic goes on. */
        int v = rand() % (PRODUCERS + CONSUMERS);
        pid_t *slot = v < PRODUCERS ? &prod[v] : &cons[v - PRODUCERS];
        ipc_kill(*slot);
        *slot = ipc_spawn(v < PRODUCERS ? producer : consumer, s);
        ck_assert(mproc_test_gate_wait(&s->gate, 10));
    }
    for (int i = 0; i < PRODUCERS; i++)
        ipc_kill(prod[i]);
    for (int i = 0; i < CONSUMERS; i++)
        ipc_kill(cons[i]);
    ck_assert_int_eq(atomic_load(&s->torn), 0);
    ck_assert_int_eq(atomic_load(&s->reordered), 0);
    ck_assert_int_gt(atomic_load(&s->got), 0);
    /* What is left is whole and in order, and the queue still works. */
    long left = mproc_queue_qsize(s->q);
    ck_assert_int_ge(left, 0);
    int64_t last[MAX_IDS];
    for (int i = 0; i < MAX_IDS; i++)
        last[i] = -1;
    unsigned char m[512];
    size_t len;
    for (long i = 0; i < left; i++) {
        head h;
        ASSERT_OK(mproc_queue_get(s->q, m, sizeof m, &len, 5));
        ck_assert(msg_ok(m, len, &h));
        ck_assert_uint_lt(h.id, MAX_IDS);
        ck_assert_int_gt((int64_t)h.seq, last[h.id]);
        last[h.id] = h.seq;
    }
    ck_assert_int_eq(mproc_queue_get(s->q, m, sizeof m, &len, 0), -ETIMEDOUT);
    size_t n = make_msg(m, 1, 1);
    ASSERT_OK(mproc_queue_put(s->q, m, n, 5));
    ASSERT_OK(mproc_queue_get(s->q, m, sizeof m, &len, 5));
    ck_assert_uint_eq(len, n);
    mproc_test_gate_close(&s->gate);
    mproc_queue_free(s->q);
    munmap(s, sizeof *s);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "killed", 60);
    tcase_add_test(tc, owner_killed_with_busy_daemons_all_gone);
    tcase_add_test(tc, queue_producers_and_consumers_killed_and_replaced);
}
