/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/**
 * mproc/ipc.h: part of <mproc.h>; include that instead.
 *
 * Inter-process communication and synchronisation, after Python's
 * multiprocessing: Pipe, Queue and JoinableQueue, Value / Array and
 * shared_memory, Lock, RLock, Semaphore, BoundedSemaphore, Event,
 * Condition, Barrier.
 *
 * Overview
 * --------
 * - mproc_pipe_*     a connection between two processes: message-framed
 *                    byte messages of any size, one-way or duplex, with a
 *                    pollable descriptor and end of file when the peer is
 *                    gone (pipes; SIGPIPE never reaches the caller).
 * - mproc_queue_*    a bounded multi-producer multi-consumer queue of
 *                    variable-size messages in shared memory; every queue
 *                    is also joinable (task_done / join).
 * - mproc_shm_*      shared memory blocks: anonymous ones for children,
 *                    named ones for unrelated processes, and the Value and
 *                    Array conveniences with an optional lock.
 * - mproc_lock_*     robust process-shared locks; mproc_rlock_* recursive.
 * - mproc_sem_*      counting and bounded semaphores.
 * - mproc_rsem_*     robust named counting semaphores: a holder that dies
 *                    gives its unit back.
 * - mproc_event_*, mproc_cond_*, mproc_barrier_*.
 *
 * Where the objects live
 * ----------------------
 * Every synchronisation object works across processes only when it is
 * placed in memory that those processes share. Two ways:
 *   1. mproc_lock_new (and each family's _new) maps a small shared block of
 *      its own; the object is then shared with every child forked after
 *      it was made. Free it with the family's _free in each process.
 *   2. mproc_lock_init (and each family's _init) prepares caller storage,
 *      which must lie in shared memory (an mproc_shm block, or any
 *      MAP_SHARED mapping) for the object to work across processes. The
 *      structs below have a fixed size for that purpose; their contents are
 *      private. Storage that is merely copied by fork (the stack, the heap)
 *      gives every process its own, unrelated object.
 * An object initialised in a mapping works in every process that maps the
 * same memory, at whatever address (nothing inside holds a pointer).
 *
 * Timeouts and errors
 * -------------------
 * Timeouts are in seconds on the monotonic clock: negative waits forever,
 * 0 does not wait, NaN is -EINVAL. A wait that ends without success within
 * its timeout (0 included) returns -ETIMEDOUT, never earlier than asked.
 * Calls return 0 (or a documented non-negative value) on success and a
 * negative errno value on failure. A wait interrupted by a signal handler
 * resumes by itself.
 *
 * When a process dies
 * -------------------
 * A process may be killed at any instruction, including inside these calls.
 * What the others see:
 *   - lock, rlock: the next acquirer gets -EOWNERDEAD and holds the lock;
 *     it repairs the protected state and calls mproc_lock_consistent.
 *   - queue: never wedged, never a torn message. A put either published
 *     its whole message or left no trace; a get either took its message
 *     whole (which then goes with the dead process) or left it first in
 *     the queue. A process killed between a get and its task_done keeps
 *     join waiting (use the timeout).
 *   - semaphore: units acquired by a dead process are not given back (a
 *     semaphore has no owner: any process may release a unit); the
 *     robust semaphore (mproc_rsem_*) gives them back at once.
 *   - event, condition: unaffected; a dead waiter consumes no notification.
 *   - barrier: a party that arrived and then died still counts for that
 *     round; a party killed inside the barrier's own bookkeeping breaks the
 *     barrier (-EPIPE to everyone) rather than leave it inconsistent.
 *
 * Threads: every function here may be called from any thread. Lock
 * ownership belongs to the thread that acquired it, as with POSIX mutexes.
 *
 * Fork: a handle (pipe end, queue, shm block, an object from _new) is
 * copied into the child with the memory it points to still shared; each
 * process frees its own copy. Locks held by the parent are not held by
 * the child.
 */
#ifndef MPROC_IPC_H
#define MPROC_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* =========================================================================
 * Pipes (multiprocessing.Pipe and Connection)
 * ========================================================================= */

/** One end of a pipe (Python's Connection). */
typedef struct mproc_pipe mproc_pipe;

typedef struct mproc_pipe_opts {
    bool one_way; /* false (default): both ends send and receive, as
                     Pipe(duplex=True); true: the first end only receives,
                     the second only sends, as Pipe(duplex=False) */
    uint64_t reserved_[4]; /* zero (= {0} does it): room for later options */
} mproc_pipe_opts;
MPROC_OPTS_CHECK_(mproc_pipe_opts);

