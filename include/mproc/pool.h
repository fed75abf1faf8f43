/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/**
 * mproc/pool.h: the process pool (multiprocessing.Pool); part of <mproc.h>,
 * include that instead.
 *
 * Overview
 * --------
 * A pool is a fixed number of worker processes that run tasks: plain
 * function pointers applied to argument bytes, returning result bytes.
 *
 *   1. mproc_pool_new(&pool, &opts) starts the workers (and one supervisor
 *      process that watches them).
 *   2. mproc_pool_apply_async(pool, fn, arg, len, &r) queues fn(arg) and
 *      returns a result object at once; mproc_pool_map / imap run fn over an
 *      array of fixed-size items.
 *   3. mproc_result_get(r, timeout, &data, &len) waits for the outcome;
 *      mproc_result_free(r) releases it.
 *   4. mproc_pool_close + mproc_pool_join let the queued tasks finish and
 *      the workers leave; mproc_pool_terminate stops everything now;
 *      mproc_pool_free releases the pool (terminating it if needed).
 *
 * What the workers see. mproc_pool_new forks one single-threaded
 * supervisor, which forks every worker, first ones and replacements alike.
 * So each worker sees the program's memory as it was when mproc_pool_new
 * was called: globals changed later, heap objects made later and libraries
 * loaded later (dlopen) are not there. A task function must therefore be
 * part of the program or of a library loaded before the pool was made; one
 * from a library loaded afterwards fails its task (-EFAULT from
 * apply_async where the library can tell, MPROC_EWORKER otherwise), never
 * the pool. Workers inherit the program's open descriptors and signal
 * dispositions, get the signal mask of the thread that made the pool, and
 * have /dev/null as stdin; a worker flushes stdout after every task. A
 * worker's own changes (to globals, to the heap) stay in that worker and
 * persist from one task to its next.
 *
 * What never goes wrong.
 * - A worker that dies during a task (a signal, abort, _exit) fails that
 *   task alone with MPROC_EWORKER (mproc_result_signal says which signal,
 *   mproc_result_code the exit status) and is replaced. Every task ends in
 *   exactly one outcome: it is never lost, never run twice, and no wait
 *   blocks forever because of a dead worker.
 * - A task running longer than task_timeout is killed with its worker
 *   (MPROC_ETASKTIMEOUT) and the worker replaced.
 * - The pool dies with its owner: if the program is killed (even by
 *   SIGKILL), the supervisor and the workers are gone within a second.
 * - A failing initializer breaks the pool (MPROC_EINIT) instead of making
 *   it respawn workers forever.
 * - Respawning never forks a multithreaded process: the supervisor has one
 *   thread. Making a pool in a program that already runs threads is fine.
 *
 * Threads. Every pool and result function may be called from any thread,
 * and several threads may use one pool and one result at the same time,
 * except that mproc_pool_free and mproc_result_free end the object for
 * everybody (do not race them with other calls on the same object); a
 * thread waiting on a result of the pool while mproc_pool_free runs is
 * woken with -ECANCELED. The library starts one thread of its own per
 * pool, and only when the first callback is attached
 * (mproc_result_on_ready): callbacks run there.
 *
 * Fork. A pool belongs to the process that made it. In any other process
 * (a child forked from the owner, say) every call on the pool, its results,
 * maps and iterators is refused: those returning int give -EINVAL
 * (mproc_result_code and mproc_result_signal too), mproc_result_ready
 * false, mproc_map_count 0, and the frees do nothing; the owner's pool is
 * not disturbed (no task lost, no slot taken). A child may make a pool of
 * its own.
 *
 * The supervisor killed from outside. A task that was running ends
 * MPROC_EWORKER with the signal its worker died of (SIGKILL: the workers
 * die with their supervisor); a task that had not started ends -EPIPE;
 * later submissions return -EPIPE. Under an owner that is a subreaper
 * (mproc_subreaper), the orphaned workers become the owner's children and
 * the pool reaps them: no zombie is left.
 *
 * Resources. A pool holds two descriptors (close-on-exec) and two shared
 * mappings in the owner: its task ring, and a window onto the memory that
 * carries large arguments and results (address space of up to 64 GiB,
 * less where the system refuses that; memory only as payloads use it).
 * That memory is reused from task to task, so payloads travel at memory
 * speed; what no task has used for a while goes back to the system. When
 * mproc_pool_free (or terminate + join) returns no process of the pool is
 * left, no zombie, and nothing in /dev/shm; the window goes with the last
 * result that points into it.
 */
