/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* process.c: process objects (multiprocessing.Process): start, join, signal,
 * exit codes, daemons, and what happens to children at exit.
 *
 * DESIGN. Each started child is pinned by a pidfd: join is a poll(2) on it,
 * signals go through pidfd_send_signal, and the reap is a waitid on that one
 * child, so no SIGCHLD handler is needed and no signal can reach a recycled
 * PID. The object's mutex orders the reap against signals and status reads
 * from any number of threads; the pidfd stays open until the object is freed
 * so a thread still polling it never polls a reused descriptor.
 *
 * Daemons die with the parent process through PR_SET_PDEATHSIG. The kernel
 * sends that signal when the *thread* that forked exits (the main thread
 * too, when it leaves by pthread_exit and the program goes on), so every
 * daemon is forked by a library thread that lives as long as the process
 * (the "forker").
 */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ST_NEW, ST_RUNNING, ST_REAPED };

struct mproc_process {
    pthread_mutex_t mu;
    mproc_target_fn target;
    void *arg;
    char *name;
    char *ident; /* "N" or "N:K": Python's _identity, for default names */
    bool daemon;
    bool keep_stdin;
    int state;
    pid_t pid;
    pid_t owner; /* the process that started it: only it may wait or signal */
    int pidfd;   /* -1 where the kernel has no pidfds */
    int code;
    mproc_process *prev, *next; /* the registry of started, unfreed objects */
    bool listed;
};

/* ---- per-process state ---------------------------------------------------- */

static mproc_process main_process = { .mu = PTHREAD_MUTEX_INITIALIZER, .name = "MainProcess",
                                      .state = ST_RUNNING, .pidfd = -1 };

/* The forker thread, which forks every daemon. */
typedef struct fork_req {
    mproc_process *p;
    int devnull;
    sigset_t child_mask;
    pid_t result;
    bool done;
} fork_req;

/* Everything a child writes of this module's state lives in one page: after
   fork every page either side writes is copied, and each copy costs more
   than the rest of a start. */
static struct {
    pthread_mutex_t reg_mu;
    mproc_process *reg_head;
    mproc_process *current;
    atomic_uint counter;
    /* the forker thread */
    pthread_mutex_t fk_mu;
    pthread_cond_t fk_cv;
    pthread_mutex_t fk_serial;
    fork_req *fk_pending;
    bool fk_started;
} st __attribute__((aligned(4096))) = {
    .reg_mu = PTHREAD_MUTEX_INITIALIZER,
    .fk_mu = PTHREAD_MUTEX_INITIALIZER,
    .fk_cv = PTHREAD_COND_INITIALIZER,
    .fk_serial = PTHREAD_MUTEX_INITIALIZER,
};

static void exit_children(void);

/* In a child: the parent's process objects, forker thread and locks are not
   ours. Runs for every fork (pthread_atfork), mproc_fork and raw fork alike. */
static void after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cv = PTHREAD_COND_INITIALIZER;
    st.reg_mu = fresh;
    st.fk_mu = fresh;
    st.fk_serial = fresh;
    st.fk_cv = fresh_cv;
    st.reg_head = NULL;
    st.fk_pending = NULL;
    st.fk_started = false;
}

__attribute__((constructor)) static void process_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
    atexit(exit_children);
}

/* ---- registry ---------------------------------------------------------------- */

static void reg_add(mproc_process *p)
{
    pthread_mutex_lock(&st.reg_mu);
    p->prev = NULL;
    p->next = st.reg_head;
    if (st.reg_head)
        st.reg_head->prev = p;
    st.reg_head = p;
    p->listed = true;
    pthread_mutex_unlock(&st.reg_mu);
}

static void reg_remove(mproc_process *p)
{
    pthread_mutex_lock(&st.reg_mu);
    /* A copy inherited through fork is listed in the parent's registry, not
       in ours. */
    if (p->listed && p->owner == getpid()) {
        if (p->prev)
            p->prev->next = p->next;
        else
            st.reg_head = p->next;
        if (p->next)
            p->next->prev = p->prev;
        p->listed = false;
    }
    pthread_mutex_unlock(&st.reg_mu);
}