/**
 * mproc_pipe_new - make a connected pair of pipe ends.
 *
 * Caller's steps:
 *   1. mproc_pipe_new(&a, &b, NULL);
 *   2. fork (mproc_process_start, mproc_fork); each side keeps the end it
 *      uses and frees the other (mproc_pipe_free) so that end of file is
 *      seen when the peer goes;
 *   3. mproc_pipe_send / mproc_pipe_recv; mproc_pipe_free when done.
 *
 * Messages are framed: each recv returns exactly one message as it was
 * sent, of any size from 0 bytes up to available memory. The ends are
 * built from pipe(2)s, close-on-exec, and each sending end keeps its
 * outgoing pipe readable by itself, so a write can never raise SIGPIPE: a
 * gone peer is -EPIPE instead, as soon as this end has seen end of file
 * from it, or once the outgoing pipe is full (what was sent into a dead
 * peer's pipe is lost, as with any pipe). An end should be used by one
 * process at a time (several threads may share it: sends and receives are
 * serialised per end).
 *
 * Descriptors: a duplex pair holds six (two pipes, and the keeper of each
 * direction), a one-way pair five.
 *
 * On success *a and *b own one descriptor each. Returns 0, -EINVAL (NULL
 * out pointer), -EMFILE, -ENFILE, -ENOMEM. Nothing is written or leaked on
 * failure.
 */
MPROC_API int mproc_pipe_new(mproc_pipe **a, mproc_pipe **b, const mproc_pipe_opts *opts);

/**
 * mproc_pipe_send - send one message of len bytes (data may be NULL when
 * len is 0).
 *
 * Waits while the pipe is full. A message of up to 4088 bytes (PIPE_BUF
 * with the header) goes whole or not at all. A timeout that expires before
 * any byte went leaves the connection as it was; one that expires after part of
 * the message went breaks the connection (the peer cannot resynchronise),
 * and later calls on this end return -EPIPE.
 *
 * Returns 0; -EPIPE (the peer end is gone, or this end is broken);
 * -ETIMEDOUT; -EBADF (this end is receive-only or closed); -EINVAL (NULL
 * pipe, NULL data with len > 0, NaN timeout); -EMSGSIZE (len over 2^48).
 */
MPROC_API int mproc_pipe_send(mproc_pipe *p, const void *data, size_t len, double timeout);

/**
 * mproc_pipe_recv - receive one message into a new buffer.
 *
 * On success *data is a malloc'd buffer of *len bytes that the caller
 * frees with free() (a zero-length message gives a valid one-byte buffer
 * and *len 0). A timeout keeps what already arrived of a message for the
 * next call, so nothing is lost or misframed.
 *
 * Returns 0; -EPIPE at end of file (the peer end is gone and every message
 * it sent has been received); -ETIMEDOUT; -EBADF (send-only or closed);
 * -ENOMEM; -EINVAL. *data and *len are written only on success.
 */
MPROC_API int mproc_pipe_recv(mproc_pipe *p, void **data, size_t *len, double timeout);

/**
 * mproc_pipe_recv_into - receive one message into the caller's buffer.
 *
 * As mproc_pipe_recv, into buf of cap bytes. When the next message is
 * larger than cap, returns -EMSGSIZE, sets *len to the message's size and
 * leaves the message in place for a later call with a larger buffer (as
 * Python's BufferTooShort, but nothing is lost).
 */
MPROC_API int mproc_pipe_recv_into(mproc_pipe *p, void *buf, size_t cap, size_t *len,
                                   double timeout);

/**
 * mproc_pipe_poll - wait until a recv would not block.
 *
 * Returns 1 when a message (or end of file) is ready, 0 when none came
 * within the timeout, or a negative errno (-EBADF on a send-only end).
 */
MPROC_API int mproc_pipe_poll(mproc_pipe *p, double timeout);

/**
 * mproc_pipe_fd - the end's descriptor, for poll(2)/epoll beside others:
 * on a receiving end, POLLIN means a message or end of file is arriving.
 * The end reads ahead: after a poll says readable, receive with timeout 0
 * until -ETIMEDOUT before polling the descriptor again (or use
 * mproc_pipe_poll, which knows what was read ahead). On a send-only end
 * it is the outgoing pipe (POLLOUT). Owned by the end: do not close it or
 * read from it. -EBADF once closed.
 */
MPROC_API int mproc_pipe_fd(const mproc_pipe *p);

/**
 * mproc_pipe_close - close this end now (the peer sees end of file once
 * every copy of the end, in every process, is closed). Later calls on the
 * end return -EBADF; the object itself is freed by mproc_pipe_free.
 * Closing twice is harmless. Returns 0 or -EINVAL.
 */
MPROC_API int mproc_pipe_close(mproc_pipe *p);

/** mproc_pipe_free - close the end if open and release it. Accepts NULL. */
MPROC_API void mproc_pipe_free(mproc_pipe *p);

/* =========================================================================
 * Shared memory (multiprocessing.shared_memory, Value, Array)
 * ========================================================================= */

/** A block of shared memory, as seen by one process. */
typedef struct mproc_shm mproc_shm;

