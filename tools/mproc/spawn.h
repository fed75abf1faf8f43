/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* spawn.h: how `mproc run` starts a job: vfork-style, with a pidfd. */
#ifndef MPROC_TOOL_SPAWN_H
#define MPROC_TOOL_SPAWN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The CPUs we may run on, and the one we are held to (spawncpu.c). */
typedef struct spawn_cpus {
    cpu_set_t *orig;        /* our affinity as we were started: every job's */
    cpu_set_t *one;         /* scratch: one CPU */
    size_t size;            /* of both sets */
    int *list, n;           /* orig's CPUs, in order */
    int pinned;             /* the CPU we are held to, or -1 */
    cpu_set_t *wait;        /* the CPU to wait on, which the next child holds us to */
    int wait_cpu;           /* that CPU, or -1: the child leaves our CPUs alone */
    pid_t self;
} spawn_cpus;

/* What the child does between the clone and the exec. */
typedef struct spawn_plan {
    int fd0, fd1, fd2;      /* made the child's 0, 1, 2 (close-on-exec cleared) */
    const sigset_t *mask;   /* the child's signal mask at exec */
    bool reset_sigpipe;     /* SIGPIPE back to SIG_DFL (the tool ignores it) */
    char *const *envp;      /* the job's environment; NULL: environ */
    const char *alt_path;   /* executed instead when path cannot be (or is NULL) */
    char *const *alt_argv;
    bool detach;            /* a long argument list: do not wait while the exec copies it */
    const spawn_cpus *cpus; /* when it holds us to one CPU, the child gets orig back; or NULL */
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
 * While plan->cpus holds us to one CPU, the child gets plan->cpus->orig
 * back before its exec, so no job inherits our hold.
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

/*
 * spawn_cpus_init - learn our CPUs (sched_getaffinity), so that we may be
 * held to one of them while the jobs fill them all and a job's exit wakes
 * us on the CPU it frees (spawncpu.c says why).
 *
 * Returns 0; or -ENOTSUP with one CPU or under the sanitizers (whose
 * posix_spawn could not give the jobs their CPUs back), or another -errno:
 * then c holds nothing and the other calls do nothing.
 */
int spawn_cpus_init(spawn_cpus *c);

/* Hold us to the CPU of slot (0-based): the slot-th of ours, round. No
   system call when we are held there already. */
void spawn_cpus_hold(spawn_cpus *c, long slot);

/* The next child, before its exec, holds us to slot's CPU while we wait
   for that exec (spawn_job), so that its exec wakes us there instead of
   beside it, where we would only preempt it before moving. Then
   spawn_cpus_waited, after spawn_job. */
void spawn_cpus_wait_on(spawn_cpus *c, long slot);
void spawn_cpus_waited(spawn_cpus *c);

/* Let us run on all of ours again. */
void spawn_cpus_release(spawn_cpus *c);

/* Release, and free what init took. */
void spawn_cpus_free(spawn_cpus *c);

/* The full path of the program a command word names, searched in PATH as
   execvp would; NULL when none. The result is cached for the next call with
   the same name. */
const char *spawn_resolve(const char *name);

/* The same search, uncached: a new string, or NULL. */
char *spawn_search(const char *name);

#endif
