/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipepump.c: a thread that keeps the jobs' pipes topped up from their
 * blocks' file ranges (--pipe-part, and --pipe over a regular file).
 *
 * DESIGN. A job's pipe holds at most a MiB (fs.pipe-max-size), a tenth of
 * a 10 MiB block, so a block goes in by many splices. A pipe says that it
 * has room (POLLOUT) as soon as the reader frees a page of a full pipe: a
 * writer that refills whenever it may chases the job's reads a few pages
 * at a time (the main loop did: some 33,000 splices per GiB, each taking
 * the pipe's lock from the job's reads, the writer spinning on it), and
 * on a machine with few cores that CPU time is the jobs'. So the first
 * POLLOUT after a full pipe only says that the job reads; the refill waits
 * until about half the pipe is left, by the rate the job has been reading
 * at, and fills it in one splice: a few thousand per GiB. The rate is
 * measured at each refill (what was read since POLLOUT over the time
 * since); a refill that finds the pipe empty (the job may have waited)
 * takes the rate as at least that, so the next one comes sooner; no wait
 * is longer than WAIT_MAX. The timing decides only how often we wake,
 * never what a job gets.
 *
 * The thread also keeps the pipes flowing while the main loop spawns and
 * reaps (a clone waits for the child's exec) or waits on a file's pages
 * from disk. The main loop still fills each pipe before its job starts
 * (pipe_job_stdin), so no job waits for its first bytes; the pump takes
 * the rest, owns the write end from then on, and gives it back with the
 * progress when the job is done (pipe_pump_take).
 */
#include "pipe.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* No refill waits longer than this, whatever the rate said (a job that
   reads slowly and then fast waits at most this long). */
#define WAIT_MAX 0.002
/* Nearer than this, a refill is done at once. */
#define WAIT_MIN 0.00001
/* The first guess of a job's reading rate, bytes a second: high, so the
   first refills come early; the measure then corrects it. No job reads
   a pipe faster than memory copies (RATE_MAX). */
#define RATE_FIRST 16e9
#define RATE_MAX 32e9

enum { P_WAIT, P_DEFER, P_DONE };

typedef struct pump_item {
    size_t seq;
    uint64_t id;           /* which poll slot is whose, across changes */
    int wfd;               /* ours to fill and to close at the end */
    int rfd;               /* the feed's own read end: FIONREAD */
    pipe_range r;          /* what to send; r.off moves */
    bool broken;
    int state;
    double t_out;          /* P_DEFER: when POLLOUT came, */
    int q_out;             /* what the pipe held then, */
    double due;            /* and when to refill */
    size_t cap;            /* the pipe's size */
    size_t low;            /* refill when about this much is left */
    double rate;           /* the job's reading, bytes a second */
} pump_item;

