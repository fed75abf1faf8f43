/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* spawn.c: the job spawner of `mproc run`: clone(CLONE_VM | CLONE_VFORK |
 * CLONE_PIDFD) and execve, with only the few steps a job needs in between.
 *
 * DESIGN. glibc's posix_spawn is correct but general: its child walks all
 * 64 signal dispositions (about 130 system calls) and, for posix_spawnp,
 * tries every PATH entry, all while the parent is suspended. A job here
 * needs five calls before its exec: setpgid, three dup2 and the mask. The
 * rules of the child side hold: everything (argv, path, descriptor plan) is
 * prepared before the clone, the child only makes async-signal-safe calls
 * and leaves through _exit, its exec error comes back through the memory
 * it shares with us.
 */
#include "tool.h"
#include "spawn.h"

#include <signal.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

extern char **environ;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)

/* Under the sanitizers, whose runtimes must see every new process, glibc's
   posix_spawn (itself clone(CLONE_VM | CLONE_VFORK)) starts the job with
   the same plan; the pidfd then comes from pidfd_open, which names this
   child since we reap our children only through their pidfds. */
int spawn_job(const spawn_plan *plan, const char *path, char *const argv[], pid_t *pid,
              int *pidfd)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    int err = posix_spawnattr_init(&attr);
    if (err)
        return -err;
    if ((err = posix_spawn_file_actions_init(&fa))) {
        posix_spawnattr_destroy(&attr);
        return -err;
    }
    sigset_t defaults;
    sigemptyset(&defaults);
    if (plan->reset_sigpipe)
        sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, plan->mask);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    pid_t c = -1;
    char *const *envp = plan->envp ? plan->envp : environ;
    if (!(err = posix_spawn_file_actions_adddup2(&fa, plan->fd0, 0)) &&
        !(err = posix_spawn_file_actions_adddup2(&fa, plan->fd1, 1)) &&
        !(err = posix_spawn_file_actions_adddup2(&fa, plan->fd2, 2))) {
        err = path ? posix_spawn(&c, path, &fa, &attr, argv, envp) : ENOENT;
        if (err && plan->alt_path)
            err = posix_spawn(&c, plan->alt_path, &fa, &attr, plan->alt_argv, envp);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err)
        return -err;
    int fd = (int)syscall(SYS_pidfd_open, c, 0);
    if (fd < 0) {
        err = -errno;
        kill(c, SIGKILL);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
        return err;
    }
    *pid = c;
    *pidfd = fd;
    return 0;
}

#else

typedef struct child_args {
    const spawn_plan *plan;
    const char *path;
    char *const *argv;
    bool parent_waits;  /* suspended until our exec (CLONE_VFORK) */
    volatile int err;
} child_args;

/* The child's stack, used by one child at a time: the parent is suspended
   from the clone until the child has exec'd or exited. */
static char child_stack[64 * 1024] __attribute__((aligned(64)));

static int place(int from, int to)
{
    if (from == to) /* dup2 onto itself keeps close-on-exec */
        return fcntl(to, F_SETFD, 0);
    return dup2(from, to);
}

static int child_main(void *arg)
{
    child_args *a = arg;
    const spawn_plan *p = a->plan;
    /* All signals are blocked (by the parent, before the clone), so no
       handler runs here before the dispositions and mask are the job's. */
    if (p->reset_sigpipe) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        if (sigaction(SIGPIPE, &sa, NULL) < 0)
            goto fail;
    }
    if (setpgid(0, 0) < 0)
        goto fail;
    if (place(p->fd0, 0) < 0 || place(p->fd1, 1) < 0 || place(p->fd2, 2) < 0)
        goto fail;
    /* Every CPU we were given, not the one we are held to (spawncpu.c);
       should that set have lost all its CPUs since, the job keeps ours. */
    if (p->cpus && p->cpus->pinned >= 0)
        (void)sched_setaffinity(0, p->cpus->size, p->cpus->orig);
    /* Asleep until our exec, the parent moves for free (spawn_cpus_wait_on). */
    if (a->parent_waits && p->cpus && p->cpus->wait_cpu >= 0)
        (void)sched_setaffinity(p->cpus->self, p->cpus->size, p->cpus->wait);
    if (sigprocmask(SIG_SETMASK, p->mask, NULL) < 0)
        goto fail;
    char *const *envp = p->envp ? p->envp : environ;
    if (a->path)
        execve(a->path, a->argv, envp);
    if (p->alt_path)
        execve(p->alt_path, p->alt_argv, envp);
