/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 31_shared_counter: four processes add to one counter in shared memory, as
 * multiprocessing.Value. Under its lock the total is exact; without it,
 * increments that overlap are lost and the answer is wrong. */
#include <mproc.h>
#include <stdio.h>

#define PROCS 4
#define ADDS 200000

static mproc_barrier *start; /* all processes begin together */

static int add_locked(void *arg)
{
    mproc_shm *v = arg;
    mproc_barrier_wait(start, -1);
    for (int i = 0; i < ADDS; i++) {
        mproc_lock_acquire(mproc_shm_lock(v), -1);
        (*MPROC_SHM_AS(v, long))++;
        mproc_lock_release(mproc_shm_lock(v));
    }
    return 0;
}

static int add_unlocked(void *arg)
{
    mproc_shm *v = arg;
    volatile long *n = MPROC_SHM_AS(v, long);
    mproc_barrier_wait(start, -1);
    for (int i = 0; i < ADDS; i++) {
        long seen = *n; /* read, add, write: another process may write in between */
        for (volatile int k = 0; k < 10; k++)
            ;
        *n = seen + 1;
    }
    return 0;
}

static long run(mproc_target_fn fn)
{
    mproc_shm *v;
    if (mproc_shm_value_new(&v, sizeof(long), NULL, true) < 0)
        return -1;
    mproc_process *p[PROCS];
    for (int i = 0; i < PROCS; i++) {
        mproc_process_new(&p[i], fn, v, NULL);
        mproc_process_start(p[i]);
    }
    for (int i = 0; i < PROCS; i++) {
        mproc_process_join(p[i], -1);
        mproc_process_free(p[i]);
    }
    long total = *MPROC_SHM_AS(v, long);
    mproc_shm_free(v);
    return total;
}

int main(void)
{
    if (mproc_barrier_new(&start, PROCS) < 0)
        return 1;
    long expect = (long)PROCS * ADDS;
    long locked = run(add_locked);
    long unlocked = run(add_unlocked);
    printf("  %d processes x %d increments: expected %ld\n", PROCS, ADDS, expect);
    printf("  with the lock:    %ld (%s)\n", locked, locked == expect ? "exact" : "WRONG");
    printf("  without the lock: %ld (%s)\n", unlocked,
           unlocked == expect ? "right this time, by luck" : "lost updates");
    mproc_barrier_free(start);
    return locked == expect ? 0 : 1;
}
