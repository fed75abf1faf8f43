/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* farm.c: the MPI module of `mproc run --mpi` (mpifarm.h): an MPI pool
 * (libmproc-mpi) whose task runs one job of the command farm in a worker of
 * its rank and returns its output and exit status.
 *
 * Rank 0 makes the pool with no workers of its own (its local jobs are the
 * runner's own slots) and every other rank serves it with -j workers, each
 * running one job at a time: a remote slot is a worker. The job runs as a
 * local one does (spawn.c: its own process group, stdin /dev/null, stdout
 * and stderr on pipes) and --timeout with --termseq is enforced here, on
 * the job's rank. The pool's forwarder adds to an eventfd that the
 * runner's poll loop watches after each round in which outcomes came
 * (mproc__mpi_notify), and the runner collects them itself: the pool's
 * callbacks would wake a thread of theirs for every round, only for it to
 * wake the runner.
 *
 * A worker that is killed (the farm stopped now: --halt now, an interrupt,
 * the launcher ending the rank) must take its job, children and all, with
 * it: each worker has a guard (jobguard.h) that it tells the process group
 * of the job it runs. */
#include "../jobguard.h"
#include "../mpifarm.h"
#include "../spawn.h"
#include "../tool.h"

#include "mproc.h"
#include "mproc/mpi.h"
#include "mpi/mpi_internal.h"
#include "pool_internal.h"
#include "pool_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the task, in a worker of any rank ----------------------------------------- */

typedef struct job_run {
    const mpifarm_job *h;
    const char *shell, *line;
    char **argv;            /* nargv plain words, NULL-terminated */
    char **envp;
    pid_t pid;
    int pidfd, rd[2], wr[2];
    tbuf buf[2];
    double start_mono, start_real, kill_at;
    int step;
    bool timed_out;
} job_run;

/* The request's strings in place; false when they do not add up. */
static bool parse_job(job_run *j, const void *arg, size_t len)
{
    if (len < sizeof(mpifarm_job))
        return false;
    j->h = arg;
    const char *p = (const char *)arg + sizeof(mpifarm_job), *end = (const char *)arg + len;
    size_t nstr = 2 + j->h->nargv + MPIFARM_NENV;
    if (j->h->nargv > MPIFARM_NARGV_MAX || j->h->nterm < 0 || j->h->nterm > MPIFARM_TERMSEQ_MAX)
        return false;
    const char **strs = xmalloc(nstr * sizeof *strs);
    for (size_t k = 0; k < nstr; k++) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z) {
            free(strs);
            return false;
        }
        strs[k] = p;
        p = z + 1;
    }
    j->shell = strs[0];
    j->line = strs[1];
    j->argv = xmalloc((j->h->nargv + 1) * sizeof *j->argv);
    for (size_t k = 0; k < j->h->nargv; k++)
        j->argv[k] = (char *)strs[2 + k];
    j->argv[j->h->nargv] = NULL;
    /* The worker's environment, with the job's PARALLEL_* in place of any
       of its own. */
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    j->envp = xmalloc((n + MPIFARM_NENV + 1) * sizeof *j->envp);
    size_t m = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "PARALLEL_", 9) != 0)
            j->envp[m++] = *e;
    for (size_t k = 0; k < MPIFARM_NENV; k++)
        j->envp[m++] = (char *)strs[2 + j->h->nargv + k];
    j->envp[m] = NULL;
    free(strs);
    return true;
}

/* This worker's guard (jobguard.h), made once (a replaced worker, a copy of
   the process that made the pool, makes its own). */
static jobguard guard = { .fd = -1 };

/* The jobs' stdin, opened once per worker (a replaced worker opens its
   own: the descriptor is not inherited by the worker's children). */
static int null_fd = -1;
static pid_t null_of;

/* This rank's worker count (farm_serve), for the CPU each is held to. */
static long rank_workers;

/* The rank's place among the ranks on its host, from the launcher (Open
   MPI, MPICH's Hydra, Slurm); 0 when none says. */
static long local_rank(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                        "SLURM_LOCALID" };
    for (size_t k = 0; k < sizeof vars / sizeof *vars; k++) {
        const char *v = getenv(vars[k]);
        char *end;
        long r = v && *v ? strtol(v, &end, 10) : -1;
        if (r >= 0 && v && *end == '\0')
            return r;
    }
    return 0;
}