/* A snapshot of the registry; the caller frees the array. */
static mproc_process **reg_snapshot(size_t *n)
{
    pthread_mutex_lock(&st.reg_mu);
    size_t count = 0;
    for (mproc_process *p = st.reg_head; p; p = p->next)
        count++;
    mproc_process **v = malloc((count ? count : 1) * sizeof *v);
    size_t i = 0;
    if (v)
        for (mproc_process *p = st.reg_head; p; p = p->next)
            v[i++] = p;
    pthread_mutex_unlock(&st.reg_mu);
    *n = v ? count : 0;
    return v;
}

/* The object of the calling process itself: MainProcess, or in a child its
   own copy of the object that started it, whose mutex may have been copied
   locked by the fork. It is running, and nothing may wait for or free it. */
static bool is_self(const mproc_process *p)
{
    return p == &main_process || p == st.current;
}

/* ---- objects ------------------------------------------------------------------ */

int mproc_process_new(mproc_process **out, mproc_target_fn target, void *arg,
                      const mproc_process_opts *opts)
{
    if (!out || !target)
        return -EINVAL;
    mproc_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    p->target = target;
    p->arg = arg;
    p->pidfd = -1;
    p->state = ST_NEW;
    unsigned n = atomic_fetch_add(&st.counter, 1) + 1;
    char ident[160];
    /* In a child started here, st.current is its own object: its identity
       prefixes its children's. */
    if (st.current)
        snprintf(ident, sizeof ident, "%.100s:%u", st.current->ident, n);
    else
        snprintf(ident, sizeof ident, "%u", n);
    p->ident = strdup(ident);
    if (opts && opts->name) {
        p->name = strdup(opts->name);
    } else if (p->ident) {
        size_t len = strlen(p->ident) + sizeof "Process-";
        p->name = malloc(len);
        if (p->name)
            snprintf(p->name, len, "Process-%s", p->ident);
    }
    if (!p->ident || !p->name) {
        mproc_process_free(p);
        return -ENOMEM;
    }
    if (opts) {
        p->daemon = opts->daemon;
        p->keep_stdin = opts->keep_stdin;
    }
    *out = p;
    return 0;
}

/* ---- the child side ----------------------------------------------------------- */

/* Everything the child does before the target runs. After a fork from a
   multithreaded parent only async-signal-safe calls are allowed here; the
   target itself is the user's code, run as Python runs it. */
static _Noreturn void child_main(mproc_process *p, pid_t parent, int devnull,
                                 const sigset_t *mask)
{
    if (p->daemon) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The parent may have died before the death signal was armed. */
        if (getppid() != parent)
            _exit(128 + SIGKILL);
    }
    /* Cannot fail: the descriptor exists and 0 is below any limit. */
    if (devnull >= 0)
        (void)mproc__stdin_from(devnull);
    st.current = p;
    atomic_store(&st.counter, 0);
    mproc__restore_mask(mask);
    int rc = p->target(p->arg);
    /* As Python's _bootstrap: our own children are seen to before we go. */
    exit_children();
    mproc__child_leave(rc);
}

/* Forks p's child from the calling thread, devnull (or -1) to become its
   stdin. Returns the PID or -errno. */
static pid_t fork_child(mproc_process *p, int devnull, const sigset_t *child_mask)
{
    pid_t parent = getpid();
    sigset_t old;
    mproc__block_all(&old);
    mproc__fork_begin();
    pid_t pid = fork();
    if (pid == 0)
        child_main(p, parent, devnull, child_mask);
    int err = pid < 0 ? mproc__err() : 0;
    if (pid > 0)
        mproc__child_own(pid);
    mproc__fork_end();
    mproc__restore_mask(&old);
    return err < 0 ? err : pid;
}

static void *forker_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&st.fk_mu);
    for (;;) {
        while (!st.fk_pending)
            pthread_cond_wait(&st.fk_cv, &st.fk_mu);
        fork_req *req = st.fk_pending;
        st.fk_pending = NULL;
        pthread_mutex_unlock(&st.fk_mu);
        pid_t pid = fork_child(req->p, req->devnull, &req->child_mask);
        pthread_mutex_lock(&st.fk_mu);
        req->result = pid;
        req->done = true;
        pthread_cond_broadcast(&st.fk_cv);
    }
    return NULL;
}

/* Forks through the forker thread, started on first use with every signal
   blocked so that it never takes a signal meant for the program. */