fail:
    a->err = errno ? errno : EIO;
    _exit(127);
}

int spawn_job(const spawn_plan *plan, const char *path, char *const argv[], pid_t *pid,
              int *pidfd)
{
    child_args a = { .plan = plan, .path = path, .argv = argv, .err = 0 };
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    int fd = -1;
    char *top = child_stack + sizeof child_stack;
    pid_t c = -1;
    if (plan->detach) {
        /* The child runs on its own copy of the stack and of a. */
        c = clone(child_main, top, CLONE_PIDFD | SIGCHLD, &a, &fd);
        if (c < 0) /* no memory for a copy, or no CLONE_PIDFD: share ours */
            fd = -1;
    }
    a.parent_waits = true;
    if (c < 0)
        c = clone(child_main, top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &fd);
    if (c < 0 && errno == EINVAL) {
        /* A kernel before 5.2: no CLONE_PIDFD; the PID stays ours until we
           reap it, so pidfd_open afterwards names the same child. */
        c = clone(child_main, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
        if (c > 0)
            fd = (int)syscall(SYS_pidfd_open, c, 0);
    }
    int err = c < 0 ? -errno : 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (err < 0)
        return err;
    if (a.err || fd < 0) {
        /* The exec failed (the child has exited) or no pidfd: reap it. */
        err = a.err ? -a.err : -errno;
        if (!a.err)
            kill(c, SIGKILL);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
        if (fd >= 0)
            close(fd);
        return err;
    }
    *pid = c;
    *pidfd = fd;
    return 0;
}

#endif

/* struct sched_attr as Linux 3.14 has it (SCHED_ATTR_SIZE_VER0). */
typedef struct sched_attr0 {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
} sched_attr0;

#define RUNNER_SLICE_NS 100000 /* the least a slice may be */
#define RESET_ON_FORK 0x01     /* SCHED_FLAG_RESET_ON_FORK */

void spawn_prefer_latency(void)
{
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
    sched_attr0 a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) < 0 || a.policy != SCHED_OTHER ||
        a.nice < 0 || a.runtime <= RUNNER_SLICE_NS)
        return;
    a.size = sizeof a;
    a.flags |= RESET_ON_FORK;
    a.runtime = RUNNER_SLICE_NS;
    (void)syscall(SYS_sched_setattr, 0, &a, 0);
#endif
}

static char *cached_name, *cached_path;

const char *spawn_resolve(const char *name)
{
    if (cached_name && !strcmp(cached_name, name))
        return cached_path;
    free(cached_name);
    free(cached_path);
    cached_name = xstrdup(name);
    cached_path = spawn_search(name);
    return cached_path;
}

char *spawn_search(const char *name)
{
    if (strchr(name, '/'))
        return xstrdup(name);
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    tbuf b = {0};
    char *found = NULL;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        b.len = 0;
        if (n)
            tbuf_add(&b, p, n);
        else
            tbuf_addc(&b, '.'); /* an empty entry is the current folder */
        tbuf_addc(&b, '/');
        tbuf_adds(&b, name);
        struct stat st;
        if (stat(b.p, &st) == 0 && S_ISREG(st.st_mode) && access(b.p, X_OK) == 0) {
            found = xstrdup(b.p);
            break;
        }
        if (!end)
            break;
        p = end;
    }
    tbuf_free(&b);
    return found;
}