/* Each worker held to one CPU of its rank's, as the local runner is while
   its jobs fill the CPUs (spawncpu.c): the worker creates its job there
   (the job gets every CPU back before its exec) and the job's exit wakes
   the worker there, on the CPU it frees, to start the next one. Left to
   the scheduler, the workers of the ranks sharing a host (and their new
   jobs, created beside them) crowded onto some CPUs while others idled:
   2000 x true at -np 3 on 2 CPUs kept 1.83 of them busy, held 1.94. The
   workers of the host's ranks take its CPUs in turn (worker w of local
   rank l: the (l * workers + w)-th, round), so that ranks sharing a CPU set
   spread over it; a rank bound to one CPU holds nobody. */
static spawn_cpus cpus;

static void hold_worker(unsigned place)
{
    if (spawn_cpus_init(&cpus) < 0)
        return;
    spawn_cpus_hold(&cpus, local_rank() * rank_workers + (long)place);
}

static int start(job_run *j)
{
    if (null_of != getpid()) {
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
            return -errno;
        null_of = getpid();
    }
    int null = null_fd;
    int err = 0;
    for (int k = 0; k < 2; k++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
            err = -errno;
            goto out;
        }
        j->rd[k] = p[0];
        j->wr[k] = p[1];
    }
    sigset_t none;
    sigemptyset(&none);
    spawn_plan plan = { .fd0 = null, .fd1 = j->wr[0], .fd2 = j->wr[1], .mask = &none,
                        .reset_sigpipe = j->h->reset_sigpipe != 0, .envp = j->envp,
                        .cpus = &cpus };
    j->start_real = real_now();
    j->start_mono = mono();
    /* As locally: plain words run without the shell, and when their program
       cannot run the shell says so in its own words. */
    err = -ENOENT;
    if (j->h->nargv > 0) {
        const char *path = spawn_resolve(j->argv[0]);
        if (path)
            err = spawn_job(&plan, path, j->argv, &j->pid, &j->pidfd);
    }
    if (err < 0) {
        char *sh_argv[] = { (char *)j->shell, "-c", (char *)j->line, NULL };
        err = spawn_job(&plan, j->shell, sh_argv, &j->pid, &j->pidfd);
    }
out:
    return err;
}

static void drain(job_run *j, int k)
{
    char b[65536];
    while (j->rd[k] >= 0) {
        ssize_t n = read(j->rd[k], b, sizeof b);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN) {
                close(j->rd[k]);
                j->rd[k] = -1;
            }
            return;
        }
        tbuf_add(&j->buf[k], b, (size_t)n);
    }
}

/* --timeout, then each --termseq step as its time comes. */
static void on_deadline(job_run *j, double t)
{
    const mpifarm_job *h = j->h;
    if (!j->timed_out) {
        if (h->timeout <= 0 || t < j->start_mono + h->timeout)
            return;
        j->timed_out = true;
        kill(-j->pid, h->nterm > 0 ? h->term_sig[0] : SIGTERM);
        j->step = 1;
        j->kill_at = t + (h->nterm > 0 ? h->term_ms[0] : 0) / 1000.0;
    } else if (t >= j->kill_at) {
        if (j->step < h->nterm) {
            kill(-j->pid, h->term_sig[j->step]);
            j->kill_at = t + h->term_ms[j->step] / 1000.0;
            j->step++;
        } else {
            kill(-j->pid, SIGKILL);
            j->kill_at = INFINITY;
        }
    }
}

