/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* internal.h: what every module of libmproc shares and users never see. */
#ifndef MPROC_INTERNAL_H
#define MPROC_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "mproc.h"

/* What libmproc-mpi, a second library, uses of libmproc's internals is
   exported from the shared library under this mark; it is not part of the
   API (pool_ext.h says what for). */
#define MPROC__EXT_API __attribute__((visibility("default")))

/* Internal names with linkage across modules start with mproc__ and are
   hidden by the build's default visibility. */

/* ---- errors ---------------------------------------------------------- */

/* The one conversion at the syscall boundary: -errno, never 0. */
static inline int mproc__err(void) { return errno > 0 ? -errno : -EIO; }

/* ---- time ---------------------------------------------------------------- */

/* CLOCK_MONOTONIC, in seconds. */
double mproc__now(void);
/* The absolute deadline for a user timeout: negative means forever (INFINITY). */
double mproc__deadline(double timeout);
/* Milliseconds left until deadline for poll(): -1 forever, rounded up so a
   wait never ends before its deadline. */
int mproc__poll_ms(double deadline);
/* Sleep for seconds, resuming after signals. */
void mproc__sleep(double seconds);
/* True for a timeout argument the API accepts: >= 0, or negative meaning
   forever; NaN is refused. */
bool mproc__timeout_ok(double timeout);

/* ---- the machine --------------------------------------------------------------- */

/* The tightest CPU quota (in CPUs, INFINITY for none) on the way from the
   cgroup named in self_cgroup (a /proc/PID/cgroup file) up to the hierarchy
   mounted at root; v2 cpu.max, or v1 cpu.cfs_quota_us over cfs_period_us
   under root/cpu. */
double mproc__cgroup_quota(const char *self_cgroup, const char *root);

/* ---- descriptors ------------------------------------------------------------ */

/* read/write that resume after EINTR and finish short transfers. They return
   the bytes moved (read: fewer only at end of file) or -errno. */
ssize_t mproc__read_full(int fd, void *buf, size_t len);
ssize_t mproc__write_full(int fd, const void *buf, size_t len);
/* close() once, never retried (Linux releases the descriptor even on EINTR);
   keeps errno. Accepts -1. */
void mproc__close(int fd);
/* poll() on one descriptor until an event or the deadline; 1 ready, 0
   timed out, -errno. */
int mproc__poll_one(int fd, short events, double deadline);
/* Read a whole small file (under /proc) into buf, NUL-terminated; returns
   its length or -errno. */
ssize_t mproc__read_file(const char *path, char *buf, size_t size);

/* ---- memory ----------------------------------------------------------------- */

/* Room for at least need elements of elem bytes in the growing array whose
   pointer is at *(T **)vec and whose capacity is *cap: the capacity doubles
   from first (or from *cap), so that n pushes cost O(n) copying. 0, or
   -ENOMEM with the array and *cap unchanged. */
MPROC__EXT_API int mproc__grow(void *vec, size_t *cap, size_t need, size_t elem, size_t first);

/* ---- futexes (futex.c) ------------------------------------------------------- */

/* Sleep while *word == expect, until woken or the absolute monotonic
   deadline (INFINITY: none). Shared (not FUTEX_PRIVATE) because the word
   lives in memory mapped by several processes. Returns 0 when woken or the
   word already differed (the caller re-checks), -ETIMEDOUT, or -EINTR
   after a signal handler ran (the caller re-checks and waits again). */
/* An absolute monotonic time (seconds) as a timespec, rounded up so that a
   kernel deadline is never before ours. */
struct timespec;
void mproc__timespec(double t, struct timespec *ts);
int mproc__futex_wait(_Atomic uint32_t *word, uint32_t expect, double deadline);
/* Wake up to n sleepers on word. */
void mproc__futex_wake(_Atomic uint32_t *word, int n);

/* The busy-wait hint for the few microseconds a spin before a futex sleep
   lasts; spin only where another CPU can make progress meanwhile. */
static inline void mproc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- pidfds -------------------------------------------------------------- */

/* pidfd_open with close-on-exec; -errno (-ENOSYS on old kernels). */
int mproc__pidfd_open(pid_t pid);
int mproc__pidfd_send_signal(int pidfd, int sig);

/* Decode a waitid() result into the Python convention: exit status, or -N
   for signal N. */
int mproc__exit_code(const siginfo_t *si);

/* ---- children this library owns ------------------------------------------ */

/* Every child the library starts is registered here between fork and reap,
   so that mproc_wait_any and the autoreaper never take its exit status.
   Both are safe to call from any thread; mproc__child_is_owned is also
   async-signal-safe. */
void mproc__child_own(pid_t pid);
void mproc__child_disown(pid_t pid);
bool mproc__child_is_owned(pid_t pid);
/* Bracket fork() and mproc__child_own() so that the autoreaper never reaps a
   managed child in between. */
void mproc__fork_begin(void);
void mproc__fork_end(void);

/* ---- the child side (child.c) ----------------------------------------------- */

/* Point the calling process's stdin at /dev/null; 0 or -errno. */
int mproc__stdin_devnull(void);
/* The same in two steps, so that a parent can open /dev/null before it
   forks (a descriptor or -errno) and the child, which then needs no free
   descriptor, makes it stdin (taking fd over; 0 or -errno). */
int mproc__devnull_open(void);
int mproc__stdin_from(int fd);
/* The one way out of a child that ran a function: flush stdout and stderr,
   then _exit with status rc & 0xff. */
_Noreturn void mproc__child_leave(int rc);

/* Flushes stdout and stderr where they hold output. */
void mproc__flush_std(void);

/* Blocks every signal in the calling thread, keeping the old mask; used
   around fork so that no handler runs in the child before it is ready. */
void mproc__block_all(sigset_t *old);
void mproc__restore_mask(const sigset_t *old);


#endif
