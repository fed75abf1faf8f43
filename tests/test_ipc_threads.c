/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_ipc_threads.c: the IPC objects used by several threads of one
 * process, for ThreadSanitizer. ctest-label: threads */
#include "test_ipc_util.h"

#include <pthread.h>

#define THREADS 4
#define N 20000

typedef struct {
    mproc_lock lock;
    mproc_rlock rlock;
    mproc_sem sem;
    mproc_event ev;
    mproc_cond cond;
    mproc_barrier bar;
    long counter;
    long items;
    int done;
} shared;

static shared *sh;

static void *lock_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        mproc_lock_acquire(&sh->lock, -1);
        sh->counter++;
        mproc_lock_release(&sh->lock);
        mproc_rlock_acquire(&sh->rlock, -1);
        mproc_rlock_acquire(&sh->rlock, -1);
        sh->items++;
        mproc_rlock_release(&sh->rlock);
        mproc_rlock_release(&sh->rlock);
    }
    return NULL;
}

static void *sem_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        mproc_sem_acquire(&sh->sem, -1);
        sh->counter++;
        mproc_sem_release(&sh->sem);
    }
    return NULL;
}

static void *bar_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        mproc_lock_acquire(&sh->lock, -1);
        sh->counter++;
        mproc_lock_release(&sh->lock);
        if (mproc_barrier_wait(&sh->bar, 30) < 0)
            return (void *)1;
    }
    return NULL;
}

static void *cond_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        mproc_lock_acquire(&sh->lock, -1);
        while (sh->items == 0 && !sh->done)
            mproc_cond_wait(&sh->cond, &sh->lock, -1);
        if (sh->items == 0) {
            mproc_lock_release(&sh->lock);
            return NULL;
        }
        sh->items--;
        sh->counter++;
        mproc_lock_release(&sh->lock);
    }
}

static void *ev_waiter(void *arg)
{
    (void)arg;
    return mproc_event_wait(&sh->ev, 30) == 0 ? NULL : (void *)1;
}

static void run(void *(*fn)(void *), int n)
{
    pthread_t t[THREADS];
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, fn, NULL), 0);
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(t[i], &r);
        ck_assert_ptr_null(r);
    }
}

static void setup_shared(mproc_shm **blk)
{
    ASSERT_OK(mproc_shm_new(blk, sizeof(shared)));
    sh = mproc_shm_ptr(*blk);
    ASSERT_OK(mproc_lock_init(&sh->lock));
    ASSERT_OK(mproc_rlock_init(&sh->rlock));
    ASSERT_OK(mproc_sem_init(&sh->sem, 1, 1));
    ASSERT_OK(mproc_event_init(&sh->ev));
    ASSERT_OK(mproc_cond_init(&sh->cond));
    ASSERT_OK(mproc_barrier_init(&sh->bar, THREADS));
}

START_TEST(locks_and_semaphores_from_threads)
{
    mproc_shm *blk;
    setup_shared(&blk);
    run(lock_worker, THREADS);
    ck_assert_int_eq(sh->counter, (long)THREADS * N);
    ck_assert_int_eq(sh->items, (long)THREADS * N);
    sh->counter = 0;
    run(sem_worker, THREADS);
    ck_assert_int_eq(sh->counter, (long)THREADS * N);
    sh->counter = 0;
    run(bar_worker, THREADS);
    ck_assert_int_eq(sh->counter, (long)THREADS * 500);
    mproc_lock_destroy(&sh->lock);
    mproc_rlock_destroy(&sh->rlock);
    mproc_barrier_destroy(&sh->bar);
    mproc_shm_free(blk);
}
END_TEST

START_TEST(cond_and_event_from_threads)
{
    mproc_shm *blk;
    setup_shared(&blk);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, cond_consumer, NULL), 0);
    for (int i = 0; i < N; i++) {
        mproc_lock_acquire(&sh->lock, -1);
        sh->items++;
        mproc_cond_notify(&sh->cond, 1);
        mproc_lock_release(&sh->lock);
    }
    mproc_lock_acquire(&sh->lock, -1);
    sh->done = 1;
    mproc_cond_notify_all(&sh->cond);
    mproc_lock_release(&sh->lock);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(sh->counter, N);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, ev_waiter, NULL), 0);
    mproc_event_set(&sh->ev);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        ck_assert_ptr_null(r);
    }
    mproc_lock_destroy(&sh->lock);
    mproc_rlock_destroy(&sh->rlock);
    mproc_barrier_destroy(&sh->bar);
    mproc_shm_free(blk);
}
END_TEST

static mproc_queue *tq;
static mproc_pipe *pa, *pb;

static void *q_producer(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t m[2] = { id, i };
        if (mproc_queue_put(tq, m, sizeof m, -1))
            return (void *)1;
    }
    return NULL;
}

static void *q_consumer(void *arg)
{
    long *sum = arg;
    uint32_t m[2];
    size_t len;
    while (mproc_queue_get(tq, m, sizeof m, &len, -1) == 0) {
        *sum += m[1];
        mproc_queue_task_done(tq);
    }
    return NULL;
}

static void *pipe_sender(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < N; i++)
        if (mproc_pipe_send(pa, &i, sizeof i, -1))
            return (void *)1;
    return NULL;
}

START_TEST(queue_and_pipe_from_threads)
{
    mproc_queue_opts o = { .bytes = 4096 };
    ASSERT_OK(mproc_queue_new(&tq, &o));
    pthread_t prod[2], cons[2];
    long sums[2] = { 0, 0 };
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&cons[i], NULL, q_consumer, &sums[i]), 0);
        ck_assert_int_eq(pthread_create(&prod[i], NULL, q_producer, (void *)(uintptr_t)i), 0);
    }
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(prod[i], &r);
        ck_assert_ptr_null(r);
    }
    ASSERT_OK(mproc_queue_join(tq, 60));
    ASSERT_OK(mproc_queue_close(tq));
    for (int i = 0; i < 2; i++)
        pthread_join(cons[i], NULL);
    ck_assert_int_eq(sums[0] + sums[1], 2L * N * (N - 1) / 2);
    mproc_queue_free(tq);

    ASSERT_OK(mproc_pipe_new(&pa, &pb, NULL));
    pthread_t s[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&s[i], NULL, pipe_sender, NULL), 0);
    long total = 0;
    for (int i = 0; i < 2 * N; i++) {
        uint32_t v;
        size_t len;
        ASSERT_OK(mproc_pipe_recv_into(pb, &v, sizeof v, &len, 30));
        ck_assert_uint_eq(len, 4);
        total += v;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(s[i], NULL);
    ck_assert_int_eq(total, 2L * N * (N - 1) / 2);
    mproc_pipe_free(pa);
    mproc_pipe_free(pb);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "ipc_threads", 120);
    tcase_add_test(tc, locks_and_semaphores_from_threads);
    tcase_add_test(tc, cond_and_event_from_threads);
    tcase_add_test(tc, queue_and_pipe_from_threads);
}
