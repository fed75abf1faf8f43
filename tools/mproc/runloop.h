/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runloop.h: the state `mproc run` keeps while it runs (the slot table, the
 * pending -k output) and the functions its loop (run.c), output
 * (runout.c) and setup (runmain.c) share. */
#ifndef MPROC_TOOL_RUNLOOP_H
#define MPROC_TOOL_RUNLOOP_H

#include "repl.h"
#include "run.h"
#include "spawn.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* A failure whose message is already printed. */
#define ERR_REPORTED (-4096)

/* A finished job whose output waits for its turn (-k). */
typedef struct pending {
    bool done;
    tbuf out, err;
    bool spilled;       /* out and err are in the unlinked file fd instead */
    int fd;
    size_t outlen, errlen;
} pending;

typedef struct slot {
    bool busy;
    size_t seq;         /* 1-based job number */
    long tries;
    pid_t pid;
    int pidfd, fd_out, fd_err;
    int wr_out, wr_err; /* our copies of the pipes' write ends */
    tbuf out, err;
    size_t received;    /* bytes of stdout, for the joblog */
    double start_mono, start_real;
    double kill_at;     /* the next --termseq step; INFINITY when not due */
    int term_step;      /* the --termseq step due at kill_at */
    bool timed_out;
    bool requeued;      /* ended by --memfree: runs again later */
    bool cancelled;     /* ended by halt now, an interrupt or EPIPE: output dropped */
    tbuf cmd;
    char *tagstr;       /* "values\t" for --tag */
    tbuf rvals;         /* --results: the values, NUL-separated */
    size_t nrvals, rper;
} slot;

/* --progress and --eta (progress.c). */
typedef struct progress {
    bool on;
    size_t started;     /* tries started, retries too */
    size_t completed;   /* jobs finished */
    long start_sec;     /* when the run began, in whole seconds */
    long first_completed; /* --eta: when the first job finished */
    double smoothed;    /* --eta: the smoothed average */
    long last_eta;
    int header;         /* the header shown (its index + 1); 0 none */
    int cols;           /* the terminal's width, as of cols_sec */
    long cols_sec;
} progress;

typedef struct run {
    run_opts o;
    sources in;
    pipe_in pipe;       /* --pipe: the blocks, one per job */
    size_t total;       /* jobs in all */
    size_t total_gnu;   /* GNU parallel's count of them, when it differs; else 0 */
    size_t next;        /* next job to start, 0-based */
    size_t done;        /* finished (for the bar) */
    size_t nfail, nsucc;
    long nslots;        /* jobs at a time now (-j FILE changes it) */
    slot *slots;        /* the table: slot_cap of them, busy ones may be past nslots */
    long slot_cap;
    bool no_slot_warned; /* -j FILE: said that it leaves no slot */
    size_t running;
    cmd_tmpl *tmpl;
    char **vals;        /* a job's values (the sources' scratch) */
    size_t nvals;
    groups grp;         /* several values per job */
    results rs;         /* --results */
    cmd_tmpl *tagtmpl;  /* --tagstring */
    bool resuming;      /* --resume, --resume-failed, --retry-failed */
    joblog_done done_seqs; /* the jobs the joblog holds as done */
    bool joblog_append; /* the joblog exists: append to it */
    source *retry;      /* --retry-failed: the joblog's commands */
    int argc;           /* the profiles', $PARALLEL's and the command line's words */
    char **argv;
    profile_args prof, envw;
    char **words;       /* the command's words (--header renames in them) */
    size_t nwords;

    pending *pend;      /* -k: by seq - 1 */
    size_t pend_cap;
    size_t next_print;  /* -k: next seq (1-based) to print */

    FILE *joblog;
    int devnull;
    int sigfd;
    sigset_t orig_mask; /* the mask we were given: the jobs' */
    bool reset_pipe;    /* SIGPIPE was SIG_DFL: the jobs get it back */
    bool direct_ok;     /* plain word lists may run without the shell */
    bool funcs;         /* the environment holds exported bash functions */
    char *shell;        /* what runs the jobs' command lines */
    jobenv env;

    throttle th;
    double hold_until;  /* jobs wait to start until then; INFINITY: not held */
    size_t *requeue;    /* --memfree: jobs to run again */
    size_t nrequeue, requeue_cap;

    bool stop;          /* start no more jobs */
    bool halted;
    int halt_status;
    int interrupted;    /* the signal that interrupts us, or 0 */
    bool epipe;         /* stdout's reader went away */

    double t0;
    double bar_last;
    bool bar;
    progress pg;

    struct pollfd *pfd;
    size_t *pidx;       /* pollfd -> slot */

    struct mpirun *mpi; /* --mpi over several ranks (mpirun.c), else NULL */
    spawn_cpus cpus;    /* our CPUs, when we may be held to one (spawncpu.c) */
    bool follow;        /* we may be: not with --pipe's threads or --mpi */
} run;


