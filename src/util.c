/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* util.c: EINTR-safe I/O, close-on-exec, monotonic time, pidfds, errors. */
#include "internal.h"

#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double mproc__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool mproc__timeout_ok(double timeout)
{
    return !isnan(timeout);
}

double mproc__deadline(double timeout)
{
    /* Past a billion seconds (31 years) a wait is a wait forever; beyond
       that a deadline would not fit the kernel's timespec. */
    if (timeout < 0 || timeout > 1e9)
        return INFINITY;
    return mproc__now() + timeout;
}

int mproc__poll_ms(double deadline)
{
    if (isinf(deadline))
        return -1;
    double left = deadline - mproc__now();
    if (left <= 0)
        return 0;
    double ms = ceil(left * 1000.0);
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

void mproc__sleep(double seconds)
{
    if (!(seconds > 0))
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

ssize_t mproc__read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mproc__err();
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t mproc__write_full(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mproc__err();
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

void mproc__close(int fd)
{
    if (fd < 0)
        return;
    int saved = errno;
    (void)close(fd);
    errno = saved;
}

int mproc__poll_one(int fd, short events, double deadline)
{
    struct pollfd p = { .fd = fd, .events = events };
    for (;;) {
        int n = poll(&p, 1, mproc__poll_ms(deadline));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mproc__err();
        }
        if (n > 0)
            return 1;
        /* poll may wake a little before a deadline it rounded; wait out the rest. */
        if (mproc__now() >= deadline)
            return 0;
    }
}

int mproc__grow(void *vec, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return -ENOMEM;
        c *= 2;
    }
    /* vec points at a T *, whatever T is: copy the pointer's bytes rather
       than write through a void ** (all object pointers share one
       representation on the systems we build for). */
    void *old;
    memcpy(&old, vec, sizeof old);
    void *v = realloc(old, c * elem);
    if (!v)
        return -ENOMEM;
    memcpy(vec, &v, sizeof v);
    *cap = c;
    return 0;
}

ssize_t mproc__read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mproc__err();
    ssize_t n = mproc__read_full(fd, buf, size - 1);
    mproc__close(fd);
    if (n < 0)
        return n;
    buf[n] = '\0';
    return n;
}

int mproc__pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* pidfds are always close-on-exec (pidfd_open(2)). */
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? mproc__err() : (int)fd;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

int mproc__pidfd_send_signal(int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? mproc__err() : 0;
#else
    (void)pidfd;
    (void)sig;
    return -ENOSYS;
#endif
}

int mproc__exit_code(const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED)
        return si->si_status;
    return -si->si_status;
}

void mproc__block_all(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

void mproc__restore_mask(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}
