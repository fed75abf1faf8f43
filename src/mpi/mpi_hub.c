/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_hub.c: a rank other than 0: it runs rank 0's tasks on its own local
 * pool and sends their outcomes back.
 *
 * The hub never runs user code itself, so it always answers. It polls
 * MPI_Iprobe (a blocking MPI call would spin on a CPU the workers need);
 * while tasks run it sleeps on its pool's outcomes with a timeout that
 * grows while nothing comes, so it wakes at once for a local outcome and
 * within a bounded time for a message.
 */
#include "mpi_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool paced; /* mproc__mpi_hub_pace */

void mproc__mpi_hub_pace(void)
{
    paced = true;
}

typedef struct pend {
    uint64_t id;
    mproc_result *r;
} pend;

typedef struct hub {
    mproc__wire w;
    mproc_pool *pool;
    const uintptr_t *bases;
    size_t nbases;
    pend *pend;             /* tasks running in the local pool, oldest first */
    mproc_result **rs;      /* the same results, for mproc_result_wait_any */
    size_t npend, cap;
    mproc__buf in, out;     /* the batch received, the outcomes to send */
    mproc_result **big;     /* results whose large bytes follow out */
    size_t nbig, capbig;
    unsigned workers;
    double beat;            /* rank_timeout mode: the heartbeat interval, else 0 */
    double last_sent;
} hub;

static int grow(hub *h)
{
    /* Two arrays of one capacity: it grows once both have. */
    size_t cap_pend = h->cap, cap_rs = h->cap;
    if (mproc__grow(&h->pend, &cap_pend, h->npend + 1, sizeof *h->pend, 64) < 0 ||
        mproc__grow(&h->rs, &cap_rs, h->npend + 1, sizeof *h->rs, 64) < 0)
        return -ENOMEM;
    h->cap = cap_rs;
    return 0;
}

/* An outcome into the DONE being built; large bytes are sent from the
   result itself, which stays alive until then. */
static int put_outcome(hub *h, uint64_t id, mproc_result *r, int code)
{
    const void *data = NULL;
    size_t len = 0;
    wdone d = { .id = id, .code = code };
    if (r) {
        d.code = mproc_result_get(r, 0, &data, &len);
        d.detail = mproc_result_code(r);
        d.sig = mproc_result_signal(r);
    }
    if (d.code != 0 && d.code != MPROC_ETASK)
        len = 0;
    d.res_len = len;
    int err = mproc__buf_put(&h->out, &d, sizeof d);
    if (err == 0 && len <= MPROC__MPI_BIG) {
        err = mproc__buf_put(&h->out, data, len);
        if (err == 0)
            err = mproc__buf_pad(&h->out);
        mproc_result_free(r);
        return err;
    }
    if (err == 0 && mproc__grow(&h->big, &h->capbig, h->nbig + 1, sizeof *h->big, 16) < 0)
        return -ENOMEM;
    if (err == 0)
        h->big[h->nbig++] = r;
    return err;
}

static void free_result(void *arg)
{
    mproc_result_free(arg);
}

static int flush_out(hub *h)
{
    if (h->out.len == 0)
        return 0;
    /* Tells rank 0 whether workers here are about to idle: its window for
       this rank grows then. */
    int32_t starved = h->npend < h->workers;
    memcpy(h->out.p + offsetof(wdone, starved), &starved, sizeof starved);
    /* The batch buffer is handed to MPI until its send completes. */
    char *copy = h->out.p;
    int err = mproc__wire_isend(&h->w, 0, TAG_DONE, copy, h->out.len, free, copy);
    h->last_sent = mpi_now();
    h->out = (mproc__buf){ 0 };
    for (size_t i = 0; i < h->nbig && err == 0; i++) {
        const void *data;
        size_t len;
        mproc_result_get(h->big[i], 0, &data, &len);
        err = mproc__wire_isend(&h->w, 0, TAG_RES, data, len, free_result, h->big[i]);
    }
    h->nbig = 0;
    return err;
}

/* A large argument, received straight into the extent the local pool
   gives it (the argument's ARG message, next on the tag). */
typedef struct argin {
    hub *h;
    bool taken;
} argin;

static int recv_arg(void *ctx, void *dst, size_t len)
{
    argin *a = ctx;
    a->taken = true;
    return mproc__wire_recv(&a->h->w, 0, TAG_ARG, dst, len);
}