static int wait_job(job_run *j, siginfo_t *si)
{
    for (;;) {
        double t = mono();
        on_deadline(j, t);
        double next = j->timed_out ? j->kill_at
                      : j->h->timeout > 0 ? j->start_mono + j->h->timeout : INFINITY;
        int ms = -1;
        if (next != INFINITY)
            ms = next <= t ? 0 : (int)ceil((next - t) * 1000.0);
        struct pollfd pfd[3] = { { .fd = j->pidfd, .events = POLLIN },
                                 { .fd = j->rd[0], .events = POLLIN },
                                 { .fd = j->rd[1], .events = POLLIN } };
        int n = poll(pfd, 3, ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        for (int k = 0; k < 2; k++)
            if (pfd[1 + k].revents)
                drain(j, k);
        if (pfd[0].revents) {
            memset(si, 0, sizeof *si);
            if (waitid((idtype_t)P_PIDFD, (id_t)j->pidfd, si, WEXITED | WNOHANG) < 0)
                return -errno;
            if (si->si_pid != 0)
                return 0;
        }
    }
}

/* Once per worker process (a replaced worker does it for itself: neither
   setting is inherited): short slices, as for the runner
   (spawn_prefer_latency), as it only reaps and starts its jobs and, while
   the rank's jobs fill the CPUs, its wakeup for the end of one must not
   wait behind another job; and its CPU (hold_worker). */
static void worker_setup(unsigned place)
{
    static pid_t done_for;
    pid_t me = getpid();
    if (done_for == me)
        return;
    done_for = me;
    spawn_prefer_latency();
    hold_worker(place);
}

static int farm_task(const void *arg, size_t len, mproc_out *out)
{
    job_run j = { .pidfd = -1, .rd = { -1, -1 }, .wr = { -1, -1 }, .kill_at = INFINITY };
    int err = -EINVAL;
    if (!parse_job(&j, arg, len))
        goto out;
    /* The guard is there before the job is, so that no job of a worker
       killed at any time outlives it (without one the job still runs). */
    if (!jobguard_mine(&guard))
        (void)jobguard_start(&guard, 1);
    worker_setup(out->place);
    if ((err = start(&j)) < 0)
        goto out;
    siginfo_t si;
    jobguard_tell(&guard, 0, j.pid);
    err = wait_job(&j, &si);
    jobguard_tell(&guard, 0, 0);
    /* Everything the job wrote is in its pipes by now; our write ends kept
       them from ending while it ran, so a background child that keeps them
       open cannot hold the job back. */
    drain(&j, 0);
    drain(&j, 1);
    if (j.timed_out)
        kill(-j.pid, SIGKILL);
    if (err < 0)
        goto out;
    mpifarm_done d = { .start_real = j.start_real, .runtime = mono() - j.start_mono,
                       .outlen = j.buf[0].len, .errlen = j.buf[1].len,
                       .received = j.buf[0].len, .timed_out = j.timed_out };
    if (si.si_code == CLD_EXITED)
        d.exitval = si.si_status;
    else
        d.sig = si.si_status;
    /* The rank's host name, asked once per worker. */
    static char host[256];
    if (!host[0])
        gethostname(host, sizeof host - 1);
    if ((err = mproc_out_write(out, &d, sizeof d)) < 0 ||
        (err = mproc_out_write(out, j.buf[0].p, j.buf[0].len)) < 0 ||
        (err = mproc_out_write(out, j.buf[1].p, j.buf[1].len)) < 0 ||
        (err = mproc_out_write(out, host, strlen(host) + 1)) < 0)
        goto out;
out:
    if (j.pidfd >= 0)
        close(j.pidfd);
    for (int k = 0; k < 2; k++) {
        if (j.rd[k] >= 0)
            close(j.rd[k]);
        if (j.wr[k] >= 0)
            close(j.wr[k]);
        tbuf_free(&j.buf[k]);
    }
    free(j.argv);
    free(j.envp);
    return err < 0 ? -err : 0;
}

/* ---- rank 0: the farm --------------------------------------------------------- */

typedef struct outcome {
    size_t tag;
    mproc_result *res;
} outcome;

struct mpifarm {
    mproc_pool *pool;
    int efd;
    outcome *pend;      /* submitted, not yet found finished, oldest first */
    size_t npend, cappend;
    outcome *done;      /* found finished, not yet taken */
    size_t head, ndone, capdone;
    mproc_result *cur;  /* the one take handed out last */
};

static int farm_rank(void)
{
    return mproc_mpi_rank();
}

static int farm_size(void)
{
    return mproc_mpi_size();
}

static int farm_serve(long jobs)
{
    mproc_mpi_opts o = { .pool.processes = (int)(jobs > 4096 ? 4096 : jobs) };
    rank_workers = o.pool.processes;
    mproc_pool *p = NULL;
    mproc__mpi_hub_pace();
    /* The hub too wakes only to pass tasks and outcomes on. */
    spawn_prefer_latency();
    int err = mproc_mpi_pool_new(&p, &o, NULL, NULL);
    /* Only a failed start returns here (the other ranks fail alike). */
    return err < 0 ? err : -EPROTO;
}

static int farm_start(mpifarm **out, long *slots)
{
    mpifarm *f = xmalloc(sizeof *f);
    memset(f, 0, sizeof *f);
    f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (f->efd < 0) {
        int err = -errno;
        free(f);
        return err;
    }
    /* The pool's threads start with every signal blocked, so that the
       runner's interrupts still reach only its signalfd. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    mproc_mpi_opts o = { .owner_processes = -1 };
    int err = mproc_mpi_pool_new(&f->pool, &o, NULL, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err < 0) {
        close(f->efd);
        free(f);
        return err;
    }
    /* Rank 0's CPUs run the runner's own jobs. */
    mproc__mpi_share_cpu(f->pool);
    mproc__mpi_notify(f->pool, f->efd);
    pthread_mutex_lock(&f->pool->mu);
    *slots = f->pool->nprocs;
    pthread_mutex_unlock(&f->pool->mu);
    *out = f;
    return 0;
}

static void append(outcome **v, size_t *n, size_t *cap, outcome o)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = o;
}

