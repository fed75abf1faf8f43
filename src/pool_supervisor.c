/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_supervisor.c: the pool's supervisor process: forking the workers,
 * reaping them, settling the task of one that died or timed out, and
 * replacing workers that die, time out or retire.
 *
 * DESIGN. mproc_pool_new forks one supervisor; it is single-threaded, so
 * every worker it forks, first or replacement, is the child of a process
 * with one thread and sees the program as it was when the pool was made.
 * The supervisor sleeps in one poll(2): a signalfd for SIGCHLD (it reaps
 * only its own workers, with waitpid), an eventfd on which the owner says
 * "look at sh->stop", the workers' readiness eventfd, and a pidfd of the
 * owner, so that the pool dies with its owner however the owner ends.
 * There is no PR_SET_PDEATHSIG here: the kernel sends it when the forking
 * *thread* exits, which would kill a pool made by a short-lived thread, or
 * by a main thread that ends with pthread_exit while the program goes on.
 *
 * Workers take tasks straight from the shared ring (ring.h): the
 * supervisor is not on the path of a task, only of a failure. When a
 * worker dies, the supervisor finds the one slot marked RUNNING with that
 * worker's name and settles it (MPROC_EWORKER, or MPROC_ETASKTIMEOUT when
 * the supervisor killed it for running too long) before it forks the
 * replacement, so a task is never lost and never run twice.
 */
#include "pool_internal.h"
#include "pool_worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sup {
    const mproc__sup_args *a;
    mproc__shared *sh;
    int sigfd, ownerfd, readyfd;
    unsigned alive;
    bool reported;   /* the startup status has been written */
    bool spawn_failed;
    int spawn_err;
    struct sigaction chld; /* the owner's SIGCHLD disposition, for workers */
    bool *timed_out;
} sup;

static void publish_outcome(mproc__shared *sh, mproc__slot *s, uint64_t pos, unsigned owner,
                            int code, int detail, int sig)
{
    s->res_len = 0;
    s->res_off = 0;
    s->res_is_arg = 0;
    mproc__task_post(sh, pos, owner, code, detail, sig);
}

/* Settle the task a dead worker was running, if any. */
static void fail_running(sup *S, unsigned place, int status)
{
    mproc__shared *sh = S->sh;
    mproc__slot *base = mproc__slot_at(sh, 0);
    for (unsigned i = 0; i < MPROC__SLOTS; i++) {
        mproc__slot *s = base + i;
        uint64_t v = atomic_load(&s->word);
        if (mproc__word_state(v) != SLOT_RUNNING || mproc__word_owner(v) != place + 1)
            continue;
        mproc__place_reclaim_result(sh, S->a->arena_fd, place, s);
        int code = MPROC_EWORKER, detail = 0, sig = 0;
        if (S->timed_out[place]) {
            code = MPROC_ETASKTIMEOUT;
            sig = SIGKILL;
        } else if (WIFSIGNALED(status)) {
            sig = WTERMSIG(status);
        } else {
            detail = WEXITSTATUS(status);
        }
        publish_outcome(sh, s, mproc__word_pos(v), place + 1, code, detail, sig);
    }
    S->timed_out[place] = false;
}

/* The pool is broken: every queued task ends with MPROC_EINIT. The owner
   settles the same way any task it publishes after this, and the swap from
   READY decides who settles each one. */
static void fail_ready(sup *S)
{
    mproc__shared *sh = S->sh;
    uint64_t t = atomic_load(&sh->tail);
    uint64_t h = atomic_load(&sh->head);
    for (uint64_t pos = h; pos < t; pos++) {
        if (mproc__task_take(sh, pos, OWNER_SUP))
            publish_outcome(sh, mproc__slot_at(sh, pos), pos, OWNER_SUP, MPROC_EINIT, 0, 0);
    }
}

static void wake_workers(mproc__shared *sh)
{
    mproc__wake_all_workers(sh);
}

static int spawn(sup *S, unsigned place)
{
    mproc__shared *sh = S->sh;
    mproc__wrec *rec = &sh->w[place];
    atomic_store(&rec->state, W_STARTING);
    atomic_store(&rec->task_pos, 0);
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        mproc__close(S->sigfd);
        mproc__close(S->ownerfd);
        mproc__worker_main(sh, S->a->arena_fd, S->readyfd, place, self, &S->a->worker_mask,
                           &S->chld);
    }
    if (pid < 0) {
        atomic_store(&rec->state, W_EMPTY);
        return mproc__err();
    }
    atomic_store(&rec->pid, pid);
    S->alive++;
    return 0;
}

static _Noreturn void shutdown_now(sup *S)
{
    mproc__shared *sh = S->sh;
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        if (pid > 0)
            kill(pid, SIGKILL);
    }
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        if (pid > 0) {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            atomic_store(&sh->w[i].pid, 0);
        }
    }
    _exit(0);
}

static void report(sup *S, int status)
{
    if (S->reported)
        return;
    S->reported = true;
    (void)mproc__write_full(S->a->start_fd, &status, sizeof status);
    mproc__close(S->a->start_fd);
}