static inline double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The count of jobs that {##}, total_jobs() and --eta show. */
static inline size_t total_shown(const run *r)
{
    return r->total_gnu ? r->total_gnu : r->total;
}

static inline void xclose(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}


/* ---- run.c: the loop ---------------------------------------------------------- */

/* ---- slots.c: the slot table --------------------------------------------------- */

/* The slot table for r->nslots jobs at a time (fewer when descriptors
   would run out). */
void slots_init(run *r);
/* Room for at least n slots. */
void slots_reserve(run *r, long n);
/* -j FILE: r->nslots read again; more says whether jobs wait or may still
   come. 0, or ERR_REPORTED after the running jobs were ended because the
   file holds no count. */
int slots_reread(run *r, bool more);

/* At most this many words go to a job executed without the shell. */
#define PLAIN_ARGV_MAX 64

/* How a job's command line runs. A long line (-X, -m) has its words on
   the heap: the shell's parse of 100,000 words would cost more than the
   job. */
typedef struct job_exec {
    bool plain;         /* argv, without the shell */
    char **argv;        /* small_argv, or the heap's for a long line */
    char *line;         /* argv's words: small_line or the heap's */
    char *sh_argv[4];   /* else the shell, -c and the line */
    tbuf wrapped;       /* -q's line */
    char *small_argv[PLAIN_ARGV_MAX + 1];
    char small_line[4096];
} job_exec;

void job_exec_prepare(run *r, const slot *s, job_exec *x);
void job_exec_free(job_exec *x);
/* The job in slot si ended (here or on another rank) with exitval or sig
   after runtime seconds, its output in the slot: print and log it, or run
   it again. 0 or -errno. */
int job_ended(run *r, long si, int exitval, int sig, double runtime);
/* --timeout's warning that the job in s was killed. */
void warn_timeout(const slot *s);

/* Run every job; 0 or -errno (ERR_REPORTED: already said why). */
int loop(run *r);
/* End every running job: sig, then the rest of --termseq. */
void cancel_all(run *r, int sig);
run_counts counts(const run *r);
/* Job idx's (0-based) values into r->vals. */
void job_values(run *r, size_t idx);
/* The command line of job seq in slot slotno (1-based) from r->vals: 0; 1
   when skip() was called; -1 after an error was printed. */
int build_cmd(run *r, tbuf *line, size_t seq, long slotno);
void bar_update(run *r, bool last);

/* ---- runend.c: ending jobs ------------------------------------------------------ */

/* A job ended (failed or not, exitval or sig): --halt's count, and the
   halt when it is reached. */
void check_halt(run *r, const slot *s, int exitval, int sig, bool failed);
/* The deadlines that have come: --timeout, --termseq's next signal,
   --memfree. */
void on_deadlines(run *r);
/* poll's timeout (ms, -1: none): the nearest deadline, rounded up. */
int poll_timeout(const run *r);
/* The signalfd is readable: the interrupts it holds. */
void on_signal(run *r);

/* ---- progress.c: --progress and --eta ------------------------------------------- */

/* The list of computers, with max_jobs the jobs at a time. */
void progress_start(run *r, long max_jobs);
/* The status line again; last ends it with a newline. */
void progress_update(run *r, bool last);

/* ---- runout.c: output -------------------------------------------------------- */

/* A write to stdout failed with err: EPIPE ends the run. */
void note_write(run *r, int err);
/* A job's stdout and stderr, each whole, tagged with tag when not NULL. */
void print_whole(run *r, const char *tag, tbuf *out, tbuf *err);
/* -k: room in the pending table for every job known so far. */
void pend_grow(run *r);
/* Whether this try may still be followed by another. */
bool may_retry(const run *r, const slot *s);
/* The folder of temporary files: --tmpdir, $TMPDIR or /tmp. */
const char *tmp_dir(const run *r);
/* -k: a finished job's output, tagged, now held in p: past a limit it
   goes to an unlinked temporary file, so that nothing is left behind
   whatever ends us and held output needs no memory. */
void pend_hold(run *r, pending *p);
/* -k: print what p holds. */
void pend_print(run *r, pending *p);
/* -k: let go of what p holds. */
void pend_free(pending *p);
/* -k: print every finished job whose turn has come. */
void print_ready(run *r);
/* Whether this job's lines go out as they come. */
bool streams(const run *r, const slot *s);
void joblog_line(run *r, const slot *s, int exitval, int sig, double runtime);
/* -v and -t as a job starts. */
void announce(run *r, slot *s);
/* --tag's (or --tagstring's) prefix of job seq in slot slotno, from
   r->vals: a new string. */
char *make_tag(run *r, size_t seq, long slotno);

/* ---- mpirun.c: --mpi, the other ranks as slots ---------------------------------- */

/* --mpi, right after the options: with no MPI job around (or one rank) the
   run stays local; the ranks but 0 serve rank 0's jobs and exit here;
   rank 0 goes on. 0, or -1 with *rc the exit status (already said why). */
int mpi_enter(run *r, int *rc);
/* Rank 0, before the slots are made: start the farm; *nslots, the local
   slots (-j), becomes every slot, the other ranks' after the local ones
   (none local with --mpi-no-local). 0, or -1 with *rc set. */
int mpi_begin(run *r, long *nslots, int *rc);
/* Whether the job in s runs on another rank. */
bool mpi_remote(const run *r, const slot *s);
/* Send the job in s (its command built) to its rank. */
int mpi_spawn(run *r, slot *s, pid_t *pid, int *pidfd);
/* Readable when outcomes came back; -1 without --mpi. */
int mpi_fd(const run *r);
/* Finish the jobs whose outcomes came back (job_ended). 0 or -errno. */
int mpi_collect(run *r);
/* End every job on the other ranks now: their slots are free again. */
void mpi_cancel(run *r);
/* A job of rank 0's own started in s in process group pgid, or ended (0):
   rank 0's guard ends it if rank 0 dies first. */
void mpi_local_job(run *r, const slot *s, pid_t pgid);
/* The joblog's Host of the job in s: NULL (":") without --mpi. */
const char *mpi_host(const run *r, const slot *s);
/* The end: the other ranks leave (also when rank 0 never started them). */
void mpi_end(run *r);

#endif
