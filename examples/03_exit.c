/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 03_exit: a process ends with a status (0-255) or with a message (status 1),
 * and its parent reads how it ended. */
#include <mproc.h>
#include <stdio.h>
#include <sys/wait.h>

int main(void)
{
    pid_t a = mproc_fork();
    if (a == 0)
        mproc_exit(3); /* like os._exit(3) after a flush */
    pid_t b = mproc_fork();
    if (b == 0)
        mproc_exit_msg("child %d: giving up, no input", 2); /* like sys.exit("...") */
    if (a < 0 || b < 0)
        return 1;
    int st;
    waitpid(a, &st, 0);
    printf("  first child exited with status %d\n", WEXITSTATUS(st));
    waitpid(b, &st, 0);
    printf("  second child printed its message and exited with status %d\n", WEXITSTATUS(st));
    return 0;
}