static int farm_submit(mpifarm *f, size_t tag, const void *job, size_t len)
{
    mproc_result *r;
    int err = mproc_pool_apply_async(f->pool, farm_task, job, len, &r);
    if (err == 0)
        append(&f->pend, &f->npend, &f->cappend, (outcome){ .tag = tag, .res = r });
    return err;
}

static int farm_fd(const mpifarm *f)
{
    return f->efd;
}

/* The eventfd cleared first, then what the forwarder posted collected once
   and the submitted jobs looked at: an outcome posted after the collect
   writes to it again. Nothing to clear, nothing was posted since the last
   look. The look is one load a job, as the remote slots can be thousands. */
static void find_done(mpifarm *f)
{
    uint64_t v;
    f->head = f->ndone = 0;
    if (read(f->efd, &v, sizeof v) != (ssize_t)sizeof v)
        return;
    pthread_mutex_lock(&f->pool->mu);
    mproc__pool_collect(f->pool);
    pthread_mutex_unlock(&f->pool->mu);
    size_t k = 0;
    for (size_t i = 0; i < f->npend; i++) {
        if (atomic_load(&f->pend[i].res->ready))
            append(&f->done, &f->ndone, &f->capdone, f->pend[i]);
        else
            f->pend[k++] = f->pend[i];
    }
    f->npend = k;
}

static int farm_take(mpifarm *f, size_t *tag, const void **data, size_t *len, int *code)
{
    if (f->cur)
        mproc_result_free(f->cur);
    f->cur = NULL;
    if (f->head == f->ndone)
        find_done(f);
    if (f->head == f->ndone)
        return 0;
    outcome o = f->done[f->head++];
    f->cur = o.res;
    *tag = o.tag;
    *data = NULL;
    *len = 0;
    *code = mproc_result_get(o.res, 0, data, len);
    if (*code == MPROC_ETASK)
        *code = -mproc_result_code(o.res);
    return 1;
}

static void farm_drop(mpifarm *f)
{
    mproc__mpi_drop_waiting(f->pool);
}

static void farm_stop(mpifarm *f, bool now)
{
    if (now) {
        mproc_pool_terminate(f->pool);
    } else {
        mproc_pool_close(f->pool);
        mproc_pool_join(f->pool);
    }
}

static void farm_free(mpifarm *f)
{
    if (!f)
        return;
    mproc__mpi_notify(f->pool, -1);
    mproc_pool_free(f->pool);
    if (f->cur)
        mproc_result_free(f->cur);
    for (size_t k = f->head; k < f->ndone; k++)
        mproc_result_free(f->done[k].res);
    for (size_t k = 0; k < f->npend; k++)
        mproc_result_free(f->pend[k].res);
    free(f->done);
    free(f->pend);
    close(f->efd);
    free(f);
}

static const mpifarm_api api = {
    .version = MPIFARM_VERSION,
    .impl = MPROC_MPIFARM_IMPL,
    .rank = farm_rank,
    .size = farm_size,
    .serve = farm_serve,
    .start = farm_start,
    .submit = farm_submit,
    .fd = farm_fd,
    .take = farm_take,
    .drop = farm_drop,
    .stop = farm_stop,
    .free = farm_free,
};

__attribute__((visibility("default"))) const mpifarm_api *mproc_mpifarm_api(void);
const mpifarm_api *mproc_mpifarm_api(void)
{
    return &api;
}
