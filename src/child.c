/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* child.c: the library's code that runs in a new child between fork and the
 * user's function, and on its way out.
 *
 * It is kept together to be audited at a glance: after a fork from a
 * multithreaded parent only async-signal-safe calls belong here. Keeping it
 * small and in one place also keeps a start fast: a child faults in every
 * page of code it touches for the first time.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <unistd.h>

int mproc__devnull_open(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int mproc__stdin_from(int fd)
{
    if (fd == 0)
        return fcntl(0, F_SETFD, 0) < 0 ? -errno : 0;
    /* dup2 onto 0 is the one place close-on-exec is cleared: stdin must
       survive an exec in the child. */
    int err = dup2(fd, 0) < 0 ? -errno : 0;
    close(fd);
    return err;
}

int mproc__stdin_devnull(void)
{
    int fd = mproc__devnull_open();
    return fd < 0 ? fd : mproc__stdin_from(fd);
}

void mproc__flush_std(void)
{
    /* An empty stream is skipped without taking its lock: after a fork every
       write, even to a lock word, costs a page copy. */
    if (__fpending(stdout))
        fflush(stdout);
    if (__fpending(stderr))
        fflush(stderr);
}

void mproc__child_leave(int rc)
{
    mproc__flush_std();
    _exit(rc & 0xff);
}
