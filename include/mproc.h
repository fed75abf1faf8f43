/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/**
 * mproc.h: processes, process pools and inter-process communication for C,
 * after Python's multiprocessing.
 *
 * Overview
 * --------
 * - errors:     every function that can fail returns int: 0 (or a documented
 *               non-negative value) on success, a negative errno value
 *               (-EINVAL, -ETIMEDOUT, ...) or one of the MPROC_E* codes on
 *               failure. mproc_strerror() gives the text. The library never
 *               prints, logs or exits on its own.
 * - timeouts:   arguments in seconds; negative waits forever, 0 does not
 *               wait; NaN is -EINVAL. Option-struct fields differ: there 0
 *               means the default.
 * - options:    option structs may be NULL for the defaults and are
 *               zero-initialised by callers (`mproc_pool_opts o = {0};`).
 * - processes:  mproc_fork, mproc_exit, mproc_process_* (a Process object),
 *               the zombie and orphan tools (mproc_wait_any,
 *               mproc_spawn_detached, mproc_autoreap, mproc_subreaper) and
 *               mproc_procinfo_get (what ps shows).
 * - the pool:   mproc_pool_* and mproc_result_* (include/mproc/pool.h).
 * - IPC:        pipes, queues, shared memory, locks (include/mproc/ipc.h).
 *
 * Descriptors: every descriptor the library opens is close-on-exec.
 * Children: the library waits only for the children it started, except in
 * mproc_wait_any and the autoreaper, which the caller asks for. It never
 * installs a SIGCHLD handler unless autoreap is on and never lets SIGPIPE
 * reach the caller's process.
 */
#ifndef MPROC_H
#define MPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPROC_VERSION_MAJOR 0
#define MPROC_VERSION_MINOR 1
#define MPROC_VERSION_PATCH 0

#if defined(MPROC_BUILDING)
#define MPROC_API __attribute__((visibility("default")))
#else
#define MPROC_API
#endif

/* ---- errors ---------------------------------------------------------- */

#define MPROC_ETASK        (-10001) /* the task function returned non-zero */
#define MPROC_EWORKER      (-10002) /* the worker died while running the task */
#define MPROC_ETASKTIMEOUT (-10003) /* the task ran past task_timeout and was killed */
#define MPROC_EINIT        (-10004) /* a worker's initializer failed: the pool is broken */

/**
 * mproc_strerror - the text for any code the library returns.
 *
 * Accepts 0, negative errno values and the MPROC_E* codes; anything else is
 * "unknown error". Returns a static string, never NULL. Thread-safe.
 */
MPROC_API const char *mproc_strerror(int err);

/* ---- the machine ------------------------------------------------------ */

/**
 * mproc_cpu_count - the CPUs this process may use.
 *
 * The number of CPUs in the affinity mask, lowered to the cgroup CPU quota
 * (cgroup v2 cpu.max of this process's cgroup and its ancestors, or v1
 * cpu.cfs_quota_us / cpu.cfs_period_us), a fractional quota rounded up.
 * Read afresh at each call; always at least 1.
 */
MPROC_API int mproc_cpu_count(void);

/* ---- creating and ending processes ---------------------------------- */

/**
 * mproc_fork - fork(2) done safely.
 *
 * Flushes every stdio stream first (so buffered output is not printed twice)
 * and runs the pthread_atfork handlers, as fork(3) does. In the child, the
 * library forgets the parent's children and process objects: they are not
 * the child's.
 *
 * Returns the child's PID in the parent, 0 in the child, or a negative errno
 * (-EAGAIN when RLIMIT_NPROC or memory forbids another process).
 */
MPROC_API pid_t mproc_fork(void);

/**
 * mproc_exit - end the calling process now with status (0..255).
 *
 * Flushes stdio, then leaves through _exit(2): atexit handlers do not run,
 * which is what a forked child wants (they belong to the parent), as
 * Python's os._exit after a flush. Call exit(3) instead where atexit
 * handlers should run. Does not return.
 */
MPROC_API _Noreturn void mproc_exit(int status);

/**
 * mproc_exit_msg - end the calling process with a message, as Python's
 * sys.exit("message").
 *
 * Prints the formatted message and a newline to stderr, flushes stdio and
 * leaves through _exit(1). Does not return.
 */
