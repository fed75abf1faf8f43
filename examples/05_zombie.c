/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 05_zombie: a child that has exited stays a zombie (Z) until its parent
 * reaps it. Three cures: wait for it, the double fork, automatic reaping. */
#include <mproc.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static char state_of(pid_t pid)
{
    mproc_procinfo info;
    return mproc_procinfo_get(pid, &info) == 0 ? info.state : '-';
}

/* Gives the kernel a moment to show the exit (for the display only). */
static char settled_state(pid_t pid, char want)
{
    for (int i = 0; i < 500; i++) {
        char s = state_of(pid);
        if (s == want)
            return s;
        nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
    }
    return state_of(pid);
}

static int quick(void *arg)
{
    (void)arg;
    return 0;
}

int main(void)
{
    pid_t pid = mproc_fork();
    if (pid == 0)
        mproc_exit(0);
    printf("  child %d exited; ps shows it as %c (zombie)\n", (int)pid, settled_state(pid, 'Z'));

    pid_t got;
    mproc_wait_any(-1, &got, NULL);
    printf("  cure 1, wait: reaped %d; now it is %s\n", (int)got,
           state_of(pid) == '-' ? "gone" : "still there");

    pid_t gc = mproc_spawn_detached(quick, NULL);
    printf("  cure 2, double fork: grandchild %d is init's to reap; children left to us: %d\n",
           (int)gc, mproc_procinfo_children(0, NULL, 0));

    mproc_autoreap(true);
    pid = mproc_fork();
    if (pid == 0)
        mproc_exit(0);
    printf("  cure 3, autoreap: child %d exited and is %s without a wait\n", (int)pid,
           settled_state(pid, '-') == '-' ? "gone" : "still a zombie");
    mproc_autoreap(false);
    return 0;
}