typedef struct mproc_shm_opts {
    unsigned attachers; /* named blocks: 0 (default) the name stays until
                           mproc_shm_unlink; N > 0: the name is removed as
                           soon as N processes have attached */
    unsigned mode;      /* named blocks: permission bits; 0: 0600 */
    uint64_t reserved_[4]; /* zero (= {0} does it): room for later options */
} mproc_shm_opts;
MPROC_OPTS_CHECK_(mproc_shm_opts);

/**
 * mproc_shm_new - an anonymous block of size bytes, zero-filled.
 *
 * Shared with every child forked after this call, and with any process
 * the descriptor (mproc_shm_fd) is passed to. It has no name, so nothing
 * can be left behind: the memory goes when its last mapping and
 * descriptor go, however the processes end (a memfd).
 *
 * On success *out is the block; free it in every process with
 * mproc_shm_free. Returns 0, -EINVAL (NULL out, size 0), -ENOMEM (size too
 * large), -EMFILE. *out is written only on success.
 */
MPROC_API int mproc_shm_new(mproc_shm **out, size_t size);

/**
 * mproc_shm_create - a named block of size bytes, zero-filled, that
 * unrelated processes attach to by name (Python's
 * SharedMemory(create=True)).
 *
 * name is up to 200 characters of [A-Za-z0-9._-] with an optional leading
 * '/'; it lives in /dev/shm. To leave nothing behind even when every user
 * dies, give opts->attachers: the name is removed by the attach that
 * reaches that count, after which the block is held only by mappings (if
 * every process dies before that many have attached, the name stays until
 * mproc_shm_unlink). With attachers 0 the name stays until
 * mproc_shm_unlink, as in Python. The block is complete before its name
 * appears: an attacher never sees a half-made one.
 *
 * The block's pages are reserved at creation, so a full /dev/shm is an
 * error here (-ENOSPC), never a SIGBUS at first use.
 *
 * Returns 0, -EEXIST (the name is taken), -EINVAL (bad name, size 0, NULL
 * out), -EACCES, -ENOSPC (/dev/shm cannot hold it), -ENOMEM, -EMFILE.
 * Nothing is left behind on failure.
 */
MPROC_API int mproc_shm_create(mproc_shm **out, const char *name, size_t size,
                               const mproc_shm_opts *opts);

/**
 * mproc_shm_attach - map the named block made by mproc_shm_create.
 *
 * Returns 0, -ENOENT (no such name, or the name was already removed),
 * -EINVAL (bad name, or not a block made by this library), -EACCES,
 * -EMFILE. *out is written only on success.
 */
MPROC_API int mproc_shm_attach(mproc_shm **out, const char *name);

/**
 * mproc_shm_unlink - remove a block's name. Processes that have it mapped
 * keep using it; the memory goes with the last mapping. Returns 0,
 * -ENOENT, -EINVAL.
 */
MPROC_API int mproc_shm_unlink(const char *name);

/**
 * mproc_shm_from_fd - map a block whose descriptor was passed to us (from
 * mproc_shm_fd in another process, over SCM_RIGHTS or inheritance).
 *
 * The block keeps its own duplicate (close-on-exec); the caller still owns
 * fd. Returns 0, -EINVAL (not a block of this library), -EBADF, -EMFILE.
 */
MPROC_API int mproc_shm_from_fd(mproc_shm **out, int fd);

/**
 * mproc_shm_fd - the block's descriptor, to pass to another process. Owned
 * by the block. -EBADF for a NULL block.
 */
MPROC_API int mproc_shm_fd(const mproc_shm *b);

/** mproc_shm_ptr - the first byte of the block's memory (aligned to 64). */
MPROC_API void *mproc_shm_ptr(const mproc_shm *b);

/** mproc_shm_size - the block's size in bytes, as asked when it was made. */
MPROC_API size_t mproc_shm_size(const mproc_shm *b);

/**
 * mproc_shm_free - unmap the block in this process and close its
 * descriptor. The memory stays for the other processes that map it; a
 * named block's name is not removed (see mproc_shm_unlink). Accepts NULL.
 */
MPROC_API void mproc_shm_free(mproc_shm *b);

/**
 * mproc_shm_value_new / mproc_shm_array_new - Python's Value and Array:
 * one element, or count elements, of elem_size bytes each, in an anonymous
 * block shared with children forked afterwards.
 *
 * init (may be NULL: zeros) holds the initial contents: elem_size bytes
 * for a Value, elem_size * count for an Array. With with_lock, the block
 * carries a robust lock (mproc_shm_lock) to guard read-modify-write
 * updates, as Python's lock=True. Read and write the elements through
 * mproc_shm_ptr, or the MPROC_SHM_AS macro:
 *
 *     mproc_shm *v;
 *     mproc_shm_value_new(&v, sizeof(long), NULL, true);
 *     mproc_lock_acquire(mproc_shm_lock(v), -1);
 *     (*MPROC_SHM_AS(v, long))++;
 *     mproc_lock_release(mproc_shm_lock(v));
 *
 * Returns 0, -EINVAL (NULL out, elem_size or count 0, or an overflowing
 * product), -ENOMEM. Free with mproc_shm_free.
 */
