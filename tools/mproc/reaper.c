/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* reaper.c: the thread that waits for `mproc run`'s jobs to exit and tells
 * the loop, so that the next job starts on the CPU the last one leaves.
 *
 * DESIGN. Who waits on a child decides where the wakeup of its exit runs.
 * A poller of the child's pidfd is woken like any poller: on the CPU it ran
 * on last, where it preempts the other slot's job, while the CPU the child
 * leaves idles until the loop has started the next job there (with two
 * slots on two CPUs that was 15-20% of the run for short jobs). A waiter in
 * waitid is woken "synchronously" (the waker, the exiting child, is about
 * to sleep for good), so the kernel runs it on the CPU the child leaves;
 * this thread's write to the loop's pipe is again a synchronous wakeup, so
 * the loop follows on that CPU, and the clone of the next job lands there.
 *
 * The thread reaps every child, as the loop's only other child (the perl
 * coprocess of {= =}) is waited for only as it is stopped, where one
 * already reaped is no error. --mpi, whose library may wait for children
 * of its own, goes without it, and so do the sanitizer builds, whose pidfd
 * is opened only after the spawn (SPAWN_PIDFD_AT_CLONE). It writes each
 * child's PID and status as one record, a single write, so records never
 * interleave, and the loop keeps those of its jobs. With no child left it
 * sleeps until the loop says that it started one.
 */
#include "tool.h"
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct reaper {
    pthread_t th;
    int rd, wr;           /* the records: the loop reads rd */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t started;     /* children started so far (by the loop) */
    bool idle;            /* the thread waits on cv for a child */
    bool quit;
};

static void *reaper_main(void *arg)
{
    reaper *w = arg;
    /* Cancelled (by reaper_stop) only while blocked in waitid: a reaped
       child's record is always written whole. */
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        uint64_t seen = w->started;
        bool quit = w->quit;
        pthread_mutex_unlock(&w->mu);
        if (quit)
            break;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
        int rc = waitid(P_ALL, 0, &si, WEXITED);
        int e = errno;
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
        if (rc == 0) {
            reaped rec = { .pid = si.si_pid, .code = si.si_code, .status = si.si_status };
            if (write_all(w->wr, &rec, sizeof rec) < 0)
                break; /* the loop is gone */
            continue;
        }
        if (e == EINTR)
            continue;
        /* ECHILD: none runs; a child started after `seen` was read may
           have been missed, so sleep only while none has. */
        pthread_mutex_lock(&w->mu);
        w->idle = true;
        while (w->started == seen && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        w->idle = false;
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

int reaper_start(reaper **out)
{
    reaper *w = xmalloc(sizeof *w);
    *w = (reaper){ .rd = -1, .wr = -1 };
    int p[2], err = 0;
    if (pipe2(p, O_CLOEXEC) < 0) {
        err = -errno;
        free(w);
        return err;
    }
    w->rd = p[0];
    w->wr = p[1];
    if (fcntl(w->rd, F_SETFL, O_NONBLOCK) < 0) {
        err = -errno;
        goto fail;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* Signals stay with the main loop (its signalfd). */
    sigset_t all, omask;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &omask);
    err = -pthread_create(&w->th, NULL, reaper_main, w);
    pthread_sigmask(SIG_SETMASK, &omask, NULL);
    if (err == 0) {
        *out = w;
        return 0;
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
fail:
    close(w->rd);
    close(w->wr);
    free(w);
    return err;
}

int reaper_fd(const reaper *w)
{
    return w->rd;
}

void reaper_started(reaper *w)
{
    pthread_mutex_lock(&w->mu);
    w->started++;
    if (w->idle)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

size_t reaper_read(reaper *w, reaped *recs, size_t max)
{
    ssize_t n;
    do
        n = read(w->rd, recs, max * sizeof *recs);
    while (n < 0 && errno == EINTR);
    return n > 0 ? (size_t)n / sizeof *recs : 0;
}

void reaper_stop(reaper *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    /* A write into a full pipe now fails (EPIPE) instead of blocking. */
    close(w->rd);
    /* Blocked in waitid on a job that still runs: no need to wait for it. */
    pthread_cancel(w->th);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    close(w->wr);
    free(w);
}
