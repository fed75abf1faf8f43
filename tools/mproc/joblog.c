/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* joblog.c: the joblog, one line per finished job in GNU parallel's format. */
#include "run.h"

#include <string.h>

FILE *joblog_open(const char *path)
{
    bool append = path[0] == '+';
    FILE *f;
    if (!strcmp(path, "-"))
        f = stdout;
    else
        f = fopen(path + append, append ? "ae" : "we");
    if (!f)
        return NULL;
    if (!append)
        fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n", f);
    fflush(f);
    return f;
}

void joblog_close(FILE *f)
{
    if (f == stdout)
        fflush(stdout);
    else if (f)
        fclose(f);
}

void joblog_write(FILE *f, const joblog_rec *rec)
{
    if (!f)
        return;
    fprintf(f, "%zu\t:\t%.3f\t%10.3f\t%zu\t%zu\t%d\t%d\t", rec->seq, rec->start_real,
            rec->runtime, rec->sent, rec->received, rec->exitval, rec->sig);
    /* One line per job: a newline in the command is written as a NUL byte,
       as GNU parallel does. */
    for (size_t k = 0; k < rec->cmdlen; k++)
        putc(rec->cmd[k] == '\n' ? '\0' : rec->cmd[k], f);
    putc('\n', f);
    fflush(f);
}