MPROC_API int mproc_shm_value_new(mproc_shm **out, size_t elem_size, const void *init,
                                  bool with_lock);
MPROC_API int mproc_shm_array_new(mproc_shm **out, size_t elem_size, size_t count,
                                  const void *init, bool with_lock);

/** The elements of a block, as a pointer to type. */
#define MPROC_SHM_AS(b, type) ((type *)mproc_shm_ptr(b))

/** mproc_shm_len - number of elements of a Value (1) or Array; for other
    blocks the size in bytes. */
MPROC_API size_t mproc_shm_len(const mproc_shm *b);

/* =========================================================================
 * Locks and friends: the objects (fixed size, contents private)
 * ========================================================================= */

typedef struct mproc_lock    { union { unsigned char b[64];  long long a; } opaque_; } mproc_lock;
typedef struct mproc_rlock   { union { unsigned char b[64];  long long a; } opaque_; } mproc_rlock;
typedef struct mproc_sem     { union { unsigned char b[16];  long long a; } opaque_; } mproc_sem;
typedef struct mproc_event   { union { unsigned char b[16];  long long a; } opaque_; } mproc_event;
typedef struct mproc_cond    { union { unsigned char b[16];  long long a; } opaque_; } mproc_cond;
typedef struct mproc_barrier { union { unsigned char b[128]; long long a; } opaque_; } mproc_barrier;

/**
 * mproc_shm_lock - the lock of a Value or Array made with with_lock, as
 * Python's get_lock(); NULL for other blocks. Owned by the block.
 */
MPROC_API mproc_lock *mproc_shm_lock(const mproc_shm *b);

/* =========================================================================
 * Lock (multiprocessing.Lock), robust
 * ========================================================================= */

/**
 * mproc_lock_init - prepare a process-shared robust lock in caller storage
 * (in shared memory; see "Where the objects live"). Must not be called on
 * a lock in use. Returns 0, -EINVAL (NULL), or what the C library refuses.
 *
 * mproc_lock_new - the same in a shared block of its own, for children
 * forked afterwards; *out is written only on success. Returns 0, -EINVAL,
 * -ENOMEM.
 *
 * mproc_lock_destroy - end a lock made by _init (nobody may hold or wait
 * for it). mproc_lock_free - unmap a lock made by _new in this process;
 * accepts NULL.
 */
MPROC_API int  mproc_lock_init(mproc_lock *l);
MPROC_API int  mproc_lock_destroy(mproc_lock *l);
MPROC_API int  mproc_lock_new(mproc_lock **out);
MPROC_API void mproc_lock_free(mproc_lock *l);

/**
 * mproc_lock_acquire - take the lock, waiting up to timeout seconds.
 *
 * Returns 0 when taken; -EOWNERDEAD when taken from a holder that died
 * holding it: the caller now holds the lock, the state it protects may be
 * half-updated; repair it, then call mproc_lock_consistent (releasing
 * without doing so makes the lock unusable: every later acquire returns
 * -ENOTRECOVERABLE); -ETIMEDOUT; -EDEADLK when the calling thread already
 * holds it; -ENOTRECOVERABLE; -EINVAL (NULL, NaN timeout).
 * Uncontended, acquire and release together take tens of nanoseconds and
 * no system call.
 */
MPROC_API int mproc_lock_acquire(mproc_lock *l, double timeout);

/**
 * mproc_lock_consistent - after -EOWNERDEAD, declare the protected state
 * repaired so the lock can be used as before. Only the holder may call it.
 * Returns 0, -EINVAL (the lock was not inherited from a dead owner, or
 * NULL).
 */
MPROC_API int mproc_lock_consistent(mproc_lock *l);

/**
 * mproc_lock_release - release the lock. Only the holding thread may:
 * -EPERM otherwise (unlike Python's Lock, ownership is checked, which is
 * what makes robustness possible). Returns 0, -EPERM, -EINVAL.
 */
MPROC_API int mproc_lock_release(mproc_lock *l);

/* =========================================================================
 * Recursive lock (multiprocessing.RLock), robust
 * ========================================================================= */

/**
 * mproc_rlock_* - as mproc_lock_*, but the holding thread may acquire
 * again; it is released when released as many times as acquired. After
 * -EOWNERDEAD the caller holds it once. Acquire returns -EAGAIN past the
 * C library's recursion limit.
 */
