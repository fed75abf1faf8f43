/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 07_terminate: ending a process from outside. SIGTERM gives exit code -15,
 * SIGKILL -9, as Python's exitcode; a join with a timeout does not wait
 * forever. */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

static int forever(void *arg)
{
    int fd = *(int *)arg;
    (void)!write(fd, "r", 1); /* tell the parent we are running */
    for (;;)
        pause();
    return 0;
}

static void run(const char *how, int (*stop)(mproc_process *))
{
    int ready[2];
    if (pipe(ready) < 0)
        return;
    mproc_process *p;
    mproc_process_new(&p, forever, &ready[1], NULL);
    mproc_process_start(p);
    char c;
    (void)!read(ready[0], &c, 1);
    int err = mproc_process_join(p, 0.1);
    printf("  join(0.1 s) on a running process: %s\n", mproc_strerror(err));
    stop(p);
    mproc_process_join(p, -1);
    int code;
    mproc_process_exitcode(p, &code);
    printf("  after %s: exitcode %d\n", how, code);
    mproc_process_free(p);
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    run("terminate (SIGTERM)", mproc_process_terminate);
    run("kill (SIGKILL)", mproc_process_kill);
    return 0;
}
