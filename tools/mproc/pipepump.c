/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipepump.c: threads that keep the jobs' pipes topped up from their
 * blocks' file ranges (--pipe-part, and --pipe over a regular file).
 *
 * DESIGN. A job's pipe holds at most a MiB (fs.pipe-max-size), a tenth of
 * a 10 MiB block, so a block goes in by many splices. A pipe says that it
 * has room (POLLOUT) as soon as the reader frees a page of a full pipe: a
 * writer that refills whenever it may chases the job's reads a few pages
 * at a time (some 33,000 splices per GiB, each taking the pipe's lock from
 * the job's reads), and on a machine with few cores that CPU time is the
 * jobs'. So a refill comes when about a third of the pipe is left, by the
 * rate the job reads at, and fills it in one splice. The splice says how much
 * the job read since the pipe was last full, which measures the rate; no
 * other call asks (no FIONREAD). A job that reads fast is refilled by the
 * timer alone: one wakeup and one splice per two thirds of a pipe. One
 * that reads slowly (those last more than WAIT_MAX), or had stopped (the
 * refill found the pipe still full), is waited for by POLLOUT, its next
 * read, and then by the timer. A refill that finds the pipe empty (the
 * job may have waited) takes the rate as at least that, so the next one
 * comes sooner. The timing decides only how often we wake, never what a
 * job gets.
 *
 * A thread fills one pipe at a time, and a job whose pipe runs dry while
 * it fills another's waits with its CPU idle: so there is a thread (a
 * lane) per job running, up to one per CPU, each with its own lock; more
 * jobs than that share the lanes.
 *
 * The threads also keep the pipes flowing while the main loop spawns and
 * reaps (a clone waits for the child's exec) or waits on a file's pages
 * from disk. A job's pipe comes to the pump empty, before the job is
 * spawned, and its first fill is the lane's: it goes in while the child
 * execs (a few hundred microseconds before it reads), so the fill is off
 * the path from one job's end to the next one's start, where the freed
 * CPU would wait for it. The pump owns the write end from then on, and
 * gives it back with the progress when the job is done (pipe_pump_take).
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
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* A reader this slow (a refill due later than this) is waited for by
   POLLOUT, which says only that it reads at all. */
#define WAIT_MAX 0.002
/* Nearer than this, a refill is done at once. */
#define WAIT_MIN 0.00001
/* The first guess of a job's reading rate, bytes a second: high, so the
   first refills come early; the measure then corrects it. No job reads
   a pipe faster than memory copies (RATE_MAX). */
#define RATE_FIRST 16e9
#define RATE_MAX 32e9
/* A refill is due when about this part of the pipe is left: a third
   keeps some 35 us of a fast job's reading (10 GB/s) in the pipe against
   a late wakeup, and wakes us a quarter less often than a half does
   (about 1,500 refills per GiB, not 2,000: some 4% less CPU time in all
   for --pipe-part wc -l on 2 CPUs); a quarter or less leaves too little,
   and jobs wait on empty pipes. */
#define LOW_PART 3

enum { P_FIRST, P_POLL, P_TIMER, P_DONE };

typedef struct pump_item {
    size_t seq;
    uint64_t id;           /* which poll slot is whose, across changes */
    int wfd;               /* ours to fill and to close at the end */
    pipe_range r;          /* what to send; r.off moves */
    bool broken;
    int state;
    double t_full;         /* when the pipe was last known full */
    double due;            /* P_TIMER: when to refill */
    size_t cap;            /* the pipe's size */
    double rate;           /* the job's reading, bytes a second */
} pump_item;

/* One thread and the jobs it fills. */
struct pump_lane {
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

/* The lanes, started as jobs come. */
struct pipe_pump {
    struct pump_lane **lane;
    size_t n, max;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Until the pipe, full now, is low again: a timer when the job reads
   fast, else its first read (POLLOUT). */
static void await_low(pump_item *it, double t)
{
    it->t_full = t;
    double wait = (double)(it->cap - it->cap / LOW_PART) / it->rate;
    if (wait > WAIT_MAX) {
        it->state = P_POLL;
        return;
    }
    it->state = P_TIMER;
    it->due = t + wait;
}

/* One splice into the pipe, as much as it has room for; at the block's
   end (or on a failed pipe) the write end is closed, the job's end of
   file, and the item is done. What the splice returned. */
static ssize_t top_up(pump_item *it)
{
    ssize_t n;
    do
        n = pipe_range_splice(&it->r, it->wfd);
    while (n == -EINTR);
    if (n == -EAGAIN || (n > 0 && it->r.off < it->r.hdr + it->r.data))
        return n;
    if (n < 0)
        it->broken = true;
    close(it->wfd);
    it->wfd = -1;
    it->state = P_DONE;
    return n;
}

/* Fill the pipe: what it takes is what the job read since it was last
   full, which gives the job's rate. */
static void refill(struct pump_lane *u, pump_item *it, double t)
{
    ssize_t n = top_up(it);
    if (it->state == P_DONE)
        return;
    if (n == -EAGAIN) {
        /* Still full: the job has stopped reading, or slowed down. */
        it->rate /= 2;
        await_low(it, t);
        return;
    }
    double dt = t - it->t_full, got = (double)n;
    if (dt > 0) {
        if (got + 2 * 4096 >= (double)it->cap) {
            /* It read it all (and may have waited): at least this fast. */
            it->rate = fmax(it->rate, got / dt);
        } else {
            it->rate = (got / dt + it->rate) / 2;
        }
        it->rate = fmin(it->rate, RATE_MAX);
        u->rate = it->rate;
    }
    await_low(it, t);
}

/* The first fill, while the job starts: the job has read nothing yet, so
   it measures nothing; its first read comes by POLLOUT. */
static void first_fill(pump_item *it, double t)
{
    (void)top_up(it);
    if (it->state == P_DONE)
        return;
    it->state = P_POLL;
    it->t_full = t;
}

/* POLLOUT on a full pipe: the job reads (again), from now on. */
static void on_pollout(pump_item *it, double t)
{
    it->t_full = t;
    double wait = (double)(it->cap - it->cap / LOW_PART) / it->rate;
    it->state = P_TIMER;
    it->due = t + fmin(wait, WAIT_MAX);
}

static void *pump_main(void *arg)
{
    struct pump_lane *u = arg;
    /* Our waits are tens of microseconds: the default timer slack (50)
       would double them. */
    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    /* Named, so that /proc tells the lanes from the runner's thread. */
    (void)prctl(PR_SET_NAME, (unsigned long)"mproc-pump", 0, 0, 0);
    pthread_mutex_lock(&u->mu);
    while (!u->stop) {
        double t = now(), next = INFINITY;
        for (size_t k = 0; k < u->n; k++) {
            pump_item *it = &u->it[k];
            if (it->state == P_FIRST)
                first_fill(it, t);
            if (it->state == P_TIMER && it->due <= t + WAIT_MIN)
                refill(u, it, t);
            if (it->state == P_TIMER)
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
            if (u->it[k].state != P_POLL)
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
            if (k < u->n && u->it[k].id == u->pid[i] && u->it[k].state == P_POLL)
                on_pollout(&u->it[k], t);
        }
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

static void wake(struct pump_lane *u)
{
    uint64_t one = 1;
    (void)!write(u->efd, &one, sizeof one);
}

/* A lane more, its thread started on cpus (NULL: ours); NULL when it
   could not be. */
static struct pump_lane *lane_start(const cpu_set_t *cpus, size_t cpus_size)
{
    struct pump_lane *u = xmalloc(sizeof *u);
    *u = (struct pump_lane){ .efd = -1, .rate = RATE_FIRST, .next_id = 1 };
    if ((u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        goto fail;
    pthread_mutex_init(&u->mu, NULL);
    /* Signals stay with the main loop (its signalfd). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&u->th, NULL, pump_main, u);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Not where the creating thread may be held: a lane there would wait
       behind that CPU's job while the other CPUs idle. (Failing, it runs
       there, slower.) */
    if (err == 0 && cpus)
        (void)pthread_setaffinity_np(u->th, cpus_size, cpus);
    if (err == 0)
        return u;
    pthread_mutex_destroy(&u->mu);
fail:
    if (u->efd >= 0)
        close(u->efd);
    free(u);
    return NULL;
}

static void lane_stop(struct pump_lane *u)
{
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
}

/* The lane for one job more: the least busy, or a new one while every
   lane has a job and there are CPUs for more (one thread refilling two
   jobs' pipes makes the second wait while it fills the first). */
static struct pump_lane *lane_for(struct pipe_pump *pp, const pipe_in *p)
{
    struct pump_lane *best = NULL;
    size_t least = SIZE_MAX;
    for (size_t k = 0; k < pp->n; k++) {
        pthread_mutex_lock(&pp->lane[k]->mu);
        size_t n = pp->lane[k]->n;
        pthread_mutex_unlock(&pp->lane[k]->mu);
        if (n < least) {
            least = n;
            best = pp->lane[k];
        }
    }
    if (best && (least == 0 || pp->n >= pp->max))
        return best;
    struct pump_lane *u = lane_start(p->pump_cpus, p->pump_cpus_size);
    if (!u)
        return best;
    pp->lane = xrealloc(pp->lane, (pp->n + 1) * sizeof *pp->lane);
    pp->lane[pp->n++] = u;
    return u;
}

bool pipe_pump_add(pipe_in *p, size_t seq, int wfd, int pipesz, const pipe_range *r)
{
    if (!p->pump) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        p->pump = xmalloc(sizeof *p->pump);
        *p->pump = (struct pipe_pump){ .max = cpus > 0 ? (size_t)cpus : 1 };
    }
    struct pump_lane *u = p->pump_failed ? NULL : lane_for(p->pump, p);
    if (!u) {
        p->pump_failed = true; /* the main loop feeds them, as before */
        return false;
    }
    pthread_mutex_lock(&u->mu);
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 8;
        u->it = xrealloc(u->it, u->cap * sizeof *u->it);
    }
    /* Ids grow, and items keep their order: the thread matches its
       events by walking both. */
    u->it[u->n++] = (pump_item){ .seq = seq, .id = u->next_id++, .wfd = wfd, .r = *r,
                                 .state = P_FIRST, .t_full = now(),
                                 .cap = pipesz > 0 ? (size_t)pipesz : 65536, .rate = u->rate };
    pthread_mutex_unlock(&u->mu);
    wake(u);
    return true;
}

bool pipe_pump_take(pipe_in *p, size_t seq, int *wfd, size_t *off, bool *broken)
{
    bool found = false;
    for (size_t l = 0; p->pump && l < p->pump->n && !found; l++) {
        struct pump_lane *u = p->pump->lane[l];
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
    }
    /* A descriptor the thread polls now may be closed by the caller: the
       thread's next round leaves it out (its event, if any, finds no
       item). */
    return found;
}

void pipe_pump_stop(pipe_in *p)
{
    struct pipe_pump *pp = p->pump;
    if (!pp)
        return;
    for (size_t l = 0; l < pp->n; l++)
        lane_stop(pp->lane[l]);
    free(pp->lane);
    free(pp);
    p->pump = NULL;
}