MPROC_API int  mproc_rlock_init(mproc_rlock *l);
MPROC_API int  mproc_rlock_destroy(mproc_rlock *l);
MPROC_API int  mproc_rlock_new(mproc_rlock **out);
MPROC_API void mproc_rlock_free(mproc_rlock *l);
MPROC_API int  mproc_rlock_acquire(mproc_rlock *l, double timeout);
MPROC_API int  mproc_rlock_consistent(mproc_rlock *l);
MPROC_API int  mproc_rlock_release(mproc_rlock *l);

/* =========================================================================
 * Semaphore and bounded semaphore
 * ========================================================================= */

/**
 * mproc_sem_init - a counting semaphore starting at value, in caller
 * storage in shared memory.
 *
 * max 0: unbounded (Semaphore); max > 0: bounded (BoundedSemaphore): a
 * release that would take the value above max fails with -EOVERFLOW.
 * Returns 0, -EINVAL (NULL, value above max when bounded, value above
 * 2^31 - 1). mproc_sem_new does the same in a shared block of its own.
 * mproc_sem_destroy (for _init) and mproc_sem_free (for _new; accepts NULL)
 * end it; nobody may wait on it then.
 */
MPROC_API int  mproc_sem_init(mproc_sem *s, unsigned value, unsigned max);
MPROC_API int  mproc_sem_destroy(mproc_sem *s);
MPROC_API int  mproc_sem_new(mproc_sem **out, unsigned value, unsigned max);
MPROC_API void mproc_sem_free(mproc_sem *s);

/**
 * mproc_sem_acquire - take one unit, waiting up to timeout while the value
 * is 0. Returns 0, -ETIMEDOUT, -EINVAL. Without contention it is one atomic
 * instruction and no system call.
 */
MPROC_API int mproc_sem_acquire(mproc_sem *s, double timeout);

/** mproc_sem_release - give one unit back and wake a waiter. Any process
    may release. Returns 0, -EOVERFLOW (bounded, already at max, or at
    2^31 - 1), -EINVAL. */
MPROC_API int mproc_sem_release(mproc_sem *s);

/** mproc_sem_value - the current value (a snapshot), or -EINVAL. */
MPROC_API int mproc_sem_value(mproc_sem *s);

/* =========================================================================
 * Robust named semaphore (a counting semaphore that survives SIGKILL)
 * ========================================================================= */

/** A robust named counting semaphore, as seen by one process. */
typedef struct mproc_rsem mproc_rsem;

/** The most units a robust semaphore can have. */
#define MPROC_RSEM_MAX 1024

/**
 * mproc_rsem_open - open the robust semaphore called name, creating it
 * with count units when no semaphore of that name exists.
 *
 * Unlike mproc_sem, a unit has an owner: the thread that acquired it. A
 * unit comes back by itself, at once, when its owner ends without
 * releasing it: a thread that returns or calls pthread_exit, a process
 * killed by any signal (SIGKILL included), one that calls _exit, or one
 * that execs. The next waiter takes it without any timeout or clean-up
 * step. Units are never given to more than count owners at once.
 *
 * name is as for mproc_shm_create (up to 200 characters of [A-Za-z0-9._-],
 * an optional leading '/') and lives in /dev/shm while the semaphore is
 * open. count 1 .. MPROC_RSEM_MAX creates the semaphore if absent; an
 * existing semaphore keeps the count it was made with (see
 * mproc_rsem_count); count 0 only opens an existing one.
 *
 * When the name goes: the mproc_rsem_close that finds no other handle open
 * on the semaphore, in any process, removes the name (a process that died
 * has closed its handles; a handle inherited through fork counts until
 * every copy is closed). So nothing is left in /dev/shm once the last
 * user has closed it. (A dying process gives back its units a moment
 * before the kernel closes its files: a close that follows an owner's
 * death, and finds no unit held or waited for, gives the dead process's
 * handle up to 0.1 s to go.) If the last user dies without closing, the
 * name stays, with every unit free, until some process opens and closes
 * it again, or calls mproc_rsem_unlink. A semaphore whose name was
 * removed lives on for the handles still open; a later open of the name
 * makes a new one.
 *
 * Caller's steps:
 *   1. mproc_rsem_open(&s, "jobs", 4); in each process (or once before
 *      fork);
 *   2. mproc_rsem_acquire(s, timeout) ... mproc_rsem_release(s), in the
 *      same thread;
 *   3. mproc_rsem_close(s) in each process.
 *
 * On success *out is this process's handle. Returns 0; -EINVAL (NULL out,
 * bad name, count over MPROC_RSEM_MAX, or the name holds something other
 * than a robust semaphore); -ENOENT (count 0 and no such semaphore);
 * -EACCES; -ENOMEM; -EMFILE; -ENOSYS (the C library's robust mutexes do
 * not follow the kernel's robust-futex layout, so a dead owner could not
 * be detected). Nothing is left behind on failure.
 *
 * Threads: a handle may be used by every thread of the process at once;
 * only mproc_rsem_close must not overlap other calls on the same handle.
 * Fork: the child's copy of a handle works and counts as open until it is
 * closed; the child holds none of the parent's units.
 */
