/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_ipc_journal.c: the queue's commit journal, with a producer or a
 * consumer that dies at the two worst instructions: after raising the
 * journal, and half-way through applying it. The queue's own source is
 * compiled in so that a child can stop exactly there; the library's copy
 * of it is then not linked. */
#include "test_ipc_util.h"

#include "queue.c"

typedef struct {
    mproc_queue *q;
    int stage; /* 0: die with the journal raised; 1: after its first store */
} die_arg;

/* Play a put that dies inside its commit. */
static int put_and_die(void *arg)
{
    die_arg *d = arg;
    qhdr *h = d->q->h;
    side_lock(h, &h->pm, INFINITY);
    const char msg[] = "from the dead";
    uint64_t tail = atomic_load(&h->tail), puts = atomic_load(&h->puts);
    uint64_t hdr = sizeof msg;
    ring_write(d->q, tail + 8, msg, sizeof msg);
    ring_write(d->q, tail, &hdr, 8);
    h->pj_tail = tail + rec_size(sizeof msg);
    h->pj_puts = puts + 1;
    atomic_store(&h->pj_valid, 1);
    if (d->stage == 1)
        atomic_store(&h->puts, puts + 1);
    raise(SIGKILL);
    return 1;
}

/* Play a get that dies inside its commit. */
static int get_and_die(void *arg)
{
    die_arg *d = arg;
    qhdr *h = d->q->h;
    side_lock(h, &h->gm, INFINITY);
    uint64_t head = atomic_load(&h->head), n;
    ring_read(d->q, head, &n, 8);
    h->gj_head = head + rec_size(n);
    h->gj_gets = atomic_load(&h->gets) + 1;
    atomic_store(&h->gj_valid, 1);
    if (d->stage == 1)
        atomic_store(&h->gets, h->gj_gets);
    raise(SIGKILL);
    return 1;
}

START_TEST(dead_producer_journal_is_applied)
{
    for (int stage = 0; stage < 2; stage++) {
        die_arg d = { NULL, stage };
        ASSERT_OK(mproc_queue_new(&d.q, NULL));
        ck_assert_int_eq(ipc_reap(ipc_spawn(put_and_die, &d)), -SIGKILL);
        /* No producer comes after it: the getter itself repairs the
           producers' side and finds the message whole. */
        char buf[64];
        size_t len;
        ASSERT_OK(mproc_queue_get(d.q, buf, sizeof buf, &len, 5));
        ck_assert_uint_eq(len, sizeof "from the dead");
        ck_assert_str_eq(buf, "from the dead");
        ck_assert_int_eq(mproc_queue_qsize(d.q), 0);
        ck_assert_int_eq(mproc_queue_get(d.q, buf, sizeof buf, &len, 0), -ETIMEDOUT);
        ASSERT_OK(mproc_queue_put(d.q, "next", 4, 0));
        ASSERT_OK(mproc_queue_get(d.q, buf, sizeof buf, &len, 0));
        ck_assert_uint_eq(len, 4);
        mproc_queue_free(d.q);
    }
}
END_TEST

START_TEST(dead_consumer_journal_is_applied)
{
    for (int stage = 0; stage < 2; stage++) {
        die_arg d = { NULL, stage };
        ASSERT_OK(mproc_queue_new(&d.q, NULL));
        ASSERT_OK(mproc_queue_put(d.q, "first", 5, 0));
        ASSERT_OK(mproc_queue_put(d.q, "second", 6, 0));
        ck_assert_int_eq(ipc_reap(ipc_spawn(get_and_die, &d)), -SIGKILL);
        /* The dead consumer's commit is completed: "first" is gone, never
           delivered twice, and the count agrees. */
        ck_assert_int_eq(mproc_queue_qsize(d.q), 1);
        char buf[64];
        size_t len;
        ASSERT_OK(mproc_queue_get(d.q, buf, sizeof buf, &len, 5));
        ck_assert_uint_eq(len, 6);
        ck_assert(memcmp(buf, "second", 6) == 0);
        ck_assert_int_eq(mproc_queue_get(d.q, buf, sizeof buf, &len, 0), -ETIMEDOUT);
        mproc_queue_free(d.q);
    }
}
END_TEST

START_TEST(dead_consumer_room_reaches_waiting_producer)
{
    /* A full queue whose only consumer dies inside its commit: the
       producer, waiting for room, repairs the consumers' side itself. */
    die_arg d = { NULL, 0 };
    mproc_queue_opts o = { .maxsize = 1 };
    ASSERT_OK(mproc_queue_new(&d.q, &o));
    ASSERT_OK(mproc_queue_put(d.q, "only", 4, 0));
    ck_assert_int_eq(ipc_reap(ipc_spawn(get_and_die, &d)), -SIGKILL);
    ASSERT_OK(mproc_queue_put(d.q, "more", 4, 5));
    char buf[8];
    size_t len;
    ASSERT_OK(mproc_queue_get(d.q, buf, sizeof buf, &len, 0));
    ck_assert(memcmp(buf, "more", 4) == 0);
    mproc_queue_free(d.q);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "queue_journal", 30);
    tcase_add_test(tc, dead_producer_journal_is_applied);
    tcase_add_test(tc, dead_consumer_journal_is_applied);
    tcase_add_test(tc, dead_consumer_room_reaches_waiting_producer);
}