#ifndef MPROC_POOL_H
#define MPROC_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mproc_pool mproc_pool;
typedef struct mproc_result mproc_result;
typedef struct mproc_out mproc_out;

/** A callback on a result: r stays valid during the call. */
typedef void (*mproc_result_cb)(mproc_result *r, void *cookie);

/**
 * mproc_task_fn - what a pool runs, in a worker process.
 *
 * Reads arg_len bytes at arg (NULL when arg_len is 0; for map items, one
 * item), may append result bytes to out with mproc_out_write, and returns 0
 * on success or any other value as its error code (the result is then
 * MPROC_ETASK, with the value in mproc_result_code and what the task wrote
 * still readable). The argument bytes are valid only during the call, and
 * aligned to 16 bytes at least (map items: as in a C array of them), so a
 * task may read a scalar or a struct argument in place.
 */
typedef int (*mproc_task_fn)(const void *arg, size_t arg_len, mproc_out *out);

/**
 * mproc_out_write - append len bytes to a task's result. Called only from
 * within a task, with the out it was given. There is no limit but memory.
 * A task that returns its argument unchanged (data and len exactly the
 * arg and arg_len it was given, as its first write) costs no copy: a large
 * argument becomes the result where it lies; what the task writes after
 * it is appended as usual.
 * Returns 0, -EINVAL (NULL out, or NULL data with len > 0), -ENOMEM (the
 * task's result then ends -ENOMEM).
 */
MPROC_API int mproc_out_write(mproc_out *out, const void *data, size_t len);

/**
 * mproc_out_printf - append printf-formatted text to a task's result: the
 * characters, without the terminating NUL (every result is followed by a
 * NUL anyway when the owner reads it, see mproc_result_get). Called only
 * from within a task, as mproc_out_write.
 *
 * Returns 0; -EINVAL (NULL out or fmt, or an encoding error in the
 * conversion); -ENOMEM (the task's result then ends -ENOMEM).
 */
