/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 02_pids: every process knows its own PID and its parent's. */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

static int show(void *arg)
{
    (void)arg;
    const mproc_process *me = mproc_current_process();
    printf("  child  %-12s pid %d, parent %d\n", mproc_process_name(me), (int)getpid(),
           (int)getppid());
    return 0;
}

int main(void)
{
    printf("  parent %-12s pid %d, parent %d (the shell)\n",
           mproc_process_name(mproc_current_process()), (int)getpid(), (int)getppid());
    mproc_process *p;
    if (mproc_process_new(&p, show, NULL, NULL) < 0 || mproc_process_start(p) < 0)
        return 1;
    mproc_process_join(p, -1);
    mproc_process_free(p);
    return 0;
}
