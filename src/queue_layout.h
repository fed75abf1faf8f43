/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue_layout.h: the layout of a queue's shared block (see queue.c), for
 * queue.c and for the fuzz target that writes over it. */
#ifndef MPROC_QUEUE_LAYOUT_H
#define MPROC_QUEUE_LAYOUT_H

#include "ipc_internal.h"
#include "qlock.h"

#define Q_MAGIC 0x33657571U /* "que3": records reserved, copied outside the locks */
#define Q_HDR 4096 /* a page: the ring starts page-aligned */
#define Q_DEFAULT_BYTES ((size_t)1 << 20)
#define Q_MIN_BYTES ((size_t)4096)
#define Q_MAX_BYTES ((size_t)1 << 40)

/* Copiers: each side's processes copying a message outside the side's
   lock, one lock each (see queue.c, COPIES OUTSIDE THE LOCKS). */
#define Q_COPIERS 8

/* A record's 8-byte header: the length, and while the record is in flight
   the state of its copies. Records are 8-aligned, so it never wraps. */
#define R_LEN ((UINT64_C(1) << 48) - 1)
#define R_WRITER 48                     /* 7 bits: writer's copier + 1, while it copies in */
#define R_DROPPED (UINT64_C(1) << 55)   /* its writer died copying: no message */
#define R_READER 56                     /* 7 bits: reader's copier + 1, while it copies out */
#define R_DONE (UINT64_C(1) << 63)      /* taken and copied out: its room may go */
#define R_FIELD(hd, at) ((unsigned)((hd) >> (at)) & 0x7fU)

typedef struct {
    _Alignas(64) mproc__qlock l;
    /* Where its holder's record starts, and the CPU it copies on, as it
       claimed the lock: what a waiter for that record looks at before it
       spins (queue.c, THE SPIN). */
    _Atomic int32_t cpu;
    _Atomic uint64_t pos;
} qcopier;

typedef struct {
    /* The producers' side, changed under pm: what every put writes and
       a getter reads fills one cache line, the lock's word included. */
    mproc__qlock pm;
    _Atomic uint64_t tail; /* bytes published */
    _Atomic uint64_t puts; /* messages published, ever */
    _Atomic uint32_t put_seq; /* futex word: bumped by every publication (and close) */
    _Atomic uint32_t pj_valid;
    /* The producers' own: their journal, what is reserved beyond the tail
       (bytes, and messages not dropped: 0 and 0 unless a copy is in
       flight, so that a put without one writes neither) and their view of
       the consumers. */
    uint64_t pj_tail, pj_puts, pj_flight, pj_flightm;
    uint64_t pflight, pflightm;
    uint64_t head_seen, gets_seen; /* the consumers' side as last read */
    uint32_t psplit; /* puts left to copy outside pm (see queue.c) */
    /* The consumers' side, changed under gm, laid out the same way. */
    _Alignas(64) mproc__qlock gm;
    _Atomic uint64_t head; /* bytes whose room is free again */
    _Atomic uint64_t gets; /* messages taken, ever */
    _Atomic uint32_t get_seq; /* putters' futex word: bumped by every wake-up */
    _Atomic uint32_t gj_valid;
    uint64_t gj_head, gj_gets, gj_flight;
    /* Bytes taken beyond the head (0 unless a copy is in flight): read by
       a putter waiting for room. */
    _Atomic uint64_t gflight;
    uint64_t tail_seen; /* the producers' tail as last read */
    uint32_t gsplit; /* gets left to copy outside gm */
    /* Sleepers, close and join: atomics, no lock, each on a line of its
       own. What every put reads: written only as a getter sleeps or
       leaves, and at close. */
    _Alignas(64) _Atomic uint32_t getters;
    _Atomic uint32_t closed;
    /* What every get reads: written only as a putter sleeps or is woken. */
    _Alignas(64) _Atomic uint32_t putters; /* registrations, ever */
    _Atomic uint32_t pwoken;               /* claims, ever */
    /* Join's, written by every task_done. */
    _Alignas(64) _Atomic uint32_t joiners;
    _Atomic uint32_t done_seq; /* futex word for join: bumped when all are done */
    _Atomic uint64_t dones;    /* task_done calls, ever */
    /* Set once when the queue is made, then only read. */
    _Alignas(64) uint32_t magic;
    uint32_t pad0_;
    uint64_t cap;     /* ring bytes, a power of two */
    uint64_t maxsize; /* most messages; 0: no limit but bytes */
    /* The copiers' locks, producers' then consumers'. */
    qcopier pc[Q_COPIERS], gc[Q_COPIERS];
} qhdr;
_Static_assert(sizeof(qhdr) <= Q_HDR, "queue header too large");
_Static_assert(offsetof(qhdr, pj_tail) == 64, "a put's shared fields fill one cache line");
_Static_assert(Q_COPIERS < 0x7f, "a copier's number fits its record field");

/* A process's handle. The ring's size is copied out of the header when the
   queue is opened: every bound on what is read or written comes from this
   copy, so whatever is written into the shared header later cannot move an
   access outside the ring. */
struct mproc_queue {
    mproc_shm *blk;
    qhdr *h;
    unsigned char *ring;
    uint64_t cap, mask;
};

#endif