static void reap(sup *S)
{
    mproc__shared *sh = S->sh;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (unsigned i = 0; i < sh->nworkers; i++) {
            if (atomic_load(&sh->w[i].pid) != pid)
                continue;
            atomic_store(&sh->w[i].pid, 0);
            atomic_fetch_and(&sh->spinning[i / 64], ~((uint64_t)1 << (i % 64)));
            atomic_fetch_and(&sh->sleeping[i / 64], ~((uint64_t)1 << (i % 64)));
            S->alive--;
            uint32_t ws = atomic_load(&sh->w[i].state);
            /* An initializer that crashes (abort, a fault, _exit) fails as
               surely as one that returns non-zero. Without an initializer
               a worker dying before it is ready was killed from outside,
               and is replaced. */
            if (ws == W_INIT_FAILED || (ws == W_STARTING && sh->init)) {
                /* No respawn loop: the pool is broken, and says so. */
                atomic_store(&sh->broken, 1);
                wake_workers(sh);
                fail_ready(S);
            } else {
                fail_running(S, i, status);
            }
            mproc__place_free_out(sh, i);
            /* The worker may have died between marking a task DONE and
               counting it in done_seq: count one more, so the owner looks
               again; an extra count only costs it one scan. */
            mproc__done_publish(sh);
            atomic_store(&sh->w[i].state, W_EMPTY);
            break;
        }
    }
}

static bool queue_empty(mproc__shared *sh)
{
    return atomic_load(&sh->head) >= atomic_load(&sh->tail);
}

static void check_timeouts(sup *S)
{
    mproc__shared *sh = S->sh;
    int64_t now = mproc__now_ns();
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        uint64_t tp = atomic_load(&sh->w[i].task_pos);
        if (pid <= 0 || !tp || S->timed_out[i])
            continue;
        int64_t st = atomic_load(&sh->w[i].started_ns);
        int64_t limit = atomic_load(&sh->w[i].limit_ns);
        if (!limit || now - st < limit)
            continue;
        /* Claim the kill on this very task: if the worker finished it in
           the meantime (and may have begun the next), the swap fails and
           nobody is killed; once it succeeds, the worker cannot publish
           and waits for the signal. */
        if (!atomic_compare_exchange_strong(&sh->w[i].task_pos, &tp, tp | MPROC__KILL_BIT))
            continue;
        S->timed_out[i] = true;
        kill(pid, SIGKILL);
    }
}

static int tick_ms(sup *S)
{
    int ms = -1;
    int64_t lim = atomic_load(&S->sh->min_timeout_ns);
    if (lim) {
        int64_t t = lim / 10 / 1000000;
        ms = t < 1 ? 1 : t > 20 ? 20 : (int)t;
    }
    if (S->ownerfd < 0 && (ms < 0 || ms > 100))
        ms = 100;
    if (S->spawn_failed && (ms < 0 || ms > 10))
        ms = 10;
    return ms;
}

_Noreturn void mproc__pool_supervise(const mproc__sup_args *a)
{
    sup S = { .a = a, .sh = a->sh, .sigfd = -1, .ownerfd = -1, .readyfd = -1 };
    mproc__shared *sh = a->sh;
    S.ownerfd = mproc__pidfd_open(a->owner);
    if (S.ownerfd < 0)
        S.ownerfd = -1;
    /* The owner may have died before the pidfd was in place: then there is
       nobody to serve. */
    if (getppid() != a->owner)
        _exit(0);
    (void)mproc__stdin_devnull();
    prctl(PR_SET_NAME, "mproc-pool");

    static bool timed_out[MPROC__MAX_WORKERS];
    S.timed_out = timed_out;

    /* SIGCHLD must be delivered for us to reap, whatever the owner set
       (SIG_IGN would make the kernel reap our workers out of our hands);
       the workers get the owner's disposition back. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &S.chld);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    S.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    S.readyfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (S.sigfd < 0 || S.readyfd < 0) {
        report(&S, mproc__err());
        _exit(0);
    }

    for (unsigned i = 0; i < sh->nworkers; i++) {
        int e = spawn(&S, i);
        if (e < 0) {
            report(&S, e);
            shutdown_now(&S);
        }
    }
    /* A pool whose tasks only an extension runs (pool_ext.h) has none. */
    if (sh->nworkers == 0)
        report(&S, 0);

    for (;;) {
        struct pollfd p[4] = {
            { .fd = S.sigfd, .events = POLLIN },
            { .fd = a->cmd_fd, .events = POLLIN },
            { .fd = S.readyfd, .events = POLLIN },
            { .fd = S.ownerfd, .events = POLLIN },
        };
        int n = poll(p, S.ownerfd >= 0 ? 4 : 3, tick_ms(&S));
        if (n < 0 && errno != EINTR)
            shutdown_now(&S);
        if ((S.ownerfd >= 0 && p[3].revents) || getppid() != a->owner)
            shutdown_now(&S);

        struct signalfd_siginfo si;
        while (read(S.sigfd, &si, sizeof si) > 0)
            ;
        uint64_t cnt;
        (void)!read(S.readyfd, &cnt, sizeof cnt);
        (void)!read(a->cmd_fd, &cnt, sizeof cnt);

        reap(&S);
        unsigned stop = atomic_load(&sh->stop);
        if (stop == STOP_TERMINATE)
            shutdown_now(&S);

        if (!S.reported) {
            if (atomic_load(&sh->broken)) {
                report(&S, MPROC_EINIT);
            } else {
                unsigned ready = 0;
                for (unsigned i = 0; i < sh->nworkers; i++)
                    ready += atomic_load(&sh->w[i].state) == W_READY;
                if (ready == sh->nworkers)
                    report(&S, 0);
            }
        }
        if (atomic_load(&sh->min_timeout_ns))
            check_timeouts(&S);

        bool broken = atomic_load(&sh->broken);
        bool closing = stop == STOP_CLOSE;
        if (broken || (closing && queue_empty(sh))) {
            if (closing)
                wake_workers(sh);
            if (S.alive == 0)
                _exit(0);
            continue;
        }
        /* Replace the workers that left: crashed, timed out, retired. */
        S.spawn_failed = false;
        for (unsigned i = 0; i < sh->nworkers; i++) {
            if (atomic_load(&sh->w[i].state) != W_EMPTY)
                continue;
            if (spawn(&S, i) < 0)
                S.spawn_failed = true;
        }
    }
}
