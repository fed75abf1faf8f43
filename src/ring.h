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
 * of the pool, whose space is handed out in extents by an atomic bump of a
 * shared offset (so a process dying mid-allocation cannot wedge the
 * others). The owner maps a large window of the arena once, before it
 * forks the supervisor, so every process of the pool has it at the same
 * address: an extent inside it costs no system call to reach. Extents are
 * reused, so their pages stay populated and the bytes move at memory
 * speed: the owner keeps the argument extents in size-class lists
 * (pool_arena.c); each worker place keeps a few result extents in its
 * record (mproc__ext), lends one to the owner with each large result
 * (the task wrote straight into it) and gets it back when the owner frees
 * the result; where the sizes allow, a worker keeps the argument extent it
 * has read and the owner the result extent in exchange, so that one set
 * of extents goes round (mproc__ext, below). Only extents beyond what is
 * kept populated are given back to the system, by punching holes.
 *
 * As extents go round, every process maps the pages of all of them; where
 * the system allows it, extents of a huge page or more sit on huge-page
 * boundaries of the window (the same in every process), are collapsed into
 * huge pages once they prove to be reused, and each process drops its
 * mapping of one as soon as it is done with it, so that its RSS holds what
 * its tasks use now (mproc__arena_collapse, below). The memory counted once
 * can be larger then: a huge page is allocated whole (a 1 MiB result and its
 * NUL fill a 2 MiB one).
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

/* A worker place's result extents. The word is offset | EXT_* (offsets
   are page-aligned); 0 is no extent. The place's worker moves FREE to OUT
   (its output buffer) and OUT to LENT (a result the owner holds); the owner
   moves LENT back to FREE when it frees the result; the supervisor frees
   the OUT and unposted LENT extents of a worker that died. */
#define MPROC__PLACE_EXTS 32
enum { EXT_EMPTY = 0, EXT_FREE = 1, EXT_OUT = 2, EXT_LENT = 3 };

typedef struct mproc__ext {
    _Atomic uint64_t word;
    uint64_t cap;  /* its bytes, | EXT_* flags below; written by the place's worker only */
    uint64_t used; /* the place's ext_uses when its worker last took it */
} mproc__ext;

/* Extents go round (pool_out.c, mproc__out_keep_arg): a worker keeps the
   argument extent of a task whose result it lent in an extent of the same
   size, and the owner takes that result's extent for its lists once the
   result is freed. So an echo's extent is an argument (the owner writes
   it, a worker reads it), then that worker's result (it writes, the owner
   reads), then an argument again: every process of the pool touches the
   extents of the tasks in flight, not the owner's arguments and each
   place's results apart, and a worker writes its next result where it has
   just read. */

/* In a record's cap: the extent's pages were given back while it was free;
   it has been written since it was made or punched (its pages are there);
   its written part is in huge pages (mproc__arena_collapse). The owner's
   lists keep the same two last flags with their extents. */
#define EXT_PUNCHED ((uint64_t)1)
#define EXT_FILLED ((uint64_t)2)
#define EXT_HUGE ((uint64_t)4)
#define EXT_FLAGS (EXT_PUNCHED | EXT_FILLED | EXT_HUGE)
static inline size_t mproc__ext_cap(uint64_t cap) { return (size_t)(cap & ~EXT_FLAGS); }

/* An idle extent (a worker place's free one, one on the owner's lists)
   keeps its pages while it was last used within this many of its keeper's
   latest extent uses: a pipeline of tasks reuses its extents well within
   that, so they stay populated, while extents of tasks past (another size,
   a burst) give their memory back as soon as later tasks have moved on.
   Long enough that the extents only a busy moment needs (a worker off its
   CPU lets the owner queue a full window) are still populated the next
   time: at 512, a 64 KiB echo punched and faulted them back every few
   hundred tasks, a fifth of its time here. */
#define MPROC__EXT_AGE 8192

static inline uint64_t mproc__ext_word(uint64_t off, unsigned state) { return off | state; }
static inline uint64_t mproc__ext_off(uint64_t w) { return w & ~(uint64_t)3; }
static inline unsigned mproc__ext_state(uint64_t w) { return (unsigned)w & 3u; }

/* A chunk's result header says its items all returned 0 and wrote the
   same number of bytes (the low bits). */
#define MPROC__CHUNK_UNIFORM ((uint64_t)1 << 63)

/* Where map items' bytes lie in a chunk's result, each followed by its
   NUL: in a chunk whose items differ, item j starts at ends[j-1] rounded up
   to 8; in a uniform one (every item returned 0 and wrote len bytes), at j
   times this stride, aligned as an array of such items would be. */
