/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* spawn.h: how `mproc run` starts a job: vfork-style, with a pidfd. */
#ifndef MPROC_TOOL_SPAWN_H
#define MPROC_TOOL_SPAWN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* What the child does between the clone and the exec. */
typedef struct spawn_plan {
    int fd0, fd1, fd2;      /* made the child's 0, 1, 2 (close-on-exec cleared) */
    const sigset_t *mask;   /* the child's signal mask at exec */
    bool reset_sigpipe;     /* SIGPIPE back to SIG_DFL (the tool ignores it) */
    char *const *envp;      /* the job's environment; NULL: environ */
    const char *alt_path;   /* executed instead when path cannot be (or is NULL) */
    char *const *alt_argv;
    bool detach;            /* a long argument list: do not wait while the exec copies it */
} spawn_plan;

/*
 * spawn_job - run path with argv (and environ) in a new child that leads
 * its own process group; when path is NULL or cannot be executed, the
 * child executes plan->alt_path with plan->alt_argv instead (the shell,
 * to say why in its own words).
 *
 * The child shares our memory until it execs (clone(CLONE_VM |
 * CLONE_VFORK)), so nothing is copied whatever our size, and we are
 * suspended until then; the pidfd comes from the same clone (CLONE_PIDFD),
 * so it names this child and no recycled PID. Every signal is blocked
 * around the clone so that no handler can run on the child's borrowed
 * stack. Single-threaded callers only: the child's stack is one static
 * block.
 *
 * With plan->detach the child gets a copy of our memory instead (fork's
 * clone) and we go on at once: the kernel copies a long argument list
 * (-X's ten thousand words take it milliseconds) while we serve the other
 * jobs. Its exec errors then stay in the child, which exits 127 when even
 * alt_path could not be executed.
 *
 * Under AddressSanitizer or ThreadSanitizer, whose runtimes must see every
 * new process, glibc's posix_spawn runs the same plan instead.
 *
 * Returns 0 with *pid and *pidfd (close-on-exec) set; or -errno, the
 * child's exec error (-ENOENT, -EACCES, -ENOEXEC ...: alt_path's when it
 * was tried) or the clone's, with the failed child already reaped and
 * nothing left open.
 */
int spawn_job(const spawn_plan *plan, const char *path, char *const argv[], pid_t *pid,
              int *pidfd);

/*
 * spawn_prefer_latency - ask the scheduler for short slices for us (not
 * for the jobs) where it takes them (Linux 6.12's EEVDF custom slices).
 *
 * We run in bursts of some tens of microseconds, and each starts a job:
 * with the default slice, our wakeup (the pidfd, or the vfork child's
 * exec) often waits behind the very job we just started, which has the
 * CPU, while a freed slot idles. Asked only when we run SCHED_OTHER at a
 * nice value of 0 or more, so that SCHED_RESET_ON_FORK, which keeps the
 * jobs at the default slice, changes nothing else they inherit; nothing
 * where the kernel refuses.
 */
void spawn_prefer_latency(void);

/* The full path of the program a command word names, searched in PATH as
   execvp would; NULL when none. The result is cached for the next call with
   the same name. */
const char *spawn_resolve(const char *name);

/* The same search, uncached: a new string, or NULL. */
char *spawn_search(const char *name);

#endif