/* Queues every task of a batch on the local pool. */
static int take_batch(hub *h, size_t len)
{
    const char *p = h->in.p, *end = p + len;
    int err = 0;
    while (p + sizeof(wtask) <= end && err == 0) {
        wtask t;
        memcpy(&t, p, sizeof t);
        p += sizeof t;
        const void *arg = p;
        bool big = t.arg_len > MPROC__MPI_BIG;
        argin a = { .h = h };
        mproc__fill fill = { .fn = recv_arg, .ctx = &a };
        if (!big)
            p += (t.arg_len + 7) & ~(uint64_t)7;
        int code = -EFAULT;
        mproc_result *r = NULL;
        if (t.obj < h->nbases) {
            mproc_task_fn fn = (mproc_task_fn)(h->bases[t.obj] + t.off);
            code = mproc__pool_submit_raw(h->pool, fn, big ? NULL : t.arg_len ? arg : NULL,
                                          t.arg_len, big ? &fill : NULL, t.kind, t.item_size,
                                          t.count, &r);
        }
        if (big && !a.taken) {
            /* Refused before its bytes were wanted: they are drained. */
            void *tmp = malloc(t.arg_len);
            if (!tmp)
                return -ENOMEM;
            mproc__wire_recv(&h->w, 0, TAG_ARG, tmp, t.arg_len);
            free(tmp);
        }
        if ((err = grow(h)) < 0)
            break;
        if (code < 0) {
            /* Refused here (as apply_async would refuse it locally): the
               outcome is the refusal. */
            err = put_outcome(h, t.id, NULL, code);
            continue;
        }
        h->pend[h->npend] = (pend){ .id = t.id, .r = r };
        h->rs[h->npend] = r;
        h->npend++;
    }
    return err;
}

/* Moves every finished task's outcome into the DONE being built. */
static bool harvest(hub *h)
{
    size_t k = 0;
    bool any = false;
    for (size_t i = 0; i < h->npend; i++) {
        if (mproc_result_ready(h->pend[i].r)) {
            put_outcome(h, h->pend[i].id, h->pend[i].r, 0);
            any = true;
            continue;
        }
        h->pend[k] = h->pend[i];
        h->rs[k] = h->rs[i];
        k++;
    }
    h->npend = k;
    return any;
}

void mproc__hub_serve(MPI_Comm comm, mproc_pool *local, unsigned workers, const uintptr_t *bases,
                      size_t nbases, double rank_timeout)
{
    hub h = { .w = { .comm = comm, .split = mproc__mpi_split_env() }, .pool = local,
              .workers = workers ? workers : 1,
              .bases = bases, .nbases = nbases, .beat = rank_timeout / 4, .last_sent = mpi_now() };
    mproc__backoff bo = { 0 };
    mproc__timer_slack();
    for (;;) {
        bool act = false;
        int flag = 1;
        MPI_Status st;
        while (flag) {
            MPI_Iprobe(0, MPI_ANY_TAG, comm, &flag, &st);
            if (!flag)
                break;
            act = true;
            if (st.MPI_TAG == TAG_STOP) {
                MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_STOP, comm, MPI_STATUS_IGNORE);
                goto stop;
            }
            int n = 0;
            MPI_Get_count(&st, MPI_BYTE, &n);
            h.in.len = 0;
            if (mproc__buf_put(&h.in, NULL, (size_t)n) < 0)
                goto stop; /* no memory for the batch: nothing sane is left */
            MPI_Recv(h.in.p, n, MPI_BYTE, 0, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
            if (st.MPI_TAG == TAG_BATCH)
                take_batch(&h, (size_t)n);
            else if (st.MPI_TAG == TAG_DROP)
                mproc__pool_drop_waiting(local);
        }
        if (h.npend && harvest(&h))
            act = true;
        flush_out(&h);
        if (h.beat > 0 && mpi_now() - h.last_sent >= h.beat) {
            mproc__wire_isend(&h.w, 0, TAG_BEAT, NULL, 0, NULL, NULL);
            h.last_sent = mpi_now();
        }
        if (mproc__wire_progress(&h.w))
            act = true;
        /* While tasks run here the workers need the CPU: sleep on their
           outcomes instead of polling; and while some wait for a worker
           here, rank 0's next messages are not needed soon: poll seldom.
           Paced (mproc__mpi_hub_pace): while every worker has a task
           waiting, once per MPROC__PACE; while every worker runs one, on
           the first outcome; else (a worker idles) at least every
           MPROC__SLEEP_SHARED, as rank 0's forwarder sends only every
           MPROC__PACE anyway. */
        bool queued = h.npend > h.workers, busy = mproc__wire_moving(&h.w);
        bo.spin = h.npend || paced ? 0 : MPROC__SPIN_LONG;
        bo.floor = queued || paced ? MPROC__SLEEP_SHARED : 0;
        double s = mproc__backoff_busy(&bo, act, busy);
        if (paced && !busy)
            s = h.npend >= h.workers ? MPROC__PACE : s > bo.floor ? s : bo.floor;
        if (paced && queued && !busy)
            mproc__nap(s);
        else if (s > 0 && h.npend)
            mproc_result_wait_any(h.rs, h.npend, s);
        else
            mproc__nap(s);
    }
stop:
    /* Rank 0 is done with every outcome: end the local pool, finish the
       sends rank 0 is still receiving, then say goodbye. */
    for (size_t i = 0; i < h.npend; i++)
        mproc_result_free(h.pend[i].r);
    h.npend = 0;
    for (size_t i = 0; i < h.nbig; i++)
        mproc_result_free(h.big[i]);
    h.nbig = 0;
    mproc_pool_terminate(local);
    while (mproc__wire_busy(&h.w))
        mproc__nap(mproc__backoff_step(&bo, mproc__wire_progress(&h.w)));
    mproc__wire_free(&h.w);
    MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_BYE, comm);
    free(h.pend);
    free(h.rs);
    free(h.in.p);
    free(h.out.p);
    free(h.big);
}
