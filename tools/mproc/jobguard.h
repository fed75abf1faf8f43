/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* jobguard.h: a process that ends the jobs of the process that made it when
 * that one dies, however it dies (SIGKILL included).
 *
 * Under an MPI launcher a rank is ended by signals to its process group
 * (Open MPI's mpirun: SIGCONT, SIGTERM, then SIGKILL as soon as one of the
 * ranks has died, milliseconds later on a busy machine), and each job runs
 * in a process group of its own, which those signals never reach. So every
 * process that starts jobs there (rank 0's runner, each worker of the other
 * ranks) makes a guard first: a child forked once, in a session of its own
 * and deaf to the interrupts, holding nothing but the read end of a pipe
 * that only its maker writes to, and a table in memory shared with its
 * maker, where the maker names the process group of the job in each of its
 * slots. When the pipe ends (its maker is gone), the guard ends every group
 * the table names, SIGTERM then SIGKILL, as a local job is ended. */
#ifndef MPROC_TOOL_JOBGUARD_H
#define MPROC_TOOL_JOBGUARD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct jobguard {
    int fd;      /* the pipe's write end, -1: no guard */
    pid_t pid;   /* the guard */
    pid_t of;    /* the process that made it (a forked copy has none) */
    _Atomic int32_t *tab; /* by slot, the job's process group (0: none) */
    size_t nslots, bytes;
} jobguard;

/* Makes the guard for nslots jobs at once; 0 or -errno (then g->fd < 0). */
int jobguard_start(jobguard *g, size_t nslots);
/* Whether g is the calling process's own guard. */
bool jobguard_mine(const jobguard *g);
/* The job in slot runs in process group pgid (0: the slot is empty). */
void jobguard_tell(const jobguard *g, size_t slot, pid_t pgid);
/* Every job has ended: the guard goes (and is reaped). In a forked copy
   of its maker, only the copy's view of the table goes. */
void jobguard_end(jobguard *g);

#endif