static pid_t fork_from_forker(mproc_process *p, int devnull)
{
    fork_req req = { .p = p, .devnull = devnull };
    pthread_sigmask(SIG_SETMASK, NULL, &req.child_mask);
    pthread_mutex_lock(&st.fk_serial);
    pthread_mutex_lock(&st.fk_mu);
    if (!st.fk_started) {
        sigset_t old;
        mproc__block_all(&old);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int e = pthread_create(&t, &attr, forker_main, NULL);
        pthread_attr_destroy(&attr);
        mproc__restore_mask(&old);
        if (e) {
            pthread_mutex_unlock(&st.fk_mu);
            pthread_mutex_unlock(&st.fk_serial);
            return -e;
        }
        st.fk_started = true;
    }
    st.fk_pending = &req;
    pthread_cond_broadcast(&st.fk_cv);
    while (!req.done)
        pthread_cond_wait(&st.fk_cv, &st.fk_mu);
    pthread_mutex_unlock(&st.fk_mu);
    pthread_mutex_unlock(&st.fk_serial);
    return req.result;
}

int mproc_process_start(mproc_process *p)
{
    if (!p)
        return -EINVAL;
    if (is_self(p))
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    int err = 0, devnull = -1;
    if (p->state != ST_NEW) {
        err = -EINVAL;
        goto out;
    }
    /* Only stdout and stderr: they are all the child flushes on its way out
       (as Python's child does), so no other stream's buffer can be written
       twice. */
    mproc__flush_std();
    /* Opened here, not in the child: a child without a free descriptor
       could only die before the target ran, and the start would look like
       a success. */
    if (!p->keep_stdin) {
        devnull = mproc__devnull_open();
        if (devnull < 0) {
            err = devnull;
            goto out;
        }
    }
    pid_t pid;
    if (p->daemon) {
        pid = fork_from_forker(p, devnull);
    } else {
        sigset_t mask;
        pthread_sigmask(SIG_SETMASK, NULL, &mask);
        pid = fork_child(p, devnull, &mask);
    }
    mproc__close(devnull);
    devnull = -1;
    if (pid < 0) {
        err = pid;
        goto out;
    }
    p->pid = pid;
    p->owner = getpid();
    int fd = mproc__pidfd_open(pid);
    p->pidfd = fd >= 0 ? fd : -1;
    p->state = ST_RUNNING;
    reg_add(p);
out:
    mproc__close(devnull);
    pthread_mutex_unlock(&p->mu);
    return err;
}

/* ---- waiting and signalling ----------------------------------------------------- */

/* With p->mu held: reap p if it has ended (or, with block, once it ends). */
static void reap_locked(mproc_process *p, bool block)
{
    if (p->state != ST_RUNNING)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int flags = WEXITED | (block ? 0 : WNOHANG);
    int r;
    if (p->pidfd >= 0)
        while ((r = waitid(P_PIDFD, (id_t)p->pidfd, &si, flags)) < 0 && errno == EINTR)
            ;
    else
        while ((r = waitid(P_PID, (id_t)p->pid, &si, flags)) < 0 && errno == EINTR)
            ;
    if (r < 0) {
        /* ECHILD: someone else took the status (SIGCHLD set to SIG_IGN by
           the program). The process is gone all the same. */
        if (errno != ECHILD)
            return;
        p->code = 0;
    } else if (si.si_pid == 0) {
        return;
    } else {
        p->code = mproc__exit_code(&si);
    }
    p->state = ST_REAPED;
    mproc__child_disown(p->pid);
}

/* Whether the calling process may wait for and signal p. */
static int check_owner(const mproc_process *p)
{
    if (p->state == ST_NEW)
        return -EINVAL;
    if (p->state == ST_RUNNING && p->owner != getpid())
        return -ECHILD;
    return 0;
}

