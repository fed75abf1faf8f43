/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_internal.h: what the modules of libmproc-mpi share: loaded-object
 * identity, the wire protocol between rank 0 and the hubs, and the two
 * sides of it.
 *
 * WIRE. All traffic is on a duplicate of MPI_COMM_WORLD. Rank 0 sends a hub
 * BATCH messages: a run of task records, each followed by its argument
 * bytes when they are at most MPROC__MPI_BIG; a larger argument follows the
 * batch as its own ARG message, in the order of the records (MPI keeps the
 * order of messages between two ranks on one tag). A hub answers with DONE
 * messages laid out the same way (outcome records, small result bytes
 * inline, large ones as RES messages after it). STOP ends a hub: it frees
 * its pool, finishes its sends and answers BYE. Any payload above the split
 * threshold (INT_MAX, MPI's count limit, unless lowered) travels as several
 * messages of at most that size on the same tag. In rank_timeout mode a
 * hub that has sent nothing for a quarter of rank_timeout sends BEAT, so
 * that rank 0 can tell a silent rank from a busy one. DROP asks a hub to
 * end every task it holds that has not started (with -ECANCELED, as its
 * outcome).
 */
#ifndef MPROC_MPI_INTERNAL_H
#define MPROC_MPI_INTERNAL_H

#include "pool_ext.h"

#include <mpi.h>

#include "mproc/mpi.h"

#include <time.h>

/* Monotonic seconds, for the forwarder's, the hubs' and the wire's timers. */
static inline double mpi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { TAG_BATCH = 1, TAG_ARG, TAG_DONE, TAG_RES, TAG_STOP, TAG_BYE, TAG_BEAT, TAG_DROP };

/* Above this, a payload is a message of its own (received straight into
   its final place); at most this, it rides in the batch. */
#define MPROC__MPI_BIG ((size_t)64 << 10)
/* A batch is sent once it holds this many bytes. */
#define MPROC__MPI_BATCH_BYTES ((size_t)256 << 10)

/* One task, as a batch carries it. */
typedef struct wtask {
    uint64_t id;        /* the task's ring position on rank 0 */
    uint64_t off;       /* the function's offset in object obj */
    uint64_t item_size;
    uint64_t count;
    uint64_t arg_len;
    uint32_t obj;       /* index into rank 0's object table */
    uint32_t kind;      /* TASK_APPLY, TASK_CHUNK */
} wtask;

/* One outcome, as DONE carries it. */
typedef struct wdone {
    uint64_t id;
    uint64_t res_len;
    int32_t code, detail, sig;
    int32_t starved;    /* first record of a DONE: the hub had fewer tasks
                           left than workers when it sent it */
} wdone;

/* ---- identity of loaded objects (mpi_ident.c) ---------------------------- */

typedef struct mproc__obj {
    uintptr_t base;        /* load base: addresses are base + offset */
    uintptr_t lo, hi;      /* the span of its executable segments */
    uint8_t idlen;
    uint8_t id[63];        /* GNU build-id, or 'H' and a hash of the code */
} mproc__obj;

typedef struct mproc__objtab {
    mproc__obj *v;
    size_t n;
} mproc__objtab;

/* The objects loaded now (the vDSO left out: it is the kernel's). */
int mproc__objtab_load(mproc__objtab *t);
void mproc__objtab_free(mproc__objtab *t);
/* The object holding addr and its offset there; false when none does. */
bool mproc__objtab_find(const mproc__objtab *t, uintptr_t addr, uint32_t *obj, uint64_t *off);
/* The table's identities as bytes (for rank 0 to broadcast); malloc'd. */
void *mproc__objtab_pack(const mproc__objtab *t, size_t *len);
/* For rank 0's packed table, the local base of each of its objects in
   *bases (malloc'd, *n entries); -ENOEXEC when the sets differ. */
int mproc__objtab_match(const mproc__objtab *t, const void *packed, size_t len, uintptr_t **bases,
                        size_t *n);

/* ---- messages (mpi_wire.c) ------------------------------------------------ */

typedef void (*mproc__sent_fn)(void *arg);

typedef struct mproc__sendop {
    int dest;
    MPI_Request *reqs;
    int nreq;
    mproc__sent_fn done;
    void *arg;
    bool large;         /* above MPROC__MPI_BIG */
} mproc__sendop;

typedef struct mproc__wire {
    MPI_Comm comm;
    size_t split;          /* largest piece of one message */
    mproc__sendop *ops;    /* sends in progress */
    size_t nops, capops;
    size_t nlarge;         /* of them above MPROC__MPI_BIG */
    const bool *lost;      /* by rank: sends to it never complete (or NULL) */
} mproc__wire;

/* The split threshold from MPROC_MPI_SPLIT, else INT_MAX. */
size_t mproc__mpi_split_env(void);
/* Send len bytes (in pieces when above the split), without waiting: done(arg)
   runs once they are sent, from mproc__wire_progress. 0 or -errno. */
int mproc__wire_isend(mproc__wire *w, int dest, int tag, const void *buf, size_t len,
                      mproc__sent_fn done, void *arg);
/* Receive len bytes sent by mproc__wire_isend with the same length. */
int mproc__wire_recv(mproc__wire *w, int src, int tag, void *buf, size_t len);
/* Completes what it can of the sends in progress; true if any finished.
   Sends to a lost rank are dropped, their buffers left to MPI. */
bool mproc__wire_progress(mproc__wire *w);
/* Sends still in progress. */
static inline bool mproc__wire_busy(const mproc__wire *w) { return w->nops > 0; }
/* A large send is in progress, which MPI may move only as its sender
   polls. A small one travels at once: until its receiver takes it, it
   only holds its buffer, and polling for it is wasted (measured: a
   forwarder that polled every 5 us while its batch waited for a hub that
   polled every millisecond spent most of rank 0's CPU). */
static inline bool mproc__wire_moving(const mproc__wire *w) { return w->nlarge > 0; }
void mproc__wire_free(mproc__wire *w);

/* A growable byte buffer, for batches. */
typedef struct mproc__buf {
    char *p;
    size_t len, cap;
} mproc__buf;
int mproc__buf_put(mproc__buf *b, const void *data, size_t len);
/* Zero bytes up to a multiple of 8. */
int mproc__buf_pad(mproc__buf *b);

/* Polling with a back-off: spin a little after activity, then sleep longer
   and longer (up to a cap) while nothing happens. */
typedef struct mproc__backoff {
    double idle_since; /* 0: active */
    double spin;       /* how long to poll without sleeping after activity */
    double floor;      /* the shortest sleep (0: a few microseconds) */
} mproc__backoff;
/* Polls for a while only where no worker of this rank needs the CPU (a
   rank whose workers are idle, or that has none); elsewhere it sleeps
   almost at once. A poller that sleeps answers later on a loaded machine,
   where its wakeup waits for a CPU. */
#define MPROC__SPIN_LONG 500e-6
#define MPROC__SPIN_SHORT 20e-6
/* The shortest sleep of a hub whose workers all have a task waiting
   behind the one they run. */
#define MPROC__SLEEP_SHARED 200e-6
/* The period of a paced poller (mproc__mpi_share_cpu, mproc__mpi_hub_pace):
   one round of receiving, dispatching and sending, then this sleep, busy
   or not. On a virtual machine every sleep and wakeup is a trip through
   the hypervisor's timer, tens of microseconds: measured with mproc run
   --mpi on 2 cores, a forwarder that polled again at once after activity
   and slept 200 us otherwise woke 2,500 times a second and took 150 us of
   CPU per job, more than the jobs' runner. Paced, the messages of a round
   carry every task and outcome that came meanwhile. */
#define MPROC__PACE 1e-3
/* After a round of polling that found something (act) or nothing: the
   seconds to wait before the next (0: poll again at once). */
double mproc__backoff_step(mproc__backoff *b, bool act);
/* The same while a large send is in progress (busy: mproc__wire_moving):
   MPI moves a large message in fragments only as fast as the sender
   polls, so it polls every few microseconds then. */
double mproc__backoff_busy(mproc__backoff *b, bool act, bool busy);
/* Sleep for seconds (below one). */
void mproc__nap(double seconds);
/* Sleeps of the calling thread end when asked, not up to 50 us later (the
   kernel's default slack): the polling threads sleep for microseconds. */
void mproc__timer_slack(void);

/* ---- the two sides ---------------------------------------------------------- */

/* What every rank reports at start. */
typedef struct mproc__mpi_start {
    int status;          /* this rank's local pool: 0 or its error */
    int workers;         /* its worker count */
} mproc__mpi_start;

/* The start-up exchange on comm (collective): rank 0's object table goes
   to every rank, every rank's report to rank 0, the verdict (0 or the
   error every rank returns) to all. Hubs get the local bases of rank 0's
   objects in *bases; rank 0 gets every rank's worker count in *workers
   (malloc'd, size entries). */
int mproc__mpi_exchange(MPI_Comm comm, const mproc__objtab *objs, const mproc__mpi_start *me,
                        uintptr_t **bases, size_t *nbases, int **workers);

/* A hub's life after a good start: serve rank 0 until STOP. */
void mproc__hub_serve(MPI_Comm comm, mproc_pool *local, unsigned workers, const uintptr_t *bases,
                      size_t nbases, double rank_timeout);

/* Rank 0: start the forwarder thread for pool, which initializes MPI
   (when lib_init), runs the start-up exchange and hands back its verdict;
   on 0 the thread goes on forwarding, attached to the pool (pool_ext.h),
   until the pool stops it. objs is the table made with the pool. */
int mproc__fwd_start(mproc_pool *pool, const mproc_mpi_opts *o, bool lib_init, int *argc,
                     char ***argv, int local_status, int local_workers, mproc__objtab *objs);

/* Rank 0 of an MPI pool runs other work on its CPUs (mproc run --mpi's
   local jobs): its forwarder then never spins and polls every
   MPROC__PACE. A pool without a forwarder is left as it is. */
void mproc__mpi_share_cpu(mproc_pool *pool);
/* Rank 0 of an MPI pool whose owner waits in poll() rather than on its
   results (mproc run --mpi): after each round in which its forwarder
   posted an outcome (a rank's, a refusal, a lost rank's), and after each
   mproc__mpi_drop_waiting, 1 is added to the eventfd fd, so that the owner
   collects the outcomes itself, with no callback thread woken in between
   (a wake-up a job). -1: none. */
void mproc__mpi_notify(mproc_pool *pool, int fd);
/* The hubs this process will serve (set before mproc_mpi_pool_new) run
   tasks far longer than MPROC__PACE, with tasks sent ahead (mproc run
   --mpi): while every worker has a task waiting behind the one it runs,
   a hub then polls every MPROC__PACE instead of waking for each outcome,
   and sends the outcomes of the round in one message. */
void mproc__mpi_hub_pace(void);
/* Rank 0: every task of the MPI pool not started yet, on any rank, ends
   with -ECANCELED (those already sent, once their hub hears of it). */
void mproc__mpi_drop_waiting(mproc_pool *pool);

#endif
