/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_wire.c: messages of any size over MPI, sends that never block the
 * thread that makes them, batch buffers, and the polling back-off.
 *
 * Every send is an MPI_Isend completed later by mproc__wire_progress: a
 * blocking send of a large message waits for the receiver, and rank 0 and a
 * hub each sending the other a large payload would then wait for each other
 * for ever. MPI counts are ints, so a payload above the split threshold
 * (INT_MAX at most) goes as several messages on one tag, which MPI delivers
 * in order.
 */
#include "mpi_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

/* A poller that just saw activity polls for b->spin before it sleeps;
   then each sleep is a quarter of the time it has been idle, so a message
   waits at most about a quarter longer than it took to come, between these
   bounds (the longest bounds the wakeups of an idle rank). */
#define SLEEP_MIN_S 2e-6
#define SLEEP_MAX_S 1e-3
#define SLEEP_BUSY_S 5e-6

size_t mproc__mpi_split_env(void)
{
    const char *s = getenv("MPROC_MPI_SPLIT");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == 0 && v > 0 && v <= INT_MAX)
            return (size_t)v;
    }
    return INT_MAX;
}

int mproc__wire_isend(mproc__wire *w, int dest, int tag, const void *buf, size_t len,
                      mproc__sent_fn done, void *arg)
{
    if (mproc__grow(&w->ops, &w->capops, w->nops + 1, sizeof *w->ops, 16) < 0)
        return -ENOMEM;
    size_t pieces = len ? (len - 1) / w->split + 1 : 1;
    if (pieces > INT_MAX)
        return -EMSGSIZE;
    MPI_Request *reqs = malloc(pieces * sizeof *reqs);
    if (!reqs)
        return -ENOMEM;
    const char *p = buf;
    for (size_t i = 0; i < pieces; i++) {
        size_t n = len - i * w->split < w->split ? len - i * w->split : w->split;
        MPI_Isend(p + i * w->split, (int)n, MPI_BYTE, dest, tag, w->comm, &reqs[i]);
    }
    bool large = len > MPROC__MPI_BIG;
    w->ops[w->nops++] = (mproc__sendop){ .dest = dest, .reqs = reqs, .nreq = (int)pieces, .done = done,
                                         .arg = arg, .large = large };
    w->nlarge += large;
    return 0;
}

int mproc__wire_recv(mproc__wire *w, int src, int tag, void *buf, size_t len)
{
    size_t pieces = len ? (len - 1) / w->split + 1 : 1;
    char *p = buf;
    for (size_t i = 0; i < pieces; i++) {
        size_t n = len - i * w->split < w->split ? len - i * w->split : w->split;
        MPI_Recv(p + i * w->split, (int)n, MPI_BYTE, src, tag, w->comm, MPI_STATUS_IGNORE);
    }
    return 0;
}

bool mproc__wire_progress(mproc__wire *w)
{
    bool any = false;
    for (size_t i = 0; i < w->nops;) {
        mproc__sendop *op = &w->ops[i];
        int flag = 0;
        bool dead = w->lost && w->lost[op->dest];
        if (!dead)
            MPI_Testall(op->nreq, op->reqs, &flag, MPI_STATUSES_IGNORE);
        if (!flag && !dead) {
            i++;
            continue;
        }
        mproc__sendop o = *op;
        if (dead) {
            /* Never completes: MPI may hold the buffer as long as it likes. */
            for (int k = 0; k < o.nreq; k++)
                MPI_Request_free(&o.reqs[k]);
            o.done = NULL;
        }
        /* In order: a later op may have been sent from the same buffer. */
        memmove(op, op + 1, (w->nops - i - 1) * sizeof *op);
        w->nops--;
        w->nlarge -= o.large;
        free(o.reqs);
        if (o.done)
            o.done(o.arg);
        any = true;
    }
    return any;
}

void mproc__wire_free(mproc__wire *w)
{
    mproc__wire_progress(w); /* drops the sends to lost ranks */
    for (size_t i = 0; i < w->nops; i++) {
        MPI_Waitall(w->ops[i].nreq, w->ops[i].reqs, MPI_STATUSES_IGNORE);
        free(w->ops[i].reqs);
        if (w->ops[i].done)
            w->ops[i].done(w->ops[i].arg);
    }
    free(w->ops);
    w->ops = NULL;
    w->nops = w->capops = w->nlarge = 0;
}

int mproc__buf_put(mproc__buf *b, const void *data, size_t len)
{
    if (len > SIZE_MAX - b->len || mproc__grow(&b->p, &b->cap, b->len + len, 1, 4096) < 0)
        return -ENOMEM;
    if (len && data)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

int mproc__buf_pad(mproc__buf *b)
{
    static const char zero[8];
    return mproc__buf_put(b, zero, (8 - b->len % 8) % 8);
}

void mproc__nap(double seconds)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(seconds * 1e9) };
    if (seconds > 0)
        nanosleep(&ts, NULL);
}

double mproc__backoff_step(mproc__backoff *b, bool act)
{
    if (act) {
        b->idle_since = 0;
        return 0;
    }
    double t = mpi_now();
    if (b->idle_since == 0) {
        b->idle_since = t;
        return 0;
    }
    double idle = t - b->idle_since;
    if (idle < b->spin)
        return 0;
    double s = idle / 4, lo = b->floor > SLEEP_MIN_S ? b->floor : SLEEP_MIN_S;
    return s < lo ? lo : s > SLEEP_MAX_S ? SLEEP_MAX_S : s;
}

double mproc__backoff_busy(mproc__backoff *b, bool act, bool busy)
{
    double s = mproc__backoff_step(b, act);
    return busy && s > SLEEP_BUSY_S ? SLEEP_BUSY_S : s;
}

void mproc__timer_slack(void)
{
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}
