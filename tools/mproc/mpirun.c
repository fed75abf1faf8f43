/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpirun.c: `mproc run --mpi`: the ranks of an MPI job as slots of the one
 * runner.
 *
 * DESIGN. Every rank runs the same command line. The options are checked
 * alike on every rank, before any of them starts MPI, so that a usage
 * error ends them all. Then every rank but 0 hands itself to the MPI
 * module (mpifarm.h, loaded with dlopen: the tool itself never links MPI)
 * and serves, with -j workers, until rank 0 is done; rank 0 reads the
 * inputs and runs the ordinary slot loop (run.c) over its own -j slots
 * (unless --mpi-no-local) followed by MPI_AHEAD slots per worker of the
 * others (a job is sent ahead, to wait on its rank for a worker).
 * A job in such a slot is sent instead of spawned (mpi_spawn), its outcome
 * (output, exit status, start and run time, host) comes back on one
 * descriptor the loop polls (mpi_collect) and finishes as a local one does
 * (job_ended): -k, --tag, the joblog, --halt, --retries, --resume and the
 * exit status are the runner's, unchanged. --timeout is enforced on the
 * job's rank, with --termseq. Ending every job now (--halt now, an
 * interrupt) stops the farm, whose workers take their jobs with them.
 *
 * A job sees the descriptors a local one does: those we were started with
 * (0-2 and whatever else our parent left open, as GNU parallel passes
 * them on). Open MPI's start on rank 0 opens sockets (to its launcher)
 * without close-on-exec, which rank 0's own jobs would inherit and keep
 * open; they are made close-on-exec once MPI has started (the other ranks'
 * jobs come from workers forked before MPI starts).
 *
 * Outside an MPI job, or in a world of one rank, --mpi runs locally.
 */
#include "runloop.h"
#include "jobguard.h"
#include "mpifarm.h"

#include "mproc.h"

#include <assert.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Jobs in flight per worker of the other ranks: one running and the rest
   waiting there, so that a worker starts the next job the moment one ends
   instead of a round trip to rank 0 later. Rank 0's forwarder and the
   hubs poll once a millisecond (MPROC__PACE: each wakeup costs CPU the
   jobs need), so that round trip takes a few milliseconds, more on a
   loaded machine, where each poll's wakeup waits for a CPU too: with four
   waiting the workers of 2000 x true on 2 cores still ran dry (a polling
   worker's sched_yield, thousands a run), with seven they seldom do.
   Each is a slot of the runner's. */
#define MPI_AHEAD 8

struct mpirun {
    const mpifarm_api *api;
    mpifarm *farm;
    bool started, stopped;
    bool dropped;       /* the jobs sent ahead were dropped: no more start */
    long nlocal, nslots;
    char **hosts;       /* by slot: where its last job ran */
    char host[256];     /* rank 0's */
    tbuf job;           /* a job's bytes, reused */
    jobguard guard;     /* rank 0's own jobs go with rank 0 */
    int *inherited;     /* the descriptors past 2 we were started with, open across exec */
    size_t ninherited;
};

/* The descriptors past 2 open across exec (no FD_CLOEXEC), ascending,
   into a new array; 0, or -errno. */
static int exec_fds(int **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    DIR *d = opendir("/proc/self/fd"); /* close-on-exec */
    if (!d)
        return -errno;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd <= 2 || fd == dirfd(d))
            continue;
        int fl = fcntl((int)fd, F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        size_t k = (*n)++;
        for (; k > 0 && (*out)[k - 1] > fd; k--)
            (*out)[k] = (*out)[k - 1];
        (*out)[k] = (int)fd;
    }
    closedir(d);
    return 0;
}

/* Every descriptor open across exec that we were not started with (MPI's)
   made close-on-exec, so that no job inherits it. */
static void cloexec_since(const struct mpirun *m)
{
    int *now;
    size_t n;
    if (exec_fds(&now, &n) < 0)
        return; /* no /proc: the jobs inherit them, as they would anyway */
    for (size_t i = 0, k = 0; i < n; i++) {
        while (k < m->ninherited && m->inherited[k] < now[i])
            k++;
        if (k == m->ninherited || m->inherited[k] != now[i])
            (void)fcntl(now[i], F_SETFD, FD_CLOEXEC);
    }
    free(now);
}