static inline size_t mproc__chunk_stride(size_t len)
{
    size_t a = len ? len & -len : 1;
    a = a > 8 ? 8 : a;
    return (len + 1 + a - 1) & ~(a - 1);
}

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
    int32_t res_ext;    /* a large result's extent record in its worker's place; -1: none */
    uint8_t arg_kept;   /* the worker's place keeps the argument's extent (pool_out.c) */
    uint8_t res_is_arg; /* the result is the argument, in the argument's extent (pool_out.c) */
    uint8_t arg_huge;   /* the argument's extent is in huge pages (EXT_HUGE) */
    uint8_t res_huge;   /* so is a one-off result extent (res_ext -1) */
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
    mproc__ext ext[MPROC__PLACE_EXTS];
    uint64_t ext_uses;           /* extents its workers have taken; theirs alone */
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
    char *win;          /* the arena's first win_size bytes, at this address everywhere */
    uint64_t win_size;  /* 0: no window (every range is mapped when used) */
    /* The size of a huge page (PMD) that the window's extents of at least
       that size are aligned to, so they can be mapped with one; 0: none. */
    uint64_t hpage;
    /* Extents are still collapsed into huge pages: cleared for good by the
       first process the system refuses (mproc__arena_collapse). */
    _Atomic uint32_t huge;
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

/* Reserve len bytes (page-rounded); the offset in *off, aligned to
   sh->hpage when len is at least that (so the extent can be mapped with
   huge pages). -ENOMEM when the arena's address space is spent. */
int mproc__arena_alloc(mproc__shared *sh, size_t len, uint64_t *off);
/* The bytes of an arena range in this process: inside the window, or a
   mapping of their own beyond it (MAP_POPULATE: every page is about to be
   touched). NULL and errno on failure. */
void *mproc__arena_at(const mproc__shared *sh, int fd, uint64_t off, size_t len, bool writable);
/* True when the range lies in the window (arena_at maps nothing for it). */
bool mproc__arena_in_window(const mproc__shared *sh, uint64_t off, size_t len);
/* Done with what arena_at gave: unmaps it when it was a mapping of its own. */
void mproc__arena_done(const mproc__shared *sh, void *p, uint64_t off, size_t len);
/* Extents in huge pages. Each process maps the pages of an extent it
   touches and keeps them in its RSS until it unmaps them; as extents go
   round, every process would end up mapping all of them. Dropping a
   mapping of 4 KiB pages costs more than the copy itself (~47 us/MiB to
   drop, ~98 us/MiB to fault back), but a 2 MiB huge page costs one page
   table entry each way (~2 us). So an extent that proves to be reused
   (written a second time: pool_arena.c, pool_out.c) is collapsed into
   huge pages once (MADV_COLLAPSE, which works on shmem even where
   shmem_enabled is "never"; ~5-15 ms per 2 MiB, too dear for an extent
   used once), and from then on every process drops its mapping of it as
   soon as it is done with it (mproc__arena_drop).
   Collapses the first filled bytes of the extent of ext bytes at off,
   mapped at p, into huge pages: true when they are. The first refusal
   (an older kernel, shmem "deny", no huge page to be had) turns collapsing
   off for the pool, which then keeps today's behaviour: 4 KiB pages,
   mapped until punched, never dropped. */
bool mproc__arena_collapse(mproc__shared *sh, void *p, uint64_t off, size_t ext, size_t filled);
/* This process is done with the huge-page extent (huge true) of ext bytes
   at off, mapped at p: its page table entries go, its bytes stay in the
   arena (a MAP_SHARED mapping refaults them unchanged), so a later access
   anywhere reads what is there. Does nothing for an extent in 4 KiB pages. */
void mproc__arena_drop(const mproc__shared *sh, void *p, uint64_t off, size_t ext, bool huge);
/* A process has written the first len bytes of the extent of ext bytes at
   off (mapped at p), whose EXT_FILLED and EXT_HUGE flags are in flags, and
   touches it no more: collapsed when it was filled before (written for the
   second time: it goes round), then dropped when in huge pages. Returns
   its flags now (EXT_FILLED set). */
uint64_t mproc__arena_written(mproc__shared *sh, void *p, uint64_t off, size_t ext, size_t len,
                              uint64_t flags);
/* Give a range's memory back to the system (its offsets stay valid). */
void mproc__arena_release(int fd, uint64_t off, size_t len);
size_t mproc__page_round(size_t len);
/* The size of the extent that holds need bytes: a page times a power of
   two, so extents of one size class can stand in for one another. */
size_t mproc__ext_size(size_t need);
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
