/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* ring.h: the pool's shared memory, as the owner, the supervisor and the
 * workers all see it: the task slots, the worker records, the futex words,
 * and the arena that carries large arguments and results.
 *
 * DESIGN. One MAP_SHARED anonymous region is made before the supervisor is
 * forked, so every process of the pool maps it at the same address. It holds
 * a ring of MPROC__SLOTS task slots. A slot's state lives in one 64-bit word,
 * (position << 20 | owner << 4 | state), so that claiming a task and
 * recording who claimed it are one compare-and-swap: a worker killed at any
 * instruction leaves either an unclaimed task or a task marked with its
 * name, never a task nobody knows about. The owner (the user's process)
 * writes READY; a worker swaps READY for RUNNING; the worker (or the
 * supervisor, for a dead worker) writes DONE; the owner collects and writes
 * FREE. Only the owner ever reuses a slot.
 *
 * Arguments and results up to MPROC__INLINE bytes travel inside the slot.
 * Larger ones go in the arena: one sparse memfd, inherited by every process
 * of the pool, whose space is handed out by an atomic bump of a shared
 * offset (so a process dying mid-allocation cannot wedge the others) and
 * given back by punching holes (so the memory, not the address space, is
 * what is recycled).
 *
 * Sleeping and waking are futexes on 32-bit counters, with a count of
 * sleepers beside each so that a producer makes the wake system call only
 * when someone sleeps.
 */
#ifndef MPROC_RING_H
#define MPROC_RING_H

#include "internal.h"

#include <stdatomic.h>
#include <stdint.h>

/* Set in a worker's task_pos by the supervisor that kills it for a timeout. */
#define MPROC__KILL_BIT (UINT64_C(1) << 63)
#define MPROC__SLOTS 4096u
#define MPROC__SLOT_SIZE 512u
#define MPROC__INLINE (MPROC__SLOT_SIZE - 96u)
/* The arena's address space: sparse, so only what is in use costs memory;
   offsets are never reused, and 2^62 bytes outlast any pool. */
#define MPROC__ARENA_SIZE ((uint64_t)1 << 62)
#define MPROC__MAX_WORKERS 4096

enum { SLOT_FREE = 0, SLOT_READY = 1, SLOT_RUNNING = 2, SLOT_DONE = 3 };
/* Owners in a slot word: worker index + 1; OWNER_SUP for the supervisor or
   the owner process settling a task itself. */
#define OWNER_SUP 0xffffu

static inline uint64_t mproc__word(uint64_t pos, unsigned owner, unsigned state)
{
    return pos << 20 | (uint64_t)(owner & 0xffffu) << 4 | (state & 0xfu);
}
static inline uint64_t mproc__word_pos(uint64_t w) { return w >> 20; }
static inline unsigned mproc__word_owner(uint64_t w) { return (unsigned)(w >> 4) & 0xffffu; }
static inline unsigned mproc__word_state(uint64_t w) { return (unsigned)w & 0xfu; }

/* A chunk's result header says its items all returned 0 and wrote the
   same number of bytes (the low bits). */
#define MPROC__CHUNK_UNIFORM ((uint64_t)1 << 63)

/* What a slot asks the worker to do. */
enum { TASK_APPLY = 0, TASK_CHUNK = 1 };

typedef struct mproc__slot {
    _Atomic uint64_t word;
    uint64_t fn;        /* the mproc_task_fn, as an integer */
    uint64_t arg_len;
    uint64_t arg_off;   /* arena offset when arg_len > MPROC__INLINE */
    uint64_t res_len;
    uint64_t res_off;   /* arena offset when res_len > MPROC__INLINE */
    uint64_t item_size; /* TASK_CHUNK: bytes per item */
    uint64_t count;     /* TASK_CHUNK: items in the chunk */
    int32_t code;       /* 0, MPROC_ETASK, MPROC_EWORKER, ... */
    int32_t detail;     /* the task's return value, or the worker's exit status */
    int32_t sig;        /* the signal that ended the worker */
    uint32_t kind;
    int64_t timeout_ns; /* this task's limit; 0: none */
    uint8_t pad[96 - 88];
    uint8_t data[MPROC__INLINE];
} mproc__slot;

_Static_assert(sizeof(mproc__slot) == MPROC__SLOT_SIZE, "slot layout");

enum { W_EMPTY = 0, W_STARTING, W_READY, W_INIT_FAILED };

/* One record per worker place; a replacement takes over its place. */
typedef struct __attribute__((aligned(64))) mproc__wrec {
    _Atomic int32_t pid;
    _Atomic uint32_t state;
    _Atomic uint64_t task_pos;   /* position + 1 of the task it runs; 0 idle;
                                    MPROC__KILL_BIT added: being killed */
    _Atomic int64_t started_ns;  /* CLOCK_MONOTONIC when that task started */
    _Atomic int64_t limit_ns;    /* that task's time limit; 0: none */
    _Atomic uint32_t futex;      /* the worker sleeps here; bumped to wake it */
} mproc__wrec;

/* A cache line of its own for each word several CPUs write. */
#define MPROC__LINE __attribute__((aligned(64)))

enum { STOP_NONE = 0, STOP_CLOSE = 1, STOP_TERMINATE = 2 };

typedef struct mproc__shared {
    MPROC__LINE _Atomic uint64_t head; /* next position a worker claims */
    MPROC__LINE _Atomic uint64_t tail; /* positions published by the owner */

    MPROC__LINE _Atomic uint32_t done_seq;      /* futex and count of completions */
    _Atomic uint32_t done_wake;                 /* a sleeper wants the next completion to wake it */
    MPROC__LINE _Atomic uint32_t stop;          /* STOP_* */
    _Atomic uint32_t broken;                    /* an initializer failed */
    _Atomic uint64_t arena_next;                /* bump pointer of the arena */
    /* Fixed at creation. */
    uint32_t nworkers;
    uint32_t maxtasks;
    int64_t timeout_ns; /* the pool's task_timeout; 0: none */
    /* The shortest limit of any task submitted, so the supervisor knows how
       often to look; the owner lowers it (and says so on cmd_fd). */
    _Atomic int64_t min_timeout_ns;
    int (*init)(void *);
    void *initarg;
    uint64_t slots_off;
    /* Idle workers polling the ring, and workers asleep on their futex,
       one bit each: a bit, unlike a count, can be cleared exactly for a
       worker killed while it polled or slept, and a waker takes a sleeper's
       bit so that each sleeper costs one wake system call. */
    MPROC__LINE _Atomic uint64_t spinning[MPROC__MAX_WORKERS / 64];
    MPROC__LINE _Atomic uint64_t sleeping[MPROC__MAX_WORKERS / 64];
    mproc__wrec w[];
} mproc__shared;

static inline mproc__slot *mproc__slot_at(mproc__shared *sh, uint64_t pos)
{
    return (mproc__slot *)((char *)sh + sh->slots_off) + (pos % MPROC__SLOTS);
}

/* Bytes of shared memory for a pool of n workers. */
size_t mproc__shared_size(unsigned n);

/* ---- the arena ------------------------------------------------------------ */

/* Reserve len bytes (page-rounded); the offset in *off. -ENOMEM when the
   arena's address space is spent. */
int mproc__arena_alloc(mproc__shared *sh, size_t len, uint64_t *off);
/* Map an arena range; NULL and errno on failure. */
void *mproc__arena_map(int fd, uint64_t off, size_t len, bool writable);
void mproc__arena_unmap(void *p, size_t len);
/* Give a range's memory back to the system. */
void mproc__arena_release(int fd, uint64_t off, size_t len);
size_t mproc__page_round(size_t len);
/* A large result's arena range: its bytes, then the NUL that the owner
   finds after every result. */
static inline size_t mproc__res_span(uint64_t len) { return (size_t)len + 1; }

/* ---- the supervisor ----------------------------------------------------------- */

typedef struct mproc__sup_args {
    mproc__shared *sh;
    int arena_fd;
    int cmd_fd;    /* eventfd: the owner wrote a command into sh->stop */
    int start_fd;  /* pipe: the startup status, 0 or a negative code */
    pid_t owner;
    sigset_t worker_mask;
} mproc__sup_args;

/* The supervisor's life, in the child forked by mproc_pool_new. */
_Noreturn void mproc__pool_supervise(const mproc__sup_args *a);

/* Count one more outcome, waking owner threads that sleep on the count. */
void mproc__done_publish(mproc__shared *sh);

/* After publishing tasks (or taking one): wake a sleeping worker when more
   tasks wait than idle workers poll for them. A worker that is woken for
   nothing costs a cross-CPU wakeup; one that is not woken when needed
   costs parallelism, and is caught by the next task published or taken. */
void mproc__wake_worker_if_needed(mproc__shared *sh);
/* Wake every worker (to look at stop or broken). */
void mproc__wake_all_workers(mproc__shared *sh);

#endif
