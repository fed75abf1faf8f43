/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* prog.c: a program that uses libmproc as a user's would, built by the
 * install and embedding tests against the installed or embedded library. */
#include <mproc.h>
#include <stdio.h>
#include <string.h>

static int seven(void *arg)
{
    (void)arg;
    return 7;
}

int main(void)
{
    mproc_process *p;
    int code = -1;
    if (strcmp(mproc_version(), MPROC_VERSION_STRING) != 0)
        return 3;
    if (mproc_process_new(&p, seven, 0, 0) || mproc_process_start(p) || mproc_process_join(p, -1))
        return 1;
    mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    printf("mproc %s %s\n", mproc_version(), mproc_errname(MPROC_EWORKER));
    return code == 7 ? 0 : 2;
}