MPROC_API int mproc_rsem_open(mproc_rsem **out, const char *name, unsigned count);

/**
 * mproc_rsem_acquire - take one unit for the calling thread, waiting up to
 * timeout seconds while every unit is held.
 *
 * A thread may hold several units. Waiters are woken by every release and
 * by the death of any owner (with futex_waitv, Linux 5.16 and later; on
 * older kernels, and past 127 units held, a unit freed by a death is seen
 * within 50 ms). Returns 0; -ETIMEDOUT (0 timeout included); -EINVAL (NULL,
 * NaN timeout).
 */
MPROC_API int mproc_rsem_acquire(mproc_rsem *s, double timeout);

/**
 * mproc_rsem_release - give back one unit held by the calling thread and
 * wake the waiters. Returns 0; -EPERM (the calling thread holds no unit:
 * units are not released on another's behalf); -EINVAL.
 */
MPROC_API int mproc_rsem_release(mproc_rsem *s);

/** mproc_rsem_value - the units free now (a snapshot), or -EINVAL. */
MPROC_API int mproc_rsem_value(mproc_rsem *s);

/** mproc_rsem_count - the number of units the semaphore was made with,
    or -EINVAL. */
MPROC_API int mproc_rsem_count(mproc_rsem *s);

/**
 * mproc_rsem_wait_idle - wait until no unit is held (by anyone alive),
 * taking none. Returns 0; -ETIMEDOUT; -EINVAL.
 */
MPROC_API int mproc_rsem_wait_idle(mproc_rsem *s, double timeout);

/**
 * mproc_rsem_close - release the units the calling thread holds, close
 * the handle, and remove the name when this was the last handle open (see
 * mproc_rsem_open). No other thread of this process may hold units of, or
 * be waiting on, this handle. Accepts NULL.
 */
MPROC_API void mproc_rsem_close(mproc_rsem *s);

/**
 * mproc_rsem_unlink - remove a semaphore's name now, as mproc_shm_unlink;
 * open handles keep working. Returns 0, -ENOENT, -EINVAL.
 */
MPROC_API int mproc_rsem_unlink(const char *name);

/* =========================================================================
 * Event (multiprocessing.Event)
 * ========================================================================= */

/**
 * mproc_event_init - a cleared event in caller storage in shared memory;
 * mproc_event_new in a block of its own; _destroy / _free end them.
 * Returns 0 or -EINVAL (NULL). The event holds no lock, so no process can
 * die holding it.
 */
MPROC_API int  mproc_event_init(mproc_event *e);
MPROC_API int  mproc_event_destroy(mproc_event *e);
MPROC_API int  mproc_event_new(mproc_event **out);
MPROC_API void mproc_event_free(mproc_event *e);

/** mproc_event_set - set the flag and wake every waiter. 0 or -EINVAL. */
MPROC_API int mproc_event_set(mproc_event *e);
/** mproc_event_clear - clear the flag. 0 or -EINVAL. */
MPROC_API int mproc_event_clear(mproc_event *e);
/** mproc_event_is_set - the flag (false for NULL). */
MPROC_API bool mproc_event_is_set(mproc_event *e);
/**
 * mproc_event_wait - wait until the flag is set. Returns 0 once set (at
 * once if it already is), -ETIMEDOUT, -EINVAL.
 */
MPROC_API int mproc_event_wait(mproc_event *e, double timeout);

/* =========================================================================
 * Condition (multiprocessing.Condition)
 * ========================================================================= */

/**
 * mproc_cond_init - a condition variable in caller storage in shared
 * memory, used with an mproc_lock (normally placed next to it);
 * mproc_cond_new in a block of its own; _destroy / _free end them.
 * Returns 0 or -EINVAL.
 *
 * Caller's steps, as with Python's Condition:
 *   waiter:   acquire(lock); while (!predicate) cond_wait(c, lock, t);
 *             ...; release(lock)
 *   notifier: acquire(lock); change the state; cond_notify(c, 1);
 *             release(lock)
 */
MPROC_API int  mproc_cond_init(mproc_cond *c);
MPROC_API int  mproc_cond_destroy(mproc_cond *c);
MPROC_API int  mproc_cond_new(mproc_cond **out);
MPROC_API void mproc_cond_free(mproc_cond *c);

/**
 * mproc_cond_wait - release lock, wait for a notification, take lock back.
 *
 * The caller must hold lock. The lock is held again on every return
 * except -EINVAL, -EPERM and -ENOTRECOVERABLE. Wake-ups may be spurious: always re-check the
 * predicate. Returns 0 (woken), -ETIMEDOUT (lock held again),
 * -EOWNERDEAD (lock taken back from a holder that died: see
 * mproc_lock_acquire), -EPERM (the caller did not hold lock), -EINVAL.
 */