/* The module for the launcher of this process: Open MPI's sets OMPI_* (and
   PMIX_RANK under srun), MPICH's Hydra PMI_RANK; with neither any module
   serves (there is no MPI job: the run is local). */
static const char *const IMPL_OMPI[] = { "openmpi", NULL };
static const char *const IMPL_MPICH[] = { "mpich", NULL };
static const char *const IMPL_ANY[] = { "openmpi", "mpich", NULL };

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

static const mpifarm_api *load_module(const char **want)
{
    const char *const *impls = IMPL_ANY;
    if (env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK"))
        impls = IMPL_OMPI;
    else if (env_set("PMI_RANK") || env_set("PMI_SIZE"))
        impls = IMPL_MPICH;
    *want = impls == IMPL_MPICH ? "MPICH" : impls == IMPL_OMPI ? "Open MPI" : "MPI";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* Beside the tool (the build tree), then where it is installed,
       relative to the tool, so that any install prefix finds its own. */
    tbuf inst = { 0 };
#ifdef MPROC_MODULE_RELDIR
    tbuf_addf(&inst, "%s/%s", exe, MPROC_MODULE_RELDIR);
#endif
    const char *dirs[] = { exe, tbuf_cstr(&inst), NULL };
    const mpifarm_api *found = NULL;
    for (size_t i = 0; impls[i]; i++) {
        for (size_t d = 0; dirs[d]; d++) {
            if (!dirs[d][0])
                continue;
            tbuf path = { 0 };
            tbuf_addf(&path, "%s/mproc-run-mpi-%s.so", dirs[d], impls[i]);
            /* Global: Open MPI's own plugins look for its symbols there. */
            void *h = access(path.p, R_OK) == 0 ? dlopen(path.p, RTLD_NOW | RTLD_GLOBAL) : NULL;
            tbuf_free(&path);
            if (!h)
                continue;
            mpifarm_api_fn fn = (mpifarm_api_fn)dlsym(h, MPIFARM_SYMBOL);
            const mpifarm_api *api = fn ? fn() : NULL;
            if (api && api->version == MPIFARM_VERSION) {
                found = api; /* never unloaded: MPI is not made to be */
                goto out;
            }
            dlclose(h);
        }
    }
out:
    tbuf_free(&inst);
    return found;
}

int mpi_enter(run *r, int *rc)
{
    /* The same on every rank, before any starts MPI. */
    if (r->o.pipe.on) {
        *rc = run_usage_error("--mpi with --pipe is not supported by mproc");
        return -1;
    }
    if (r->o.jobs_file) {
        /* The other ranks' slots are counted once, when the farm starts. */
        *rc = run_usage_error("--mpi with -j FILE is not supported by mproc");
        return -1;
    }
    /* Before anything of MPI is loaded. */
    int *inherited;
    size_t ninherited;
    (void)exec_fds(&inherited, &ninherited);
    const char *want;
    const mpifarm_api *api = load_module(&want);
    if (!api || api->size() <= 1 || api->rank() != 0)
        free(inherited);
    if (!api) {
        *rc = run_usage_error("--mpi: this mproc was built without libmproc-mpi for %s", want);
        return -1;
    }
    if (api->size() <= 1)
        return 0; /* no MPI job: the run is local */
    if (api->rank() != 0) {
        long j = r->o.jobs > 0 ? r->o.jobs : mproc_cpu_count();
        /* --nice: the workers, and so their jobs, inherit it. */
        if (r->o.nice != 0)
            (void)setpriority(PRIO_PROCESS, 0, r->o.nice);
        int err = api->serve(j);
        fprintf(stderr, "mproc run: --mpi: rank %d: %s\n", api->rank(), mproc_strerror(err));
        *rc = TOOL_EXIT_USAGE;
        return -1;
    }
    r->mpi = xmalloc(sizeof *r->mpi);
    memset(r->mpi, 0, sizeof *r->mpi);
    r->mpi->guard.fd = -1;
    r->mpi->api = api;
    r->mpi->inherited = inherited;
    r->mpi->ninherited = ninherited;
    gethostname(r->mpi->host, sizeof r->mpi->host - 1);
    return 0;
}

int mpi_begin(run *r, long *nslots, int *rc)
{
    struct mpirun *m = r->mpi;
    long remote = 0;
    /* Before the farm's threads: the guard is forked from one thread. The
       launcher may SIGKILL rank 0 before it has read its interrupt (Open
       MPI's mpirun does as soon as another rank has died): the guard then
       ends rank 0's own jobs, as the workers' guards end theirs. Without
       one (no process to spare) the jobs still run. */
    if (!r->o.mpi_no_local)
        (void)jobguard_start(&m->guard, (size_t)*nslots);
    int err = m->api->start(&m->farm, &remote);
    m->started = true;
    cloexec_since(m);
    if (err < 0) {
        m->farm = NULL;
        fprintf(stderr, "mproc run: --mpi: %s\n", mproc_strerror(err));
        *rc = TOOL_EXIT_USAGE;
        return -1;
    }
    m->nlocal = r->o.mpi_no_local ? 0 : *nslots;
    m->nslots = m->nlocal + remote * MPI_AHEAD;
    if (m->nslots < 1) {
        fprintf(stderr, "mproc run: --mpi-no-local: no other rank runs jobs\n");
        *rc = TOOL_EXIT_USAGE;
        return -1;
    }
    m->hosts = xmalloc((size_t)m->nslots * sizeof *m->hosts);
    memset(m->hosts, 0, (size_t)m->nslots * sizeof *m->hosts);
    *nslots = m->nslots;
    return 0;
}

bool mpi_remote(const run *r, const slot *s)
{
    /* The other ranks' slots follow rank 0's first nlocal ones; any slot
       past them is rank 0's again. */
    long si = (long)(s - r->slots);
    return r->mpi && r->mpi->farm && si >= r->mpi->nlocal && si < r->mpi->nslots;
}

int mpi_spawn(run *r, slot *s, pid_t *pid, int *pidfd)
{
    struct mpirun *m = r->mpi;
    long si = (long)(s - r->slots);
    job_exec x;
    job_exec_prepare(r, s, &x);
    double tmo = throttle_timeout(&r->th, &r->o);
    mpifarm_job h = { .seq = s->seq, .timeout = isfinite(tmo) ? tmo : 0,
                      .nterm = r->o.nterm, .reset_sigpipe = r->reset_pipe };
    for (int k = 0; k < r->o.nterm && k < MPIFARM_TERMSEQ_MAX; k++) {
        h.term_sig[k] = r->o.term_sig[k];
        h.term_ms[k] = r->o.term_ms[k];
    }
    if (x.plain)
        while (x.argv[h.nargv])
            h.nargv++;
    if (h.nargv > MPIFARM_NARGV_MAX)
        h.nargv = 0; /* the shell runs the line */
    tbuf *b = &m->job;
    b->len = 0;
    tbuf_add(b, &h, sizeof h);
    tbuf_add(b, r->shell, strlen(r->shell) + 1);
    tbuf_add(b, x.sh_argv[2], strlen(x.sh_argv[2]) + 1);
    for (uint32_t k = 0; k < h.nargv; k++)
        tbuf_add(b, x.argv[k], strlen(x.argv[k]) + 1);
    /* The job's PARALLEL_* variables, as a local job of this slot gets them. */
    jobenv_set(&r->env, s->seq, (int)si + 1);
    const char *vars[MPIFARM_NENV] = { r->env.seq, r->env.slot, r->env.owned[0], r->env.owned[1],
                                       r->env.owned[2] };
    for (size_t k = 0; k < MPIFARM_NENV; k++)
        tbuf_add(b, vars[k], strlen(vars[k]) + 1);
    job_exec_free(&x);
    *pid = 0;
    *pidfd = -1;
    return m->api->submit(m->farm, (size_t)si, b->p, b->len);
}

int mpi_fd(const run *r)
{
    struct mpirun *m = r->mpi;
    if (!m || !m->farm || m->stopped)
        return -1;
    /* Asked before every wait of the loop: where the farm learns that the
       runner starts no more jobs (--halt soon, output gone), so that the
       jobs sent ahead and still waiting on their ranks never start, as a
       job not yet started locally would not. */
    if (r->stop && !m->dropped) {
        m->dropped = true;
        m->api->drop(m->farm);
    }
    return m->api->fd(m->farm);
}

/* One outcome's bytes into its slot; false when they do not add up. */
static bool unpack(struct mpirun *m, slot *s, long si, const char *p, size_t len,
                   mpifarm_done *d)
{
    if (len < sizeof *d)
        return false;
    memcpy(d, p, sizeof *d);
    p += sizeof *d;
    len -= sizeof *d;
    if (d->outlen > len || d->errlen > len - d->outlen)
        return false;
    const char *host = p + d->outlen + d->errlen;
    size_t hlen = len - d->outlen - d->errlen;
    if (hlen == 0 || host[hlen - 1] != '\0')
        return false;
    s->out.len = s->err.len = 0;
    tbuf_add(&s->out, p, d->outlen);
    tbuf_add(&s->err, p + d->outlen, d->errlen);
    s->received = d->received;
    s->start_real = d->start_real;
    s->timed_out = d->timed_out != 0;
    if (!m->hosts[si] || strcmp(m->hosts[si], host) != 0) {
        free(m->hosts[si]);
        m->hosts[si] = xstrdup(host);
    }
    return true;
}

int mpi_collect(run *r)
{
    struct mpirun *m = r->mpi;
    size_t tag, len;
    const void *data;
    int code;
    while (!m->stopped && m->api->take(m->farm, &tag, &data, &len, &code) > 0) {
        assert(tag < (size_t)r->nslots);
        slot *s = &r->slots[tag];
        if (!s->busy)
            continue; /* ended by mpi_cancel */
        s->busy = false;
        r->running--;
        if (s->cancelled)
            continue;
        if (code == -ECANCELED && m->dropped) {
            /* Sent ahead, dropped before it started: it never ran. */
            if (r->o.keep) {
                r->pend[s->seq - 1].done = true;
                print_ready(r);
            }
            continue;
        }
        mpifarm_done d;
        if (code < 0 || !unpack(m, s, (long)tag, data, len, &d)) {
            fprintf(stderr, "mproc run: --mpi: a job's rank failed to run it: %s\n",
                    mproc_strerror(code < 0 ? code : -EPROTO));
            return ERR_REPORTED;
        }
        if (s->timed_out)
            warn_timeout(s);
        int err = job_ended(r, (long)tag, d.exitval, d.sig, d.runtime);
        if (err < 0)
            return err;
    }
    return 0;
}

void mpi_cancel(run *r)
{
    struct mpirun *m = r->mpi;
    if (!m || !m->farm || m->stopped)
        return;
    m->stopped = true;
    m->api->stop(m->farm, true);
    for (long i = m->nlocal; i < m->nslots; i++) {
        slot *s = &r->slots[i];
        if (!s->busy)
            continue;
        s->busy = false;
        s->cancelled = true;
        r->running--;
    }
}

void mpi_local_job(run *r, const slot *s, pid_t pgid)
{
    size_t si = (size_t)(s - r->slots);
    if (r->mpi && !mpi_remote(r, s))
        jobguard_tell(&r->mpi->guard, si, pgid);
}

const char *mpi_host(const run *r, const slot *s)
{
    const struct mpirun *m = r->mpi;
    if (!m || !m->farm)
        return NULL;
    long si = (long)(s - r->slots);
    return !mpi_remote(r, s) || !m->hosts[si] ? m->host : m->hosts[si];
}

void mpi_end(run *r)
{
    struct mpirun *m = r->mpi;
    if (!m)
        return;
    if (!m->started) {
        /* Rank 0 ends before its first job: the others wait for it in
           their start, which only the farm's start and stop release. */
        long remote;
        if (m->api->start(&m->farm, &remote) < 0)
            m->farm = NULL;
    }
    if (m->farm) {
        if (!m->stopped)
            m->api->stop(m->farm, false);
        m->api->free(m->farm);
    }
    jobguard_end(&m->guard);
    for (long i = 0; m->hosts && i < m->nslots; i++)
        free(m->hosts[i]);
    free(m->hosts);
    free(m->inherited);
    tbuf_free(&m->job);
    free(m);
    r->mpi = NULL;
}