MPROC_API int mproc_out_printf(mproc_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct mproc_pool_opts {
    int processes;                 /* 0: mproc_cpu_count() */
    int (*initializer)(void *arg); /* run once in each worker; non-zero (or a crash) fails it */
    void *initarg;
    unsigned maxtasksperchild;     /* 0: no limit; else a worker is replaced after so many tasks */
    double task_timeout;           /* 0: none; else a task running longer is killed */
    uint64_t reserved_[4]; /* zero (= {0} does it): room for later options */
} mproc_pool_opts;
MPROC_OPTS_CHECK_(mproc_pool_opts);

/**
 * mproc_pool_new - start a pool.
 *
 * opts may be NULL for the defaults. processes workers are started
 * (mproc_cpu_count() when 0); the initializer, if any, runs once in every
 * worker, replacements included, before it takes a task. mproc_pool_new
 * returns once every worker has run its initializer.
 *
 * The pool dies with the calling process: the supervisor watches a pidfd
 * of it (PR_SET_PDEATHSIG alone would follow the calling *thread*).
 *
 * On success *out owns the pool (mproc_pool_free). Returns 0; -EINVAL (NULL
 * out, processes < 0 or above 4096, a negative or NaN task_timeout);
 * MPROC_EINIT when a first worker's initializer failed (nothing is left
 * running); -EAGAIN / -ENOMEM when the kernel refuses a process or memory.
 */
MPROC_API int mproc_pool_new(mproc_pool **out, const mproc_pool_opts *opts);

/**
 * mproc_pool_apply_async - queue fn(arg) and return its result object now.
 *
 * The argument bytes are copied before this returns; (NULL, 0) is a valid
 * empty argument. Arguments up to a few hundred bytes travel inside the
 * queue, larger ones through shared memory; there is no limit but memory.
 * At most 4096 tasks wait in the queue: beyond that apply_async waits for
 * the oldest to finish (collecting outcomes as it waits).
 *
 * On success *out owns a result (mproc_result_free). Returns 0; -EINVAL
 * (NULL pool, fn or out, NULL arg with arg_len > 0, the pool closed or
 * terminated); MPROC_EINIT (the pool is broken); -EFAULT (fn is in a library
 * loaded after the pool was made); -EPIPE (the pool's supervisor was killed
 * from outside); -ENOMEM.
 */
MPROC_API int mproc_pool_apply_async(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                                     size_t arg_len, mproc_result **out);

/** What mproc_pool_submit adds to apply_async; zero-initialize for defaults. */
typedef struct mproc_submit_opts {
    mproc_result_cb on_success;  /* as mproc_result_on_ready */
    mproc_result_cb on_error;
    void *cookie;
    double timeout;              /* 0: the pool's task_timeout; > 0 this task's own */
    uint64_t reserved_[4]; /* zero (= {0} does it): room for later options */
} mproc_submit_opts;
MPROC_OPTS_CHECK_(mproc_submit_opts);

/**
 * mproc_pool_submit - apply_async with its callbacks (and an optional
 * per-task timeout) in one call, as Python's apply_async(callback=,
 * error_callback=).
 *
 * opts may be NULL: then this is exactly mproc_pool_apply_async. With
 * on_success or on_error set, they are attached before the task is queued,
 * exactly as mproc_result_on_ready attaches them (same thread, same order,
 * exactly one runs, join waits for them); with both NULL no callback is
 * attached and mproc_result_on_ready may still be called. timeout > 0 is
 * this task's limit in place of the pool's task_timeout (a task running
 * longer is killed with its worker: MPROC_ETASKTIMEOUT), also in a pool made
 * without one; a limit past 10^9 s is none.
 *
 * On success *out owns the result (mproc_result_free; freeing it before its
 * callback ran drops the callback, as with on_ready). Returns 0 or an error
 * of mproc_pool_apply_async; -EINVAL also for a negative or NaN timeout;
 * -EAGAIN (the callback thread could not be started; nothing was queued).
 */
MPROC_API int mproc_pool_submit(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                                size_t arg_len, const mproc_submit_opts *opts,
                                mproc_result **out);

/**
 * mproc_pool_apply - run fn(arg) in the pool and wait for it, as Python's
 * Pool.apply.
 *
 * Returns the outcome as mproc_result_get does (0, MPROC_ETASK,
 * MPROC_EWORKER, ...), or an error of mproc_pool_apply_async. When the task
 * returned (0 or MPROC_ETASK) and data is not NULL, *data is a malloc'd
 * copy of its result bytes followed by a NUL (NULL when empty) for the
 * caller to free, and
 * *len their count; data and len may be NULL to drop them.
 */
MPROC_API int mproc_pool_apply(mproc_pool *pool, mproc_task_fn fn, const void *arg,
                               size_t arg_len, void **data, size_t *len);

/**
 * mproc_pool_close - accept no more tasks; the queued ones still run, then
 * the workers leave. May be called more than once. Returns 0, -EINVAL (NULL).
 */
MPROC_API int mproc_pool_close(mproc_pool *pool);

/**
 * mproc_pool_join - after close or terminate, wait until every task has its
 * outcome, the workers and supervisor are gone (reaped), and every callback
 * attached to a result of the pool has run, as Python's Pool.join waits for
 * its result handler: results may be freed right after join with no
 * callback lost.
 *
 * What join waits for is fixed when it is called: the pool is closed, so no
 * task can be added. A callback that runs while join waits and submits a
 * task gets -EINVAL (the pool is closed) and join does not wait for it; a
 * callback attached meanwhile to a result whose outcome is known is waited
 * for. Called from a callback of the pool, join does not wait for the
 * callbacks (it would wait for itself).
 *
 * Returns 0 (also when called again; a second join waits for callbacks
 * attached since); -EINVAL at once while the pool is still open.
 */
MPROC_API int mproc_pool_join(mproc_pool *pool);

/**
 * mproc_pool_terminate - stop now: the workers are killed, every unfinished
 * task, running or queued, ends with -ECANCELED (those results are ready),
 * and this returns once the workers and the supervisor are gone. Tasks that
 * had already finished keep their outcome. May be called more than once.
 * Returns 0, -EINVAL (NULL).
 */
MPROC_API int mproc_pool_terminate(mproc_pool *pool);

/**
 * mproc_pool_free - terminate the pool if it is still running, wait for it,
 * and release it. Results stay valid after it (unfinished ones end
 * -ECANCELED) and are freed on their own. Before it returns, every callback
 * attached to a result whose outcome is known, -ECANCELED included, has
 * run (in the callback thread, which it then ends). Leaves no process, zombie,
 * descriptor or shared memory behind. Accepts NULL. Must not be called from
 * a callback of the same pool's results.
 */
MPROC_API void mproc_pool_free(mproc_pool *pool);

/* ---- results ------------------------------------------------------------ */

/**
 * mproc_result_wait - wait until the result is ready (its task has an
 * outcome). Returns 0 once ready, -ETIMEDOUT, -EINVAL (NULL, NaN timeout).
 * A thread waiting also collects the outcomes of other tasks of the pool.
 */
MPROC_API int mproc_result_wait(mproc_result *r, double timeout);

/** True once the result is ready; never waits. */
MPROC_API bool mproc_result_ready(mproc_result *r);

/**
 * mproc_result_get - wait (as mproc_result_wait) and give the outcome.
 *
 * Returns 0: the task returned 0, and *data / *len are its result bytes,
 * valid until mproc_result_free, aligned to 16 bytes. One NUL byte follows
 * them (not counted in *len), so a text result prints with %s; an empty
 * result is "" (never NULL). A large result is not copied: *data points
 * into the shared memory the task wrote it to.
 * Otherwise MPROC_ETASK (and *data / *len are what the task wrote),
 * MPROC_EWORKER (the worker died during the task), MPROC_ETASKTIMEOUT,
 * MPROC_EINIT (the pool broke before the task ran), -ECANCELED (terminated
 * or freed first), -EPIPE (the supervisor was killed from outside before
 * the task started), -ENOMEM (the task's result could not be stored),
 * -ETIMEDOUT (not ready within timeout), -EINVAL. data and len may be NULL;
 * they are written only for 0 and MPROC_ETASK. The same answer comes again
 * on every call.
 */
MPROC_API int mproc_result_get(mproc_result *r, double timeout, const void **data, size_t *len);

/**
 * mproc_result_code - the task's return value (MPROC_ETASK), or the
 * worker's exit status when it exited during the task without a signal
 * (MPROC_EWORKER); 0 otherwise, and while not ready.
 */
MPROC_API int mproc_result_code(const mproc_result *r);

/**
 * mproc_result_signal - the signal that ended the worker (MPROC_EWORKER),
 * SIGKILL for MPROC_ETASKTIMEOUT; 0 otherwise, and while not ready.
 */
MPROC_API int mproc_result_signal(const mproc_result *r);

/**
 * mproc_result_free - release a result, ready or not (the outcome of an
 * unfinished task is then discarded when it comes, and its callback, if
 * any, is not called). Valid after mproc_pool_free. Accepts NULL.
 */
MPROC_API void mproc_result_free(mproc_result *r);

/**
 * mproc_result_wait_any - wait until any of n results is ready, as
 * concurrent.futures.wait(FIRST_COMPLETED).
 *
 * All the results must come from one pool. Returns the lowest index of a
 * ready result (>= 0), -ETIMEDOUT, -EINVAL (NULL, n == 0, a NULL entry,
 * results of several pools, NaN timeout).
 */
MPROC_API int mproc_result_wait_any(mproc_result *const *results, size_t n, double timeout);

/**
 * mproc_result_on_ready - call on_success(r, cookie) when the task returns
 * 0, or on_error(r, cookie) for any other outcome (either may be NULL), as
 * Python's callback and error_callback.
 *
 * Exactly one of them runs, once, in the pool's callback thread (a thread
 * of the library, one per pool, started by the first call of this for the
 * pool, with every signal blocked), one callback at a time, in the order
 * the outcomes were collected; at once (in that thread) when r is already
 * ready. A callback may call any result function and mproc_pool_apply_async
 * on the same pool, and may free r; it must not call mproc_pool_free, and
 * should be short (outcomes wait behind it). A result freed before its
 * callback ran has it dropped. On a result that outlived its pool
 * (mproc_pool_free), the callback runs at once in the calling thread.
 *
 * Returns 0; -EINVAL (NULL r); -EBUSY (callbacks were already attached to
 * r); -EAGAIN (the thread could not be started).
 */
MPROC_API int mproc_result_on_ready(mproc_result *r, mproc_result_cb on_success,
                                    mproc_result_cb on_error, void *cookie);

/* ---- map and its iterators ---------------------------------------------- */

/*
 * The map family runs fn over n items of item_size bytes each, laid out
 * end to end at items (copied before the call returns). Items travel in
 * chunks of chunksize items, each chunk one task: with chunksize 0, map
 * chooses as Python's Pool.map does (n / (4 * processes), rounded up), the
 * iterators use 1, as Python's imap does. A worker that dies during a chunk
 * fails every item of that chunk with the same outcome.
 */
typedef struct mproc_map mproc_map;
typedef struct mproc_iter mproc_iter;

/** One item's outcome, as mproc_iter_next gives it. */
typedef struct mproc_item {
    size_t index;     /* the item's position in the input */
    int code;         /* as mproc_result_get: 0, MPROC_ETASK, MPROC_EWORKER, ... */
    int detail;       /* the task's return value for MPROC_ETASK, else as mproc_result_code */
    const void *data; /* the item's result bytes (0 and MPROC_ETASK), then a NUL; aligned
                         to 8 bytes, or as in an array of them when every item of its
                         chunk returned 0 with as many bytes */
    size_t len;
} mproc_item;

/**
 * mproc_pool_map - run fn over every item and wait for all of them, as
 * Python's Pool.map; results in input order.
 *
 * On return 0, *out holds every item's outcome, including failed items
 * (see mproc_map_error): free it with mproc_map_free. n == 0 is valid.
 * Returns 0; -EINVAL (NULL pool, fn or out, NULL items with n > 0,
 * item_size 0 with n > 0, the pool not open); MPROC_EINIT; -ENOMEM; -EPIPE.
 * A pool terminated during the map still returns 0 with the unfinished
 * items at -ECANCELED.
 */
MPROC_API int mproc_pool_map(mproc_pool *pool, mproc_task_fn fn, const void *items,
                             size_t item_size, size_t n, size_t chunksize, mproc_map **out);

/** The number of items of a map. */
MPROC_API size_t mproc_map_count(const mproc_map *m);

/**
 * mproc_map_get - item i's outcome: 0 or an error as mproc_result_get, with
 * *data / *len its result bytes (0 and MPROC_ETASK; valid until
 * mproc_map_free; data and len may be NULL), followed by a NUL not counted
 * in *len, as mproc_result_get. -EINVAL for i out of range.
 */
MPROC_API int mproc_map_get(const mproc_map *m, size_t i, const void **data, size_t *len);

/**
 * mproc_map_error - 0 when every item succeeded; else the outcome of the
 * first failed item in input order, with its position in *index (may be
 * NULL), as Python's map raises the first exception.
 */
MPROC_API int mproc_map_error(const mproc_map *m, size_t *index);

/** Release a map's results. Accepts NULL. */
MPROC_API void mproc_map_free(mproc_map *m);

/**
 * mproc_pool_imap / mproc_pool_imap_unordered - submit every chunk now and
 * iterate over the items' outcomes as they come: in input order (imap), or
 * in the order the chunks finish (imap_unordered, items of one chunk in
 * their order). Arguments and errors as mproc_pool_map; *out owns an
 * iterator (mproc_iter_free).
 */
MPROC_API int mproc_pool_imap(mproc_pool *pool, mproc_task_fn fn, const void *items,
                              size_t item_size, size_t n, size_t chunksize, mproc_iter **out);
MPROC_API int mproc_pool_imap_unordered(mproc_pool *pool, mproc_task_fn fn, const void *items,
                                        size_t item_size, size_t n, size_t chunksize,
                                        mproc_iter **out);

/**
 * mproc_iter_next - the next item's outcome.
 *
 * Returns 1 with *item filled (item->data valid until the next call or
 * mproc_iter_free, followed by a NUL not counted in item->len, as
 * mproc_result_get; NULL for an item whose chunk did not run), 0 when every item has been given, -ETIMEDOUT when the
 * next item is not ready within timeout (call again later), -EINVAL.
 * One iterator is used by one thread at a time.
 */
MPROC_API int mproc_iter_next(mproc_iter *it, double timeout, mproc_item *item);

/** Release an iterator; items not yet given are discarded. Accepts NULL. */
MPROC_API void mproc_iter_free(mproc_iter *it);

#ifdef __cplusplus
}
#endif

#endif