struct pipe_pump {
    pthread_t th;
    pthread_mutex_t mu;
    int efd;               /* wakes the thread: an item more, or stop */
    bool stop;
    pump_item *it;
    size_t n, cap;
    uint64_t next_id;
    double rate;           /* the last rate measured, for new items */
    struct pollfd *pfd;    /* the thread's own */
    uint64_t *pid;
    size_t pcap;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int queued(const pump_item *it)
{
    int q = 0;
    if (ioctl(it->rfd, FIONREAD, &q) < 0)
        q = 0;
    return q;
}

/* Fill the pipe: one splice takes what it has room for (a second would
   chase the job's reads a few pages at a time; POLLOUT tells us when it
   read); at the block's end the write end is closed, the job's end of
   file. */
static void refill(pump_item *it)
{
    ssize_t n;
    do
        n = pipe_range_splice(&it->r, it->wfd);
    while (n == -EINTR);
    if (n > 0 && it->r.off < it->r.hdr + it->r.data)
        n = -EAGAIN;
    if (n == -EAGAIN) {
        it->state = P_WAIT;
        return;
    }
    if (n < 0)
        it->broken = true;
    close(it->wfd);
    it->wfd = -1;
    it->state = P_DONE;
}

/* POLLOUT came: the job reads. Refill now if the pipe is low already, or
   has room for all that is left, else when it will be low. */
static void on_pollout(pump_item *it, double t)
{
    int q = queued(it);
    double wait = ((double)q - (double)it->low) / it->rate;
    size_t rest = it->r.hdr + it->r.data - it->r.off;
    if (wait < WAIT_MIN || rest + (size_t)q <= it->cap) {
        refill(it);
        return;
    }
    it->state = P_DEFER;
    it->t_out = t;
    it->q_out = q;
    it->due = t + fmin(wait, WAIT_MAX);
}

/* The refill's time: first what the job's rate was since POLLOUT. */
static void on_due(struct pipe_pump *u, pump_item *it, double t)
{
    int q = queued(it);
    double dt = t - it->t_out;
    if (q == 0 && dt > 0) {
        /* It read all (and may have waited): at least this fast. */
        it->rate = fmax(it->rate, (double)it->q_out / dt);
    } else if (q < it->q_out && dt > 0) {
        it->rate = ((double)(it->q_out - q) / dt + it->rate) / 2;
    }
    it->rate = fmin(it->rate, RATE_MAX);
    u->rate = it->rate;
    refill(it);
}

static void *pump_main(void *arg)
{
    struct pipe_pump *u = arg;
    /* Our waits are tens of microseconds: the default timer slack (50)
       would double them. */
    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    pthread_mutex_lock(&u->mu);
    while (!u->stop) {
        double t = now(), next = INFINITY;
        for (size_t k = 0; k < u->n; k++) {
            pump_item *it = &u->it[k];
            if (it->state == P_DEFER && it->due <= t)
                on_due(u, it, t);
            if (it->state == P_DEFER)
                next = fmin(next, it->due);
        }
        if (u->pcap < u->n + 1) {
            u->pcap = u->n + 1;
            u->pfd = xrealloc(u->pfd, u->pcap * sizeof *u->pfd);
            u->pid = xrealloc(u->pid, u->pcap * sizeof *u->pid);
        }
        size_t np = 0;
        u->pfd[np++] = (struct pollfd){ .fd = u->efd, .events = POLLIN };
        for (size_t k = 0; k < u->n; k++) {
            if (u->it[k].state != P_WAIT)
                continue;
            u->pid[np] = u->it[k].id;
            u->pfd[np++] = (struct pollfd){ .fd = u->it[k].wfd, .events = POLLOUT };
        }
        struct timespec ts, *tp = NULL;
        if (next != INFINITY) {
            double d = fmax(next - now(), 0);
            ts.tv_sec = (time_t)d;
            ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
            tp = &ts;
        }
        struct pollfd *pfd = u->pfd;
        pthread_mutex_unlock(&u->mu);
        int ready = ppoll(pfd, np, tp, NULL);
        pthread_mutex_lock(&u->mu);
        if (ready <= 0)
            continue; /* a deadline, or EINTR */
        if (u->pfd[0].revents) {
            uint64_t v;
            (void)!read(u->efd, &v, sizeof v);
        }
        t = now();
        /* The items may have changed meanwhile: each event goes to the
           item it was polled for, if that is still waiting. */
        for (size_t i = 1, k = 0; i < np; i++) {
            if (!u->pfd[i].revents)
                continue;
            while (k < u->n && u->it[k].id < u->pid[i])
                k++;
            if (k < u->n && u->it[k].id == u->pid[i] && u->it[k].state == P_WAIT)
                on_pollout(&u->it[k], t);
        }
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

static void wake(struct pipe_pump *u)
{
    uint64_t one = 1;
    (void)!write(u->efd, &one, sizeof one);
}

static struct pipe_pump *pump_start(void)
{
    struct pipe_pump *u = xmalloc(sizeof *u);
    *u = (struct pipe_pump){ .efd = -1, .rate = RATE_FIRST, .next_id = 1 };
    if ((u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        goto fail;
    pthread_mutex_init(&u->mu, NULL);
    /* Signals stay with the main loop (its signalfd). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&u->th, NULL, pump_main, u);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err == 0)
        return u;
    pthread_mutex_destroy(&u->mu);
fail:
    if (u->efd >= 0)
        close(u->efd);
    free(u);
    return NULL;
}

bool pipe_pump_add(pipe_in *p, size_t seq, int wfd, int rfd, const pipe_range *r)
{
    if (!p->pump && !p->pump_failed && !(p->pump = pump_start()))
        p->pump_failed = true; /* the main loop feeds them, as before */
    struct pipe_pump *u = p->pump;
    if (!u)
        return false;
    int cap = fcntl(wfd, F_GETPIPE_SZ);
    pthread_mutex_lock(&u->mu);
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 8;
        u->it = xrealloc(u->it, u->cap * sizeof *u->it);
    }
    /* Ids grow, and items keep their order: the thread matches its
       events by walking both. */
    u->it[u->n++] = (pump_item){ .seq = seq, .id = u->next_id++, .wfd = wfd, .rfd = rfd,
                                 .r = *r, .state = P_WAIT,
                                 .cap = cap > 0 ? (size_t)cap : 65536,
                                 .low = cap > 0 ? (size_t)cap / 2 : 32768, .rate = u->rate };
    pthread_mutex_unlock(&u->mu);
    wake(u);
    return true;
}

bool pipe_pump_take(pipe_in *p, size_t seq, int *wfd, size_t *off, bool *broken)
{
    struct pipe_pump *u = p->pump;
    if (!u)
        return false;
    bool found = false;
    pthread_mutex_lock(&u->mu);
    for (size_t k = 0; k < u->n; k++) {
        if (u->it[k].seq != seq)
            continue;
        *wfd = u->it[k].wfd;
        *off = u->it[k].r.off;
        *broken = u->it[k].broken;
        memmove(&u->it[k], &u->it[k + 1], (u->n - k - 1) * sizeof *u->it);
        u->n--;
        found = true;
        break;
    }
    pthread_mutex_unlock(&u->mu);
    /* A descriptor the thread polls now may be closed by the caller: the
       thread's next round leaves it out (its event, if any, finds no
       item). */
    return found;
}

void pipe_pump_stop(pipe_in *p)
{
    struct pipe_pump *u = p->pump;
    if (!u)
        return;
    pthread_mutex_lock(&u->mu);
    u->stop = true;
    pthread_mutex_unlock(&u->mu);
    wake(u);
    pthread_join(u->th, NULL);
    for (size_t k = 0; k < u->n; k++)
        if (u->it[k].wfd >= 0)
            close(u->it[k].wfd);
    pthread_mutex_destroy(&u->mu);
    close(u->efd);
    free(u->it);
    free(u->pfd);
    free(u->pid);
    free(u);
    p->pump = NULL;
}