int mproc_process_join(mproc_process *p, double timeout)
{
    if (!p || !mproc__timeout_ok(timeout) || is_self(p))
        return -EINVAL;
    double deadline = mproc__deadline(timeout);
    pthread_mutex_lock(&p->mu);
    int err = check_owner(p);
    bool done = p->state == ST_REAPED;
    int fd = p->pidfd;
    pthread_mutex_unlock(&p->mu);
    if (err < 0 || done)
        return err;
    if (fd >= 0) {
        int r = mproc__poll_one(fd, POLLIN, deadline);
        if (r <= 0)
            return r == 0 ? -ETIMEDOUT : r;
    } else {
        /* No pidfds (kernel < 5.3): a polling fallback. */
        for (double nap = 0.001;; nap = nap < 0.05 ? nap * 2 : nap) {
            pthread_mutex_lock(&p->mu);
            reap_locked(p, false);
            done = p->state == ST_REAPED;
            pthread_mutex_unlock(&p->mu);
            if (done)
                return 0;
            if (mproc__now() >= deadline)
                return -ETIMEDOUT;
            double left = deadline - mproc__now();
            mproc__sleep(nap < left ? nap : left);
        }
    }
    pthread_mutex_lock(&p->mu);
    reap_locked(p, true);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

bool mproc_process_is_alive(mproc_process *p)
{
    if (!p)
        return false;
    if (is_self(p))
        return true;
    pthread_mutex_lock(&p->mu);
    if (p->owner == getpid())
        reap_locked(p, false);
    bool alive = p->state == ST_RUNNING;
    pthread_mutex_unlock(&p->mu);
    return alive;
}

pid_t mproc_process_pid(const mproc_process *p)
{
    if (!p)
        return 0;
    if (is_self(p))
        return getpid();
    return p->pid;
}

const char *mproc_process_name(const mproc_process *p)
{
    return p ? p->name : NULL;
}

bool mproc_process_daemon(const mproc_process *p)
{
    return p && p->daemon;
}

int mproc_process_exitcode(mproc_process *p, int *code)
{
    if (!p || !code)
        return -EINVAL;
    if (is_self(p))
        return 0;
    pthread_mutex_lock(&p->mu);
    if (p->state == ST_RUNNING && p->owner == getpid())
        reap_locked(p, false);
    int r = p->state == ST_REAPED;
    if (r)
        *code = p->code;
    pthread_mutex_unlock(&p->mu);
    return r;
}

static int send_signal(mproc_process *p, int sig)
{
    if (!p || is_self(p))
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    int err = check_owner(p);
    if (err == 0 && p->state == ST_RUNNING) {
        /* Holding p->mu, the child cannot be reaped under us, so even the
           plain kill() fallback cannot reach a recycled PID. */
        if (p->pidfd >= 0)
            err = mproc__pidfd_send_signal(p->pidfd, sig);
        else
            err = kill(p->pid, sig) < 0 ? mproc__err() : 0;
        if (err == -ESRCH)
            err = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

int mproc_process_terminate(mproc_process *p)
{
    return send_signal(p, SIGTERM);
}

int mproc_process_kill(mproc_process *p)
{
    return send_signal(p, SIGKILL);
}

void mproc_process_free(mproc_process *p)
{
    if (!p || is_self(p))
        return;
    reg_remove(p);
    pthread_mutex_lock(&p->mu);
    if (p->state == ST_RUNNING && p->owner == getpid()) {
        if (p->pidfd >= 0)
            mproc__pidfd_send_signal(p->pidfd, SIGKILL);
        else
            kill(p->pid, SIGKILL);
        reap_locked(p, true);
    }
    pthread_mutex_unlock(&p->mu);
    mproc__close(p->pidfd);
    pthread_mutex_destroy(&p->mu);
    free(p->name);
    free(p->ident);
    free(p);
}

const mproc_process *mproc_current_process(void)
{
    return st.current ? st.current : &main_process;
}

int mproc_active_children(mproc_process **out, size_t cap)
{
    if (!out && cap)
        return -EINVAL;
    size_t n;
    mproc_process **v = reg_snapshot(&n);
    if (!v)
        return -ENOMEM;
    int alive = 0;
    for (size_t i = 0; i < n; i++) {
        if (!mproc_process_is_alive(v[i]))
            continue;
        if ((size_t)alive < cap)
            out[alive] = v[i];
        alive++;
    }
    free(v);
    return alive;
}

/* At normal exit (atexit, and in a child when its target returns): daemons
   get SIGTERM, non-daemons are joined, daemons still alive a second later
   get SIGKILL, and all are reaped, as Python's _exit_function does. */
static void exit_children(void)
{
    if (!st.reg_head)
        return;
    size_t n;
    mproc_process **v = reg_snapshot(&n);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        if (v[i]->daemon)
            mproc_process_terminate(v[i]);
    double grace = mproc__now() + 1.0;
    for (size_t i = 0; i < n; i++)
        if (!v[i]->daemon)
            mproc_process_join(v[i], -1);
    for (size_t i = 0; i < n; i++) {
        if (!v[i]->daemon)
            continue;
        double left = grace - mproc__now();
        if (mproc_process_join(v[i], left > 0 ? left : 0) == -ETIMEDOUT) {
            mproc_process_kill(v[i]);
            mproc_process_join(v[i], -1);
        }
    }
    free(v);
}
