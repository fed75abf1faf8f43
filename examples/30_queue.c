/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 30_queue: producers and a consumer over a queue, as multiprocessing.Queue
 * and JoinableQueue: put, get, task_done, join, and close to say "no more". */
#include <mproc.h>
#include <stdio.h>
#include <string.h>

static mproc_queue *q;

static int producer(void *arg)
{
    int id = *(int *)arg;
    for (int i = 0; i < 3; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "item %d from producer %d", i, id);
        mproc_queue_put(q, msg, (size_t)n, -1); /* waits while the queue is full */
    }
    return 0;
}

static int consumer(void *arg)
{
    (void)arg;
    char msg[64];
    size_t len;
    /* get returns -EPIPE once the queue is closed and empty. */
    while (mproc_queue_get(q, msg, sizeof msg - 1, &len, -1) == 0) {
        msg[len] = '\0';
        printf("  consumer got: %s\n", msg);
        fflush(stdout);
        mproc_queue_task_done(q);
    }
    printf("  consumer: queue closed, done\n");
    return 0;
}

int main(void)
{
    mproc_queue_opts o = { .maxsize = 2 }; /* bounded: producers wait for room */
    int err = mproc_queue_new(&q, &o);
    if (err < 0) {
        fprintf(stderr, "mproc_queue_new: %s\n", mproc_strerror(err));
        return 1;
    }
    int ids[2] = { 1, 2 };
    mproc_process *c, *p[2];
    mproc_process_new(&c, consumer, NULL, NULL);
    mproc_process_start(c);
    for (int i = 0; i < 2; i++) {
        mproc_process_new(&p[i], producer, &ids[i], NULL);
        mproc_process_start(p[i]);
    }
    for (int i = 0; i < 2; i++) {
        mproc_process_join(p[i], -1);
        mproc_process_free(p[i]);
    }
    mproc_queue_join(q, -1); /* every item has been taken and marked done */
    printf("  join: all 6 items processed\n");
    fflush(stdout);
    mproc_queue_close(q);
    mproc_process_join(c, -1);
    mproc_process_free(c);
    mproc_queue_free(q);
    return 0;
}
