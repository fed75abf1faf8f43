/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* reap.c: waiting for children, the double fork, autoreap and subreaper,
 * and the table of children the library owns.
 *
 * DESIGN. The library must never take the exit status of a child it manages
 * (a process object, a pool's supervisor), yet mproc_wait_any and the
 * autoreaper reap "any" child. So every managed child is entered in a table
 * between fork and reap, and those two reap by PID only the children not in
 * it, found through /proc/self/task/TID/children. The table is a fixed
 * open-addressing hash of 64-bit atomics, readable from a signal handler.
 * Each entry also records the process that owns it, so a forked child never
 * mistakes its parent's entries for its own and nothing needs clearing after
 * fork.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the table of owned children ------------------------------------------ */

#define OWN_SLOTS 32768u
#define OWN_TOMB UINT64_MAX

static _Atomic uint64_t own_table[OWN_SLOTS];

static uint64_t own_key(pid_t pid)
{
    return ((uint64_t)(uint32_t)getpid() << 32) | (uint32_t)pid;
}

static unsigned own_hash(pid_t pid)
{
    return ((uint32_t)pid * 2654435761u) % OWN_SLOTS;
}

void mproc__child_own(pid_t pid)
{
    uint64_t key = own_key(pid);
    uint32_t me = (uint32_t)(key >> 32);
    unsigned h = own_hash(pid);
    for (unsigned i = 0; i < OWN_SLOTS; i++) {
        _Atomic uint64_t *slot = &own_table[(h + i) % OWN_SLOTS];
        uint64_t v = atomic_load(slot);
        /* A slot of a process that is not us (the parent's, seen after fork)
           is as free as an empty one. */
        bool ours = v != 0 && v != OWN_TOMB && (uint32_t)(v >> 32) == me;
        if (!ours && atomic_compare_exchange_strong(slot, &v, key))
            return;
    }
    /* More managed children than pids the kernel hands out: unreachable. */
}

void mproc__child_disown(pid_t pid)
{
    uint64_t key = own_key(pid);
    unsigned h = own_hash(pid);
    for (unsigned i = 0; i < OWN_SLOTS; i++) {
        _Atomic uint64_t *slot = &own_table[(h + i) % OWN_SLOTS];
        uint64_t v = atomic_load(slot);
        if (v == 0)
            return;
        if (v == key && atomic_compare_exchange_strong(slot, &v, OWN_TOMB))
            return;
    }
}

bool mproc__child_is_owned(pid_t pid)
{
    uint64_t key = own_key(pid);
    unsigned h = own_hash(pid);
    for (unsigned i = 0; i < OWN_SLOTS; i++) {
        uint64_t v = atomic_load(&own_table[(h + i) % OWN_SLOTS]);
        if (v == 0)
            return false;
        if (v == key)
            return true;
    }
    return false;
}

/* ---- forks in progress -------------------------------------------------------- */

/* Between fork() and mproc__child_own() a managed child is not yet in the
   table; the autoreaper must not run its scan then, or it could reap a child
   that exits at once. It notes that it skipped, and the forking thread scans
   when its fork is registered. */
static atomic_int forks_in_progress;
static atomic_bool reap_skipped;
static atomic_bool autoreap_on;
static void reap_strays(void);

void mproc__fork_begin(void)
{
    atomic_fetch_add(&forks_in_progress, 1);
}

void mproc__fork_end(void)
{
    if (atomic_fetch_sub(&forks_in_progress, 1) == 1 && atomic_load(&autoreap_on) &&
        atomic_exchange(&reap_skipped, false))
        reap_strays();
}

/* Whether pid, just seen in the list of our children, may be taken as a
   stray. Its fork_begin came before it was listed, so a count of zero read
   now means its fork_end, and so its mproc__child_own, has run. While any
   fork is in progress nothing is taken, and the skip is noted. */
static bool is_stray(pid_t pid)
{
    if (atomic_load(&forks_in_progress) > 0) {
        atomic_store(&reap_skipped, true);
        return false;
    }
    return !mproc__child_is_owned(pid);
}

/* In a child, no fork is in progress: the one that made it is over, the
   others belong to threads the child does not have. */
static void reap_after_fork_child(void)
{
    atomic_store(&forks_in_progress, 0);
    atomic_store(&reap_skipped, false);
}

__attribute__((constructor)) static void reap_init(void)
{
    pthread_atfork(NULL, NULL, reap_after_fork_child);
}

/* ---- listing children, async-signal-safe ------------------------------------- */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static long parse_long(const char **p)
{
    long v = 0;
    while (**p == ' ' || **p == '\n')
        (*p)++;
    if (**p < '0' || **p > '9')
        return -1;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (*(*p)++ - '0');
    return v;
}

/* Calls fn(pid) for every child of this process, zombies included, using only
   open, read, getdents64 and close. Returns the number of children seen. */
static int each_child_safe(void (*fn)(pid_t))
{
    int count = 0;
    int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    char dents[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dfd, dents, sizeof dents)) > 0) {
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.')
                continue;
            char path[64] = "/proc/self/task/";
            size_t len = strlen(path), k = strlen(d->d_name);
            if (len + k + 10 >= sizeof path)
                continue;
            memcpy(path + len, d->d_name, k);
            memcpy(path + len + k, "/children", 10);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            char buf[4096];
            size_t have = 0;
            bool eof = false;
            while (!eof) {
                ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    eof = true;
                else
                    have += (size_t)r;
                buf[have] = '\0';
                /* A number is whole once a separator or the end follows it. */
                const char *p = buf;
                for (;;) {
                    const char *q = p;
                    long pid = parse_long(&q);
                    if (pid < 0 || (*q == '\0' && !eof))
                        break;
                    count++;
                    fn((pid_t)pid);
                    p = q;
                }
                have -= (size_t)(p - buf);
                memmove(buf, p, have);
            }
            close(fd);
        }
    }
    close(dfd);
    return count;
}

