/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* jobenv.c: the environment of mproc run's jobs: ours, plus what GNU
 * parallel tells each job (PARALLEL_SEQ, PARALLEL_JOBSLOT, PARALLEL_PID,
 * PARALLEL_TMPDIR, PARALLEL_SHELL). Built once; a job's numbers are written
 * into the same two strings before each start, which is safe because the
 * spawner returns only after the job has exec'd its copy. */
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char *const ours[] = { "PARALLEL_SEQ=", "PARALLEL_JOBSLOT=", "PARALLEL_PID=",
                                    "PARALLEL_TMPDIR=", "PARALLEL_SHELL=" };
#define NOURS (sizeof ours / sizeof ours[0])

static bool is_ours(const char *e)
{
    for (size_t k = 0; k < NOURS; k++)
        if (!strncmp(e, ours[k], strlen(ours[k])))
            return true;
    return false;
}

void jobenv_init(jobenv *e, const char *shell, const char *tmpdir)
{
    size_t n = 0;
    for (char **p = environ; *p; p++)
        n++;
    e->envp = xmalloc((n + NOURS + 1) * sizeof *e->envp);
    size_t k = 0;
    for (char **p = environ; *p; p++)
        if (!is_ours(*p))
            e->envp[k++] = *p;
    e->envp[k++] = e->seq;
    e->envp[k++] = e->slot;
    tbuf b = {0};
    tbuf_addf(&b, "PARALLEL_PID=%d", (int)getpid());
    e->owned[0] = e->envp[k++] = b.p;
    b = (tbuf){0};
    tbuf_addf(&b, "PARALLEL_TMPDIR=%s", tmpdir);
    e->owned[1] = e->envp[k++] = b.p;
    b = (tbuf){0};
    tbuf_addf(&b, "PARALLEL_SHELL=%s", shell);
    e->owned[2] = e->envp[k++] = b.p;
    e->envp[k] = NULL;
    jobenv_set(e, 0, 0);
}

/* name then v in decimal into buf: this runs for every job, so without
   printf's cost. */
static void put_num(char *buf, const char *name, size_t v)
{
    char digits[24];
    size_t n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    size_t l = strlen(name);
    memcpy(buf, name, l);
    while (n > 0)
        buf[l++] = digits[--n];
    buf[l] = '\0';
}

char *const *jobenv_set(jobenv *e, size_t seq, int slot)
{
    put_num(e->seq, "PARALLEL_SEQ=", seq);
    put_num(e->slot, "PARALLEL_JOBSLOT=", slot > 0 ? (size_t)slot : 0);
    return e->envp;
}

void jobenv_free(jobenv *e)
{
    for (size_t k = 0; k < sizeof e->owned / sizeof e->owned[0]; k++)
        free(e->owned[k]);
    free(e->envp);
    memset(e, 0, sizeof *e);
}
