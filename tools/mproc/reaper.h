/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* reaper.h: the thread that reaps `mproc run`'s jobs (see reaper.c). */
#ifndef MPROC_TOOL_REAPER_H
#define MPROC_TOOL_REAPER_H

#include <stddef.h>
#include <sys/types.h>

/* One reaped job: its PID and waitid's si_code and si_status. */
typedef struct reaped {
    pid_t pid;
    int code, status;
} reaped;

typedef struct reaper reaper;

/* Start the thread; 0 with *w set, or -errno. */
int reaper_start(reaper **w);
/* Readable (close-on-exec, non-blocking) when jobs were reaped. */
int reaper_fd(const reaper *w);
/* A job was started: the thread, when it waits for one, waits no more. */
void reaper_started(reaper *w);
/* Up to max records of reaped jobs, in the order reaped; 0 when none. */
size_t reaper_read(reaper *w, reaped *recs, size_t max);
/* End the thread (whatever still runs stays unreaped) and free w; NULL is
   allowed. */
void reaper_stop(reaper *w);

#endif
