/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 36_robust_semaphore: two units of a named semaphore, and a holder killed
 * with SIGKILL. A POSIX named semaphore (sem_open) would have lost that
 * unit for good; here a waiter already asleep takes it at once, and the
 * name is gone from /dev/shm when the last user closes. */
#include <mproc.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static char name[64];

/* Take a unit, say so, and hang holding it until killed. */
static int holder(void *arg)
{
    mproc_event *holding = arg;
    mproc_rsem *s;
    if (mproc_rsem_open(&s, name, 0) < 0 || mproc_rsem_acquire(s, -1) < 0)
        return 1;
    printf("  [holder %d] has a unit, now hangs\n", (int)getpid());
    fflush(stdout);
    mproc_event_set(holding);
    pause();
    return 0;
}

int main(void)
{
    snprintf(name, sizeof name, "mproc-example-rsem-%d", (int)getpid());
    mproc_rsem *s;
    int r = mproc_rsem_open(&s, name, 2);
    if (r < 0) {
        fprintf(stderr, "mproc_rsem_open: %s\n", mproc_strerror(r));
        return 1;
    }
    mproc_event *holding;
    mproc_event_new(&holding);
    mproc_process *p;
    mproc_process_new(&p, holder, holding, NULL);
    mproc_process_start(p);
    mproc_event_wait(holding, -1);
    mproc_rsem_acquire(s, -1); /* the second unit */
    printf("  parent: both units held; free: %d\n", mproc_rsem_value(s));
    printf("  parent: try for 0.1 s: %s\n", mproc_strerror(mproc_rsem_acquire(s, 0.1)));
    mproc_process_kill(p); /* SIGKILL: the holder cannot give its unit back */
    mproc_process_join(p, -1);
    r = mproc_rsem_acquire(s, 5);
    printf("  parent: killed the holder; acquire -> %s, free: %d\n", mproc_strerror(r),
           mproc_rsem_value(s));
    mproc_rsem_release(s);
    mproc_rsem_release(s);
    printf("  parent: all back: %d of %d free\n", mproc_rsem_value(s), mproc_rsem_count(s));
    mproc_rsem_close(s);
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    printf("  parent: closed; %s %s\n", path, access(path, F_OK) == 0 ? "is left" : "is gone");
    mproc_process_free(p);
    mproc_event_free(holding);
    return r == 0 ? 0 : 1;
}