MPROC_API int mproc_cond_wait(mproc_cond *c, mproc_lock *lock, double timeout);

/** mproc_cond_notify - wake up to n waiters (n 0 wakes none). 0 or -EINVAL. */
MPROC_API int mproc_cond_notify(mproc_cond *c, unsigned n);
/** mproc_cond_notify_all - wake every waiter. 0 or -EINVAL. */
MPROC_API int mproc_cond_notify_all(mproc_cond *c);

/* =========================================================================
 * Barrier (multiprocessing.Barrier)
 * ========================================================================= */

/**
 * mproc_barrier_init - a barrier for parties processes (or threads) in
 * caller storage in shared memory; mproc_barrier_new in a block of its
 * own; _destroy / _free end them. Returns 0, -EINVAL (NULL, parties 0 or
 * over 2^31 - 1).
 */
MPROC_API int  mproc_barrier_init(mproc_barrier *b, unsigned parties);
MPROC_API int  mproc_barrier_destroy(mproc_barrier *b);
MPROC_API int  mproc_barrier_new(mproc_barrier **out, unsigned parties);
MPROC_API void mproc_barrier_free(mproc_barrier *b);

/**
 * mproc_barrier_wait - wait until parties callers have arrived.
 *
 * Returns the caller's arrival index, 0 .. parties-1, distinct for each
 * caller of a round (as Python's wait(); the last to arrive gets
 * parties-1); -ETIMEDOUT when the round did not fill in time, which breaks
 * the barrier for the others; -EPIPE when the barrier is broken (by a
 * timeout, mproc_barrier_abort, mproc_barrier_reset during the round, or a
 * party killed inside the barrier's bookkeeping), until mproc_barrier_reset;
 * -EINVAL.
 */
MPROC_API int mproc_barrier_wait(mproc_barrier *b, double timeout);

/** mproc_barrier_abort - break the barrier: waiters and later callers get
    -EPIPE until reset. 0 or -EINVAL. */
MPROC_API int mproc_barrier_abort(mproc_barrier *b);
/** mproc_barrier_reset - back to the empty, unbroken state; callers waiting
    in the current round get -EPIPE. 0 or -EINVAL. */
MPROC_API int mproc_barrier_reset(mproc_barrier *b);
/** mproc_barrier_parties / _n_waiting / _broken - as Python's properties
    (a snapshot); -EINVAL or false for NULL. */
MPROC_API int  mproc_barrier_parties(mproc_barrier *b);
MPROC_API int  mproc_barrier_n_waiting(mproc_barrier *b);
MPROC_API bool mproc_barrier_broken(mproc_barrier *b);

/* =========================================================================
 * Queue and JoinableQueue (multiprocessing.Queue, JoinableQueue)
 * ========================================================================= */

/** A queue, as seen by one process. */
typedef struct mproc_queue mproc_queue;

typedef struct mproc_queue_opts {
    size_t maxsize;     /* most messages held at once; 0: bounded by bytes only */
    size_t bytes;       /* size of the ring that holds them; 0: 1 MiB; rounded
                           up to a power of two, at least 4 KiB */
    const char *name;   /* NULL: anonymous (shared with children forked later,
                           and through mproc_queue_fd); else a name as for
                           mproc_shm_create, for mproc_queue_attach */
    unsigned attachers; /* with a name: see mproc_shm_opts.attachers */
    uint64_t reserved_[4]; /* zero (= {0} does it): room for later options */
} mproc_queue_opts;
MPROC_OPTS_CHECK_(mproc_queue_opts);

/**
 * mproc_queue_new - make a queue in shared memory.
 *
 * Multi-producer, multi-consumer, first in first out, variable-size byte
 * messages. A message takes its length rounded up to 8 plus 8 bytes of the
 * ring. Messages that can never fit (larger than the ring less 8 bytes,
 * mproc_queue_max_message) are refused with -EMSGSIZE, not carried: choose
 * opts->bytes for the largest message, or put big payloads in an
 * mproc_shm block and queue a small message that names it.
 *
 * Usable by every process forked after this call, by any process the
 * descriptor (mproc_queue_fd) is passed to (mproc_queue_from_fd), and with
 * opts->name by unrelated processes (mproc_queue_attach).
 *
 * On success *out is this process's handle: free it in every process with
 * mproc_queue_free. Returns 0, -EINVAL (NULL out, bad name, bytes over
 * 2^40), -EEXIST (name taken), -ENOSPC (named: /dev/shm cannot hold it; its
 * pages are reserved here), -ENOMEM, -EMFILE. Nothing is left behind on
 * failure.
 */
MPROC_API int mproc_queue_new(mproc_queue **out, const mproc_queue_opts *opts);