/* ---- the autoreaper ---------------------------------------------------------- */

static void reap_if_stray(pid_t pid)
{
    if (!is_stray(pid))
        return;
    int saved = errno;
    while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR)
        ;
    errno = saved;
}

/* Scans until no skip is pending. A skip noted while a fork is in progress
   is left to that fork's mproc__fork_end; one noted after it ended (the
   count read zero, the flag set late) is taken here. */
static void reap_strays(void)
{
    do
        each_child_safe(reap_if_stray);
    while (atomic_load(&forks_in_progress) == 0 && atomic_exchange(&reap_skipped, false));
}

static void on_sigchld(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    (void)ctx;
    int saved = errno;
    reap_strays();
    errno = saved;
}

static pthread_mutex_t autoreap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction autoreap_old;

int mproc_autoreap(bool on)
{
    int err = 0;
    pthread_mutex_lock(&autoreap_mu);
    if (on && !atomic_load(&autoreap_on)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigchld;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGCHLD, &sa, &autoreap_old) < 0) {
            err = mproc__err();
            goto out;
        }
        atomic_store(&autoreap_on, true);
        /* Children that ended before the handler existed sent their SIGCHLD
           already. */
        reap_strays();
    } else if (!on && atomic_load(&autoreap_on)) {
        if (sigaction(SIGCHLD, &autoreap_old, NULL) < 0) {
            err = mproc__err();
            goto out;
        }
        atomic_store(&autoreap_on, false);
    }
out:
    pthread_mutex_unlock(&autoreap_mu);
    return err;
}

int mproc_subreaper(bool on)
{
    return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0 ? mproc__err() : 0;
}

/* ---- wait_any ---------------------------------------------------------------- */

/* One pass of mproc_wait_any over our children: every stray is tried, the
   first 256 still running are kept for the poll. */
typedef struct {
    pid_t pids[256];
    int n;
    int strays;
    bool busy; /* a fork was in progress: strays may have been passed over */
    bool reaped;
    pid_t *out_pid;
    int *code;
} wait_pass;

static _Thread_local wait_pass *pass;

