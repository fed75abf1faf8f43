/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* jobguard.c: the guard of jobguard.h, which ends a dead process's jobs. */
#include "jobguard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One message on the pipe: short enough that each write is atomic. */
#define SLOT_ALL UINT32_MAX /* every slot (its maker ends normally) */
typedef struct guard_msg {
    uint32_t slot;
    int32_t pgid;
} guard_msg;

/* In the guard: only async-signal-safe calls (its maker may have threads);
   tab (nslots entries, zeroed) was allocated before the fork. */
static _Noreturn void guard_main(int fd, pid_t *tab, size_t nslots)
{
    guard_msg m;
    for (;;) {
        ssize_t n = read(fd, &m, sizeof m);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof m)
            break;
        pid_t v = m.pgid > 0 ? m.pgid : 0;
        if (m.slot < nslots)
            tab[m.slot] = v;
        for (size_t i = 0; m.slot == SLOT_ALL && i < nslots; i++)
            tab[i] = v;
    }
    bool any = false;
    for (size_t i = 0; i < nslots; i++)
        if (tab[i] > 0 && kill(-tab[i], SIGTERM) == 0)
            any = true;
    if (any) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        for (size_t i = 0; i < nslots; i++)
            if (tab[i] > 0)
                kill(-tab[i], SIGKILL);
    }
    _exit(0);
}

int jobguard_start(jobguard *g, size_t nslots)
{
    *g = (jobguard){ .fd = -1 };
    pid_t *tab = calloc(nslots ? nslots : 1, sizeof *tab);
    if (!tab)
        return -ENOMEM;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        int err = -errno;
        free(tab);
        return err;
    }
    pid_t c = fork();
    if (c == 0) {
        int fd = p[0];
        /* Out of its maker's process group and session, and deaf to the
           interrupts: the launcher ending the maker's group must not end
           the guard before it has ended the jobs. Nothing of the maker's
           is held here (its pipes and output must not outlive it). */
        setsid();
        struct sigaction ign = { .sa_handler = SIG_IGN };
        sigaction(SIGINT, &ign, NULL);
        sigaction(SIGTERM, &ign, NULL);
        sigaction(SIGHUP, &ign, NULL);
        if (fd > 0)
            syscall(SYS_close_range, 0u, (unsigned)fd - 1, 0u);
        syscall(SYS_close_range, (unsigned)fd + 1, ~0u, 0u);
        guard_main(fd, tab, nslots);
    }
    int err = c < 0 ? -errno : 0;
    close(p[0]);
    free(tab); /* the guard has its own copy */
    if (err < 0) {
        close(p[1]);
        return err;
    }
    *g = (jobguard){ .fd = p[1], .pid = c, .of = getpid() };
    return 0;
}

bool jobguard_mine(const jobguard *g)
{
    return g->fd >= 0 && g->of == getpid();
}

void jobguard_tell(const jobguard *g, size_t slot, pid_t pgid)
{
    if (!jobguard_mine(g))
        return;
    guard_msg m = { .slot = (uint32_t)slot, .pgid = (int32_t)pgid };
    ssize_t n;
    do
        n = write(g->fd, &m, sizeof m);
    while (n < 0 && errno == EINTR);
    /* A guard that is gone guards nothing: the job still runs. */
}

void jobguard_end(jobguard *g)
{
    if (!jobguard_mine(g))
        return;
    /* What its maker did not tell is over, or is its maker's to end. */
    jobguard_tell(g, SLOT_ALL, 0);
    close(g->fd);
    while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *g = (jobguard){ .fd = -1 };
}