MPROC_API _Noreturn void mproc_exit_msg(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---- process objects (multiprocessing.Process) ------------------------ */

typedef struct mproc_process mproc_process;
typedef int (*mproc_target_fn)(void *arg); /* its return value is the exit code */

typedef struct mproc_process_opts {
    const char *name;  /* NULL: "Process-N", N counting from 1 in this program */
    bool daemon;       /* killed when the parent ends, however it ends */
    bool keep_stdin;   /* false: the child's stdin is /dev/null */
} mproc_process_opts;

/**
 * mproc_process_new - make a process object that will run target(arg).
 *
 * Nothing is started until mproc_process_start. opts may be NULL; its name
 * is copied. Unnamed processes are "Process-N", N counting every process
 * object this program made, from 1; in a child started by mproc_process,
 * its own children are "Process-N:K", as in Python.
 *
 * On success *out owns the object (free it with mproc_process_free).
 * Returns 0, -EINVAL (NULL out or target), -ENOMEM. *out is written only on
 * success.
 */
MPROC_API int mproc_process_new(mproc_process **out, mproc_target_fn target, void *arg,
                                const mproc_process_opts *opts);

/**
 * mproc_process_start - fork and run the target in the child.
 *
 * The parent's stdout and stderr are flushed first. The child's stdin is
 * /dev/null unless keep_stdin; when target returns, the child flushes
 * stdout and stderr and leaves through _exit with the return value as its
 * status (the kernel keeps 0..255), so atexit handlers of the parent never
 * run in it and no buffered output is printed twice. As in Python, other
 * streams the target writes to are its own to flush or close.
 *
 * A daemon child ends when this *process* ends, however it ends: by
 * PR_SET_PDEATHSIG from a thread that lives as long as the process (every
 * daemon is forked by a library thread, started on first use, since the
 * death signal follows the forking thread and threads, the main one
 * included, may end before the process), with getppid() checked after the
 * fork for a parent that already died. At normal exit
 * daemons get SIGTERM (SIGKILL a second later) and are reaped, and
 * non-daemon children are joined, as in Python.
 *
 * Returns 0; -EINVAL (NULL, or started before); -EAGAIN or -ENOMEM when the
 * kernel refuses another process (nothing is leaked and the object may be
 * started again).
 */
MPROC_API int mproc_process_start(mproc_process *p);

/**
 * mproc_process_join - wait until the process has ended and reap it.
 *
 * Waits on the process's pidfd with poll(2): no busy loop, no SIGCHLD
 * handler. Several threads may join the same process at once.
 * Returns 0 once ended (also when already reaped), -ETIMEDOUT, -EINVAL
 * (NULL, not started, NaN timeout).
 */
MPROC_API int mproc_process_join(mproc_process *p, double timeout);

/** True between start and the end of the process; notices the end without a join. */
MPROC_API bool mproc_process_is_alive(mproc_process *p);

/** The child's PID; 0 before start. */
MPROC_API pid_t mproc_process_pid(const mproc_process *p);

/** The process's name; valid while the object lives. */
MPROC_API const char *mproc_process_name(const mproc_process *p);

/** True for a daemon process. */
MPROC_API bool mproc_process_daemon(const mproc_process *p);

/**
 * mproc_process_exitcode - how the process ended, as Python's exitcode.
 *
 * Returns 1 and sets *code once the process has ended: the target's return
 * value as the kernel keeps it (0..255), or -N when signal N ended it.
 * Returns 0 (and leaves *code alone) while not started or still running,
 * -EINVAL for NULL arguments. Notices the end without a join.
 */
MPROC_API int mproc_process_exitcode(mproc_process *p, int *code);

/**
 * mproc_process_terminate / mproc_process_kill - send SIGTERM / SIGKILL.
 *
 * Through the pidfd, so never to a recycled PID: after the process has been
 * reaped they return 0 and send nothing. Before start: -EINVAL.
 */
MPROC_API int mproc_process_terminate(mproc_process *p);
MPROC_API int mproc_process_kill(mproc_process *p);

/**
 * mproc_process_free - release the object. A process still running is
 * killed (SIGKILL) and reaped: never a zombie. Accepts NULL.
 */
MPROC_API void mproc_process_free(mproc_process *p);

/**
 * mproc_current_process - the process object of the calling process.
 *
 * In a child started by mproc_process_start: the child's own object (its
 * name, its pid). Elsewhere an object named "MainProcess" whose pid is
 * getpid(). Owned by the library (mproc_process_free ignores it). It is
 * always alive; start, join, terminate and kill on it return -EINVAL.
 */
MPROC_API const mproc_process *mproc_current_process(void);

/**
 * mproc_active_children - the process objects of this process still alive,
 * as Python's active_children(); ended ones are reaped on the way.
 *
 * Writes up to cap pointers to out (out may be NULL when cap is 0) and
 * returns how many are alive, which may exceed cap. The objects stay owned
 * by their creators.
 */
MPROC_API int mproc_active_children(mproc_process **out, size_t cap);

/* ---- zombies and orphans ------------------------------------------------ */

/**
 * mproc_wait_any - reap any one child that is not managed by the library,
 * as os.wait(), with a timeout.
 *
 * Children owned by mproc_process objects or a pool keep their exit status
 * for their owner. Sets *pid and *code (exit status, or -N for signal N);
 * either may be NULL. Returns 0, -ECHILD when there is no such child,
 * -ETIMEDOUT when none ended in time, -EINVAL for a NaN timeout.
 */
MPROC_API int mproc_wait_any(double timeout, pid_t *pid, int *code);

/**
 * mproc_spawn_detached - the double-fork trick: run fn(arg) in a grandchild
 * that this process never has to wait for.
 *
 * An intermediate child forks the grandchild and exits at once; it is
 * reaped before this returns, so the grandchild is adopted by init (or by
 * the nearest subreaper) and can never be our zombie. The grandchild's
 * stdin is /dev/null; fn's return value is its exit status.
 *
 * Returns the grandchild's PID (> 0), or -EINVAL (NULL fn), -EAGAIN,
 * -ENOMEM.
 */
MPROC_API pid_t mproc_spawn_detached(mproc_target_fn fn, void *arg);

/**
 * mproc_autoreap - reap stray children automatically, as
 * signal(SIGCHLD, SIG_IGN) does, without its flaw.
 *
 * SIG_IGN makes the kernel discard every child's exit status, including
 * those of process objects. Instead, with on, a SIGCHLD handler reaps any
 * ended child that the library does not manage; process objects and pools
 * still get theirs. With off, the previous disposition is restored.
 * Process-wide. Returns 0 or a negative errno.
 */
MPROC_API int mproc_autoreap(bool on);

/**
 * mproc_subreaper - make this process the subreaper of its descendants
 * (PR_SET_CHILD_SUBREAPER): orphaned grandchildren are re-parented to us
 * instead of init, to be reaped by mproc_wait_any or the autoreaper.
 * Returns 0 or a negative errno.
 */
MPROC_API int mproc_subreaper(bool on);

/* ---- what ps shows -------------------------------------------------------- */

typedef struct mproc_procinfo {
    pid_t pid;
    pid_t ppid;
    char state;          /* as ps prints it first in STAT: R S D T t Z X I */
    char name[64];       /* the command name (comm), as ps -o comm */
    double start_time;   /* seconds since the epoch */
    size_t rss;          /* resident memory, bytes */
    int threads;         /* number of threads */
    pid_t pgrp;          /* process group */
} mproc_procinfo;

/**
 * mproc_procinfo_get - what /proc says of process pid (0: the caller).
 * Returns 0, -ESRCH when there is no such process, -EINVAL (negative pid,
 * NULL info). *info is written only on success.
 */
MPROC_API int mproc_procinfo_get(pid_t pid, mproc_procinfo *info);

/**
 * mproc_procinfo_children - the PIDs of pid's children (0: the caller's),
 * zombies included, in ascending order.
 *
 * Writes up to cap PIDs and returns how many children there are (possibly
 * more than cap), or -ESRCH, -EINVAL.
 */
MPROC_API int mproc_procinfo_children(pid_t pid, pid_t *out, size_t cap);

#ifdef __cplusplus
}
#endif

#include "mproc/pool.h"
#include "mproc/ipc.h"

#endif