/* Reaps pid if it has ended; 1 when reaped, 0 when still running. */
static int try_reap(pid_t pid, pid_t *out_pid, int *code)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    while ((r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r < 0 || si.si_pid == 0)
        return 0;
    if (out_pid)
        *out_pid = si.si_pid;
    if (code)
        *code = mproc__exit_code(&si);
    return 1;
}

static void visit_for_wait(pid_t pid)
{
    if (pass->reaped)
        return;
    if (atomic_load(&forks_in_progress) > 0) {
        pass->busy = true;
        return;
    }
    if (mproc__child_is_owned(pid))
        return;
    pass->strays++;
    if (try_reap(pid, pass->out_pid, pass->code))
        pass->reaped = true;
    else if (pass->n < 256)
        pass->pids[pass->n++] = pid;
}

int mproc_wait_any(double timeout, pid_t *pid, int *code)
{
    if (!mproc__timeout_ok(timeout))
        return -EINVAL;
    double deadline = mproc__deadline(timeout);
    wait_pass wp;
    for (;;) {
        wp = (wait_pass){ .out_pid = pid, .code = code };
        pass = &wp;
        each_child_safe(visit_for_wait);
        if (wp.reaped)
            return 0;
        if (wp.strays == 0 && !wp.busy)
            return -ECHILD;
        if (mproc__now() >= deadline)
            return -ETIMEDOUT;
        /* Sleep on the pidfds of (up to 256 of) the strays; new children (a
           concurrent fork, an orphan handed to us as subreaper) and those
           beyond 256 are picked up by the rescan every 100 ms, since no
           pidfd can announce them; a fork in progress is over in
           microseconds. */
        struct pollfd fds[256];
        int nfds = 0;
        for (int i = 0; i < wp.n; i++) {
            int fd = mproc__pidfd_open(wp.pids[i]);
            if (fd >= 0)
                fds[nfds++] = (struct pollfd){ .fd = fd, .events = POLLIN };
        }
        int ms = mproc__poll_ms(deadline);
        int cap = wp.busy ? 1 : 100;
        if (ms < 0 || ms > cap)
            ms = cap;
        if (nfds > 0)
            (void)poll(fds, (nfds_t)nfds, ms);
        else
            mproc__sleep(ms / 1000.0);
        for (int i = 0; i < nfds; i++)
            mproc__close(fds[i].fd);
    }
}

/* ---- forking -------------------------------------------------------------------- */

pid_t mproc_fork(void)
{
    fflush(NULL);
    pid_t pid = fork();
    return pid < 0 ? mproc__err() : pid;
}

void mproc_exit(int status)
{
    fflush(NULL);
    _exit(status & 0xff);
}

void mproc_exit_msg(const char *fmt, ...)
{
    fflush(NULL);
    /* One write, so the message stays one line among other processes'. */
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    (void)mproc__write_full(2, buf, (size_t)n);
    _exit(1);
}

pid_t mproc_spawn_detached(mproc_target_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    int p[2] = { -1, -1 };
    if (pipe2(p, O_CLOEXEC) < 0)
        return mproc__err();
    fflush(NULL);
    sigset_t old;
    mproc__block_all(&old);
    mproc__fork_begin();
    pid_t mid = fork();
    if (mid == 0) {
        /* The intermediate child: fork the grandchild, report its PID (or
           -errno), leave at once so our parent can reap us. */
        mproc__restore_mask(&old);
        close(p[0]);
        pid_t g = fork();
        if (g == 0) {
            close(p[1]);
            mproc__stdin_devnull();
            mproc__child_leave(fn(arg));
        }
        int32_t v = g < 0 ? -errno : (int32_t)g;
        (void)!write(p[1], &v, sizeof v);
        _exit(0);
    }
    int err = mid < 0 ? mproc__err() : 0;
    if (mid > 0)
        mproc__child_own(mid);
    mproc__fork_end();
    mproc__restore_mask(&old);
    mproc__close(p[1]);
    int32_t v = err;
    if (mid > 0) {
        if (mproc__read_full(p[0], &v, sizeof v) != (ssize_t)sizeof v)
            v = -EIO;
        while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
            ;
        mproc__child_disown(mid);
    }
    mproc__close(p[0]);
    return (pid_t)v;
}
