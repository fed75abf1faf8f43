/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 01_fork: fork returns twice: the child's PID in the parent, 0 in the child. */
#include <mproc.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    printf("before fork: one process, pid %d\n", (int)getpid());
    pid_t pid = mproc_fork(); /* flushes stdout first, so the line above prints once */
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", mproc_strerror(pid));
        return 1;
    }
    if (pid == 0) {
        printf("  child:  mproc_fork returned 0; I am %d\n", (int)getpid());
        mproc_exit(0);
    }
    waitpid(pid, NULL, 0); /* let the child speak first */
    printf("  parent: mproc_fork returned %d, my child's PID\n", (int)pid);
    return 0;
}
