/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpifarm.h: what `mproc run --mpi` (mpirun.c, in the tool) and its MPI
 * module (mpimod/farm.c, a shared object built with libmproc-mpi, one per
 * MPI implementation) share: the module's entry points and the bytes of a
 * job and of its outcome as they travel between the ranks.
 *
 * The tool never links MPI: it loads the module (dlopen) only for --mpi,
 * so a plain `mproc run` starts as fast as ever and one tool serves Open
 * MPI and MPICH jobs alike, each with the module built against it. */
#ifndef MPROC_TOOL_MPIFARM_H
#define MPROC_TOOL_MPIFARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever anything below changes: a module of another version is
   refused. */
#define MPIFARM_VERSION 2

#define MPIFARM_TERMSEQ_MAX 16
/* The most plain words a job is sent with; a longer line goes to the shell. */
#define MPIFARM_NARGV_MAX 4096

/* A job, as the module's task receives it: this header, then the strings
   (each NUL-terminated, in this order): the shell, the command line as the
   shell runs it, nargv plain words (nargv 0: the shell runs the line), and
   the five PARALLEL_* variables of the job ("NAME=value"). */
typedef struct mpifarm_job {
    uint64_t seq;
    double timeout;         /* seconds, 0: none */
    int32_t term_sig[MPIFARM_TERMSEQ_MAX], term_ms[MPIFARM_TERMSEQ_MAX];
    int32_t nterm;
    uint32_t nargv;
    int32_t reset_sigpipe;  /* the job gets SIGPIPE's default action back */
    int32_t pad_;
} mpifarm_job;

#define MPIFARM_NENV 5

/* A finished job, as the task returns it: this header, then outlen bytes
   of stdout, errlen of stderr, and the host name (NUL-terminated). */
typedef struct mpifarm_done {
    double start_real, runtime;
    uint64_t outlen, errlen, received;
    int32_t exitval, sig;
    int32_t timed_out;
    int32_t pad_;
} mpifarm_done;

typedef struct mpifarm mpifarm;

/* The module's entry points (mproc_mpifarm_api() returns them). */
typedef struct mpifarm_api {
    int version;            /* MPIFARM_VERSION */
    const char *impl;       /* "Open MPI", "MPICH" */
    /* The MPI job this process belongs to, from the launcher's environment
       (MPI is not initialized): the rank, and the world size (1: none). */
    int (*rank)(void);
    int (*size)(void);
    /* Every rank but 0: serve rank 0's jobs with jobs workers, then exit(0);
       returns only on a failed start (-errno). */
    int (*serve)(long jobs);
    /* Rank 0 (collective with the others' serve): the farm, with *slots the
       jobs the other ranks run at once. 0 or -errno. */
    int (*start)(mpifarm **out, long *slots);
    /* Queue job bytes; tag comes back with its outcome. 0 or -errno. */
    int (*submit)(mpifarm *f, size_t tag, const void *job, size_t len);
    /* Readable while outcomes wait to be taken. */
    int (*fd)(const mpifarm *f);
    /* The next outcome: 1 with *tag and the done bytes (valid until the
       next take or stop), *code 0 or the task's failure (-ECANCELED after
       stop, MPROC_EWORKER ...); 0 when none waits. */
    int (*take)(mpifarm *f, size_t *tag, const void **data, size_t *len, int *code);
    /* Jobs submitted that no rank has started yet are never started: their
       outcomes come back as -ECANCELED (a job starting meanwhile runs). */
    void (*drop)(mpifarm *f);
    /* End the farm: now (jobs not yet done are ended, their outcomes come
       back as -ECANCELED) or after the last outcome. The other ranks exit.
       Then free: nothing of it is left. */
    void (*stop)(mpifarm *f, bool now);
    void (*free)(mpifarm *f);
} mpifarm_api;

typedef const mpifarm_api *(*mpifarm_api_fn)(void);
#define MPIFARM_SYMBOL "mproc_mpifarm_api"

#endif