/** mproc_queue_attach - open a named queue made by mproc_queue_new. Returns
    0, -ENOENT, -EINVAL (bad name, not a queue), -EACCES, -EMFILE. */
MPROC_API int mproc_queue_attach(mproc_queue **out, const char *name);

/** mproc_queue_unlink - remove a named queue's name (mproc_shm_unlink). */
MPROC_API int mproc_queue_unlink(const char *name);

/** mproc_queue_from_fd - open the queue whose descriptor (mproc_queue_fd)
    was passed to us; the caller keeps fd. Returns 0, -EINVAL (not a
    queue), -EBADF, -EMFILE. */
MPROC_API int mproc_queue_from_fd(mproc_queue **out, int fd);

/** mproc_queue_fd - the queue's descriptor, to pass to another process;
    owned by the handle. -EINVAL for NULL. */
MPROC_API int mproc_queue_fd(const mproc_queue *q);

/**
 * mproc_queue_put - append one message of len bytes (data may be NULL
 * when len is 0), waiting up to timeout for room.
 *
 * The message is copied into the ring whole and becomes visible to getters
 * at once; a producer killed during the copy leaves nothing behind. A put
 * that found no room is woken once half the ring is free (as a pipe's
 * writer waits for a whole page; a message larger than that, once it
 * fits), or under maxsize as soon as a message may go, so that a waiting
 * producer and a slow consumer trade messages in batches rather than one
 * at a time.
 * Returns 0; -ETIMEDOUT (full; 0 timeout included, as put_nowait's Full);
 * -EMSGSIZE (can never fit); -EPIPE (the queue was closed); -EINVAL;
 * -EPROTO when the queue's shared memory holds positions no put or get
 * left there (written over by something other than this library).
 */
MPROC_API int mproc_queue_put(mproc_queue *q, const void *data, size_t len, double timeout);

/**
 * mproc_queue_get - take the oldest message into buf (cap bytes), waiting
 * up to timeout for one.
 *
 * Returns 0 and sets *len; -EMSGSIZE when the message is larger than cap:
 * *len is set to its size and it stays first in the queue; -ETIMEDOUT
 * (empty; 0 timeout included, as get_nowait's Empty); -EPIPE when the
 * queue is closed and empty; -EINVAL (NULL q or len, NULL buf with cap >
 * 0, NaN timeout); -EPROTO when the queue's shared memory holds a message
 * or positions no put wrote (written over by something other than this
 * library): reported, never followed outside the ring.
 */
MPROC_API int mproc_queue_get(mproc_queue *q, void *buf, size_t cap, size_t *len,
                              double timeout);

/**
 * mproc_queue_get_alloc - as mproc_queue_get into a new malloc'd buffer
 * that the caller frees with free(). Also -ENOMEM (the message stays).
 */
MPROC_API int mproc_queue_get_alloc(mproc_queue *q, void **data, size_t *len, double timeout);

/**
 * mproc_queue_close - close the queue for every process: later puts return
 * -EPIPE; getters take what is left, then get -EPIPE instead of waiting
 * (so consumers learn that no more will come). Waiters are woken.
 * Returns 0 or -EINVAL. Closing twice is harmless.
 */
MPROC_API int mproc_queue_close(mproc_queue *q);

/** mproc_queue_closed - true once closed (false for NULL). */
MPROC_API bool mproc_queue_closed(mproc_queue *q);

/** mproc_queue_qsize - messages in the queue now (a snapshot), or -EINVAL.
    Takes the queue's mutex briefly, like the two below. */
MPROC_API long mproc_queue_qsize(mproc_queue *q);
/** mproc_queue_empty / _full - snapshots, as Python's (false for NULL). */
MPROC_API bool mproc_queue_empty(mproc_queue *q);
MPROC_API bool mproc_queue_full(mproc_queue *q);
/** mproc_queue_max_message - the largest message the queue takes. */
MPROC_API size_t mproc_queue_max_message(const mproc_queue *q);

/**
 * mproc_queue_task_done - JoinableQueue.task_done: one message taken by a
 * get has been dealt with. Every put counts one unfinished task.
 * Returns 0, -EINVAL (called more times than there were puts, or NULL).
 */
MPROC_API int mproc_queue_task_done(mproc_queue *q);

/**
 * mproc_queue_join - JoinableQueue.join: wait until every message ever put
 * has been marked done by mproc_queue_task_done. Returns 0, -ETIMEDOUT,
 * -EINVAL.
 */
MPROC_API int mproc_queue_join(mproc_queue *q, double timeout);

/** mproc_queue_free - this process's handle goes (the queue stays for the
    others; the memory goes with the last handle). Accepts NULL. */
MPROC_API void mproc_queue_free(mproc_queue *q);

#ifdef __cplusplus
}
#endif

#endif
