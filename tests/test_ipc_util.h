/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_ipc_util.h: what the IPC tests share: children that run a function,
 * killed or reaped on cue. */
#ifndef MPROC_TEST_IPC_UTIL_H
#define MPROC_TEST_IPC_UTIL_H

#include "harness.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fork a child that runs fn(arg) and exits with its return value. */
static inline pid_t ipc_spawn(int (*fn)(void *), void *arg)
{
    pid_t pid = mproc_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        mproc_exit(fn(arg));
    return pid;
}

/* Reap pid; its exit status, or -N for signal N. */
static inline int ipc_reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static inline void ipc_kill(pid_t pid)
{
    kill(pid, SIGKILL);
    ck_assert_int_eq(ipc_reap(pid), -SIGKILL);
}

/* A cheap checksum of a message, so a torn message is noticed. */
static inline uint32_t ipc_sum(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

#endif
