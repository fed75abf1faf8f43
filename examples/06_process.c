/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 06_process: a Process object, as multiprocessing.Process: target and
 * argument, name, pid, daemon, is_alive, join, exit code. */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

static int square(void *arg)
{
    int n = *(int *)arg;
    printf("  [%s] %d squared is %d\n", mproc_process_name(mproc_current_process()), n, n * n);
    return n * n % 256; /* the return value is the exit code */
}

int main(void)
{
    int n = 7;
    mproc_process_opts opts = { .name = "squarer" };
    mproc_process *p;
    int err = mproc_process_new(&p, square, &n, &opts);
    if (err < 0) {
        fprintf(stderr, "mproc_process_new: %s\n", mproc_strerror(err));
        return 1;
    }
    printf("  before start: alive=%d pid=%d daemon=%d\n", mproc_process_is_alive(p),
           (int)mproc_process_pid(p), mproc_process_daemon(p));
    mproc_process_start(p);
    printf("  started %s as pid %d\n", mproc_process_name(p), (int)mproc_process_pid(p));
    mproc_process_join(p, -1);
    int code;
    mproc_process_exitcode(p, &code);
    printf("  after join: alive=%d exitcode=%d\n", mproc_process_is_alive(p), code);
    mproc_process_free(p);
    return 0;
}
