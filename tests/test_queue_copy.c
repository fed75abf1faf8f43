/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_queue_copy.c: the queue's copies made outside its locks (src/queue.c,
 * COPIES OUTSIDE THE LOCKS), with a writer or a reader stopped inside its
 * copy and then killed: only its own message is lost, later messages still
 * come in order, and nothing is left wedged. A process is stopped at a
 * known point by handing the queue a buffer whose middle page may not be
 * touched: the copy faults there, and the fault handler waits to be
 * killed. */
#include "test_queue_util.h"

#define MSG ((size_t)64 << 10)
#define RING (4 * MSG) /* three records: a header each takes 8 bytes more */

typedef struct {
    mproc_queue *q;
    int gate[2]; /* a stopped copier says so here */
} copy_arg;

static int gate_wr = -1;

static void stopped_in_copy(int sig)
{
    (void)sig;
    char c = 1;
    if (write(gate_wr, &c, 1) < 0)
        _exit(3);
    for (;;)
        pause();
}

/* A message buffer whose page at 16 KiB faults when the copy reaches it;
   the fault stops the process until it is killed. */
static unsigned char *faulting_buffer(copy_arg *a)
{
    unsigned char *p = mmap(NULL, MSG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0x5a, MSG);
    if (mprotect(p + (16 << 10), 4096, PROT_NONE) < 0)
        return NULL;
    gate_wr = a->gate[1];
    struct sigaction sa = { .sa_handler = stopped_in_copy };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) < 0)
        return NULL;
    return p;
}

static void make(copy_arg *a)
{
    mproc_queue_opts o = { .bytes = RING };
    ASSERT_OK(mproc_queue_new(&a->q, &o));
    qt_split_always(a->q);
    ck_assert_int_eq(pipe2(a->gate, O_CLOEXEC), 0);
}

static void unmake(copy_arg *a)
{
    close(a->gate[0]);
    close(a->gate[1]);
    mproc_queue_free(a->q);
}

/* Wait until a copier says it is stopped inside its copy. */
static void await_stopped(copy_arg *a)
{
    char c;
    ck_assert_int_eq(read(a->gate[0], &c, 1), 1);
}

static int writer_stopped_in_copy(void *arg)
{
    copy_arg *a = arg;
    unsigned char *p = faulting_buffer(a);
    if (!p)
        return 2;
    mproc_queue_put(a->q, p, MSG, -1);
    return 1; /* the copy should never have ended */
}

static int reader_stopped_in_copy(void *arg)
{
    copy_arg *a = arg;
    unsigned char *p = faulting_buffer(a);
    if (!p)
        return 2;
    size_t len;
    mproc_queue_get(a->q, p, MSG, &len, -1);
    return 1;
}

static int put_one(void *arg)
{
    copy_arg *a = arg;
    uint64_t *m = malloc(MSG);
    qt_fill(m, MSG, 2, 0);
    int r = mproc_queue_put(a->q, m, MSG, QT_DEADLINE);
    free(m);
    return r == 0 ? 0 : 1;
}

/* Gets one message; 0 when it is producer 2's first, whole. */
static int get_one(void *arg)
{
    copy_arg *a = arg;
    uint64_t *m = malloc(MSG);
    size_t len;
    uint32_t id, seq;
    int r = mproc_queue_get(a->q, m, MSG, &len, QT_DEADLINE);
    bool ok = r == 0 && qt_check(m, len, MSG, &id, &seq) && id == 2 && seq == 0;
    free(m);
    return ok ? 0 : 1;
}

/* The queue still takes a ring's worth and hands it back in order. */
static void still_whole(mproc_queue *q, uint32_t id)
{
    uint64_t *m = malloc(MSG);
    for (uint32_t i = 0; i < 3; i++) {
        qt_fill(m, MSG, id, i);
        ASSERT_OK(mproc_queue_put(q, m, MSG, QT_DEADLINE));
    }
    for (uint32_t i = 0; i < 3; i++) {
        size_t len;
        uint32_t got, seq;
        ASSERT_OK(mproc_queue_get(q, m, MSG, &len, QT_DEADLINE));
        ck_assert(qt_check(m, len, MSG, &got, &seq));
        ck_assert_uint_eq(got, id);
        ck_assert_uint_eq(seq, i);
    }
    ck_assert_int_eq(mproc_queue_get(q, m, MSG, &(size_t){ 0 }, 0), -ETIMEDOUT);
    free(m);
}

/* A writer dies copying while a later writer waits to publish behind it
   (_i == 0), or with nobody behind it (_i == 1): its message never comes,
   the later one does, and the queue goes on. */
