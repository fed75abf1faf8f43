/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_server.c: the pool's supervisor process and its workers: forking,
 * the task loop, and replacing workers that die, time out or retire.
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

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long an idle worker polls the ring before it sleeps, adapting
   between these bounds: the longest while tasks come within it, shorter
   while they come later. A cross-CPU wakeup costs tens of microseconds; a short
   poll costs nothing when the next task is already on its way (one task at
   a time, or a producer that keeps up). Polls that keep failing only steal
   the CPU from the owner and from other programs, and a poller that lost
   its CPU answers later than a sleeper. */
#define WORKER_SPIN_MAX_NS 20000
#define WORKER_SPIN_MIN_NS 500

struct mproc_out {
    char *buf;
    size_t len, cap;
    bool failed; /* an allocation failed: the task's result is -ENOMEM */
};

int mproc_out_write(mproc_out *out, const void *data, size_t len)
{
    if (!out || (!data && len))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (len > SIZE_MAX - out->len)
        return -ENOMEM;
    size_t need = out->len + len;
    if (need > out->cap) {
        size_t cap = out->cap ? out->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *b = realloc(out->buf, cap);
        if (!b) {
            out->failed = true;
            return -ENOMEM;
        }
        out->buf = b;
        out->cap = cap;
    }
    if (len <= 16) {
        /* A map item's few bytes: cheaper than a call to memcpy. */
        char *d = out->buf + out->len;
        const char *src = data;
        for (size_t i = 0; i < len; i++)
            d[i] = src[i];
    } else {
        memcpy(out->buf + out->len, data, len);
    }
    out->len = need;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the worker ------------------------------------------------------------- */

typedef struct worker {
    mproc__shared *sh;
    int arena_fd;
    unsigned place; /* index into sh->w */
    unsigned me;    /* owner name in slot words: place + 1 */
    uint64_t bit;   /* in sh->spinning[place / 64] */
    int64_t spin_ns; /* how long it polls before it sleeps */
    int32_t *codes;  /* chunk buffers, for cap_items items */
    uint64_t *ends;
    uint64_t cap_items;
    mproc_out out;
} worker;

/* Takes the next task: returns its position, or UINT64_MAX when the worker
   should leave (the pool is closing and drained, terminating, or broken). */
static uint64_t claim(worker *wk)
{
    mproc__shared *sh = wk->sh;
    unsigned spins = 0;
    int64_t idle_since = 0, idle_start = 0;
    bool spinning = false;
    uint64_t got = UINT64_MAX;
    for (;;) {
        if (atomic_load(&sh->broken) || atomic_load(&sh->stop) == STOP_TERMINATE)
            break;
        int c = mproc__task_claim(sh, wk->me, &got);
        if (c > 0)
            break;
        if (c < 0)
            continue;
        if (atomic_load(&sh->stop) == STOP_CLOSE)
            break;
        if (!spinning) {
            spinning = true;
            atomic_fetch_or(&sh->spinning[wk->place / 64], wk->bit);
            idle_since = now_ns();
            if (!idle_start)
                idle_start = idle_since;
            spins = 0;
        }
        if ((++spins & 63) != 0) {
            mproc__cpu_relax();
            continue;
        }
        int64_t idle = now_ns() - idle_since;
        if (idle < wk->spin_ns) {
            mproc__cpu_relax();
            continue;
        }
        _Atomic uint32_t *fx = &sh->w[wk->place].futex;
        uint32_t seq = atomic_load(fx);
        atomic_fetch_or(&sh->sleeping[wk->place / 64], wk->bit);
        atomic_fetch_and(&sh->spinning[wk->place / 64], ~wk->bit);
        spinning = false;
        /* Looked at again after announcing the sleep: a producer that
           published before it saw no sleeper, and we see its task. */
        if (atomic_load(&sh->head) >= atomic_load(&sh->tail) && !atomic_load(&sh->stop) &&
            !atomic_load(&sh->broken))
            mproc__futex_wait(fx, seq, INFINITY);
        atomic_fetch_and(&sh->sleeping[wk->place / 64], ~wk->bit);
    }
    if (spinning)
        atomic_fetch_and(&sh->spinning[wk->place / 64], ~wk->bit);
    if (idle_start && got != UINT64_MAX) {
        /* Would the longest poll have caught this task? Then poll long;
           else poll less. Judged by the idle time, not by whether this
           poll succeeded, so that a short poll can grow again. */
        if (now_ns() - idle_start <= WORKER_SPIN_MAX_NS)
            wk->spin_ns = WORKER_SPIN_MAX_NS;
        else
            wk->spin_ns = wk->spin_ns / 2 > WORKER_SPIN_MIN_NS ? wk->spin_ns / 2 : WORKER_SPIN_MIN_NS;
    }
    /* More waiting than we took: pass the wakeup on. */
    if (got != UINT64_MAX)
        mproc__wake_worker_if_needed(sh);
    return got;
}

/* Where a result of len bytes goes: the slot, or a fresh arena range. */
static void *result_space(worker *wk, mproc__slot *s, size_t len, int *err)
{
    *err = 0;
    s->res_off = 0;
    s->res_len = 0;
    if (len <= MPROC__INLINE) {
        s->res_len = len;
        return s->data;
    }
    uint64_t off;
    int e = mproc__arena_alloc(wk->sh, len, &off);
    if (e < 0) {
        *err = e;
        return NULL;
    }
    /* Recorded before the bytes are written, so that if this worker dies
       now the supervisor can give the range back. */
    s->res_off = off;
    s->res_len = len;
    void *p = mproc__arena_map(wk->arena_fd, off, len, true);
    if (!p) {
        *err = mproc__err();
        mproc__arena_release(wk->arena_fd, off, len);
        s->res_len = 0;
        s->res_off = 0;
    }
    return p;
}

static void result_done(void *p, mproc__slot *s, size_t len)
{
    if (p && p != (void *)s->data)
        mproc__arena_unmap(p, len);
}

/* Runs fn over every item of a chunk. The result (ring.h, CHUNK_*) is
   uint64 count, uint64 uniform, then, unless every item returned 0 and
   wrote the same number of bytes (uniform = CHUNK_UNIFORM | that number),
   int32 codes[count] (padded to 8) and uint64 ends[count]; then the items'
   bytes end to end: item i is [ends[i-1], ends[i]). The uniform case, the
   usual one for a map, carries the results and nothing else. */
static int run_chunk(worker *wk, mproc__slot *s, mproc_task_fn fn, const char *items)
{
    uint64_t n = s->count;
    size_t isz = (size_t)s->item_size;
    if (n > wk->cap_items) {
        /* Kept from chunk to chunk: fresh large buffers would cost page
           faults every time. */
        int32_t *c = realloc(wk->codes, n * sizeof *c);
        if (c)
            wk->codes = c;
        uint64_t *e = c ? realloc(wk->ends, n * sizeof *e) : NULL;
        if (e)
            wk->ends = e;
        if (!c || !e)
            return -ENOMEM;
        wk->cap_items = n;
    }
    int32_t *codes = wk->codes;
    uint64_t *ends = wk->ends;
    wk->out.len = 0;
    wk->out.failed = false;
    bool uniform = true;
    for (uint64_t i = 0; i < n; i++) {
        int rc = fn(items + i * isz, isz, &wk->out);
        if (wk->out.failed)
            return -ENOMEM;
        codes[i] = rc;
        ends[i] = wk->out.len;
        uniform = uniform && rc == 0 && ends[i] == (i + 1) * ends[0];
    }
    uint64_t head[2] = { n, uniform && n ? MPROC__CHUNK_UNIFORM | ends[0] : 0 };
    size_t codes_sz = uniform ? 0 : ((size_t)n * sizeof(int32_t) + 7) & ~(size_t)7;
    size_t ends_sz = uniform ? 0 : (size_t)n * 8;
    size_t total = sizeof head + codes_sz + ends_sz + wk->out.len;
    int err;
    char *dst = result_space(wk, s, total, &err);
    if (dst) {
        memcpy(dst, head, sizeof head);
        if (!uniform) {
            memcpy(dst + sizeof head, codes, n * sizeof(int32_t));
            memcpy(dst + sizeof head + codes_sz, ends, ends_sz);
        }
        if (wk->out.len)
            memcpy(dst + sizeof head + codes_sz + ends_sz, wk->out.buf, wk->out.len);
        result_done(dst, s, total);
    }
    return err;
}

static void run_task(worker *wk, uint64_t pos)
{
    mproc__shared *sh = wk->sh;
    mproc__slot *s = mproc__slot_at(sh, pos);
    mproc__wrec *rec = &sh->w[wk->place];
    atomic_store(&rec->started_ns, now_ns());
    atomic_store(&rec->task_pos, pos + 1);

    mproc_task_fn fn = (mproc_task_fn)(uintptr_t)s->fn;
    size_t alen = (size_t)s->arg_len;
    const void *arg = s->data;
    void *amap = NULL;
    int code = 0, detail = 0;
    if (alen > MPROC__INLINE) {
        amap = mproc__arena_map(wk->arena_fd, s->arg_off, alen, false);
        if (!amap) {
            code = mproc__err();
            goto publish;
        }
        arg = amap;
    }
    if (s->kind == TASK_CHUNK) {
        code = run_chunk(wk, s, fn, arg);
    } else {
        wk->out.len = 0;
        wk->out.failed = false;
        int rc = fn(alen ? arg : NULL, alen, &wk->out);
        /* The argument is no longer read: the slot's bytes may now carry
           the result. */
        if (wk->out.failed) {
            code = -ENOMEM;
        } else {
            int err;
            void *dst = result_space(wk, s, wk->out.len, &err);
            if (dst) {
                if (wk->out.len)
                    memcpy(dst, wk->out.buf, wk->out.len);
                result_done(dst, s, wk->out.len);
                code = rc ? MPROC_ETASK : 0;
                detail = rc;
            } else {
                code = err;
            }
        }
    }
publish:
    if (amap)
        mproc__arena_unmap(amap, alen);
    if (code < 0 && code != MPROC_ETASK) {
        s->res_len = 0;
        s->res_off = 0;
    }
    if (wk->out.cap > (1u << 20)) {
        /* Do not keep a huge buffer for the next small task. */
        free(wk->out.buf);
        wk->out.buf = NULL;
        wk->out.cap = 0;
    }
    uint64_t mine = pos + 1;
    if (!atomic_compare_exchange_strong(&rec->task_pos, &mine, 0)) {
        /* The supervisor has claimed this task as timed out and its
           SIGKILL is on the way: the outcome is the timeout. */
        for (;;)
            pause();
    }
    mproc__task_post(sh, pos, wk->me, code, detail, 0);
}

static _Noreturn void worker_main(mproc__shared *sh, int arena_fd, int ready_fd, unsigned place,
                                  pid_t sup, const sigset_t *mask,
                                  const struct sigaction *chld)
{
    /* Our parent is the single-threaded supervisor, so the death signal
       follows the process, not a thread. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != sup)
        _exit(0);
    sigaction(SIGCHLD, chld, NULL);
    prctl(PR_SET_NAME, "mproc-worker");
    mproc__restore_mask(mask);
    mproc__wrec *rec = &sh->w[place];
    if (sh->init && sh->init(sh->initarg) != 0) {
        atomic_store(&rec->state, W_INIT_FAILED);
        fflush(NULL);
        _exit(0);
    }
    atomic_store(&rec->state, W_READY);
    uint64_t one = 1;
    (void)!write(ready_fd, &one, sizeof one);
    worker wk = { .sh = sh, .arena_fd = arena_fd, .place = place, .me = place + 1,
                  .bit = (uint64_t)1 << (place % 64), .spin_ns = WORKER_SPIN_MAX_NS };
    unsigned done = 0;
    for (;;) {
        uint64_t pos = claim(&wk);
        if (pos == UINT64_MAX)
            break;
        run_task(&wk, pos);
        /* What the task printed shows now, not when the worker ends (a
           terminated worker never flushes). */
        fflush(stdout);
        if (sh->maxtasks && ++done >= sh->maxtasks)
            break;
    }
    fflush(NULL);
    _exit(0);
}

/* ---- the supervisor ---------------------------------------------------------- */

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
        if (s->res_len > MPROC__INLINE)
            mproc__arena_release(S->a->arena_fd, s->res_off, s->res_len);
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
        worker_main(sh, S->a->arena_fd, S->readyfd, place, self, &S->a->worker_mask, &S->chld);
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
    int64_t now = now_ns();
    for (unsigned i = 0; i < sh->nworkers; i++) {
        pid_t pid = atomic_load(&sh->w[i].pid);
        uint64_t tp = atomic_load(&sh->w[i].task_pos);
        if (pid <= 0 || !tp || S->timed_out[i])
            continue;
        int64_t st = atomic_load(&sh->w[i].started_ns);
        if (now - st < sh->timeout_ns)
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
    if (S->sh->timeout_ns) {
        int64_t t = S->sh->timeout_ns / 10 / 1000000;
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
        if (sh->timeout_ns)
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