START_TEST(writer_killed_mid_copy)
{
    copy_arg a;
    make(&a);
    pid_t w1 = ipc_spawn(writer_stopped_in_copy, &a);
    await_stopped(&a);
    pid_t w2 = -1;
    if (_i == 0) {
        w2 = ipc_spawn(put_one, &a);
        /* Reserved behind the stopped copy and waiting for it: nothing is
           published out of order. */
        ck_assert(qt_wait_asleep(w2));
    }
    ck_assert_int_eq(mproc_queue_qsize(a.q), 0);
    ipc_kill(w1);
    if (_i == 0)
        ck_assert_int_eq(ipc_reap(w2), 0);
    else
        ck_assert_int_eq(put_one(&a), 0);
    ck_assert_int_eq(mproc_queue_qsize(a.q), 1);
    ck_assert_int_eq(get_one(&a), 0);
    still_whole(a.q, 3);
    unmake(&a);
}
END_TEST

/* A reader dies copying while a later reader waits for it to give the room
   back (_i == 0), or with nobody behind it and the ring full, a putter
   waiting for room (_i == 1): only its message is gone, and its room comes
   back. */
START_TEST(reader_killed_mid_copy)
{
    copy_arg a;
    make(&a);
    uint64_t *m = malloc(MSG);
    qt_fill(m, MSG, 1, 0);
    ASSERT_OK(mproc_queue_put(a.q, m, MSG, 0));
    qt_fill(m, MSG, 2, 0);
    ASSERT_OK(mproc_queue_put(a.q, m, MSG, 0));
    pid_t r1 = ipc_spawn(reader_stopped_in_copy, &a);
    await_stopped(&a);
    ck_assert_int_eq(mproc_queue_qsize(a.q), 1);
    if (_i == 0) {
        pid_t r2 = ipc_spawn(get_one, &a);
        ck_assert(qt_wait_asleep(r2));
        ipc_kill(r1);
        ck_assert_int_eq(ipc_reap(r2), 0);
    } else {
        qt_fill(m, MSG, 4, 0);
        ASSERT_OK(mproc_queue_put(a.q, m, MSG, 0)); /* the ring is full */
        ck_assert_int_eq(mproc_queue_put(a.q, m, MSG, 0), -ETIMEDOUT);
        ipc_kill(r1);
        /* The dead reader's room, found by the waiting putter itself. */
        qt_fill(m, MSG, 4, 1);
        ASSERT_OK(mproc_queue_put(a.q, m, MSG, QT_DEADLINE));
        ck_assert_int_eq(get_one(&a), 0);
        for (uint32_t i = 0; i < 2; i++) {
            size_t len;
            uint32_t id, seq;
            ASSERT_OK(mproc_queue_get(a.q, m, MSG, &len, QT_DEADLINE));
            ck_assert(qt_check(m, len, MSG, &id, &seq));
            ck_assert_uint_eq(id, 4);
            ck_assert_uint_eq(seq, i);
        }
    }
    ck_assert_int_eq(mproc_queue_qsize(a.q), 0);
    free(m);
    still_whole(a.q, 3);
    unmake(&a);
}
END_TEST

/* A big put that finds its side's positions written over (shared memory
   any process may write) reports it and gives its copier's lock back: a
   lock left held would stay linked in the thread's robust list after the
   queue is gone. */
START_TEST(written_over_positions_free_the_copier)
{
    copy_arg a;
    make(&a);
    uint64_t *m = calloc(1, MSG);
    /* The reserved end where a record may go, but the tail off a record. */
    atomic_fetch_add(&a.q->h->tail, 4);
    a.q->h->pflight = 4;
    ck_assert_int_eq(mproc_queue_put(a.q, m, MSG, 0), -EPROTO);
    for (int i = 0; i < Q_COPIERS; i++) {
        ck_assert_int_eq(mproc__qlock_trylock(&a.q->h->pc[i].l), 0);
        mproc__qlock_unlock(&a.q->h->pc[i].l);
    }
    atomic_fetch_sub(&a.q->h->tail, 4);
    a.q->h->pflight = 0;
    free(m);
    still_whole(a.q, 5);
    unmake(&a);
}
END_TEST

/* The N x M exchange of test_queue_wake.c with every big message copied
   outside the locks, from the first. */
START_TEST(producers_by_consumers_split)
{
    qt_split_case(false, _i);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "queue_copy", 60);
    tcase_add_loop_test(tc, writer_killed_mid_copy, 0, 2);
    tcase_add_loop_test(tc, reader_killed_mid_copy, 0, 2);
    tcase_add_test(tc, written_over_positions_free_the_copier);
    tc = mproc_tcase(s, "queue_copy_nxm", 60);
    tcase_add_loop_test(tc, producers_by_consumers_split, 0, QT_SPLIT_CASES);
}
