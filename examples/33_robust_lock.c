/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 33_robust_lock: a process dies holding a lock, half-way through an update.
 * Python's Lock would stay locked forever; here the next acquirer is told
 * (-EOWNERDEAD), repairs the data and carries on. */
#include <mproc.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

typedef struct {
    mproc_lock lock;
    mproc_event holding; /* set by the child once it holds the lock */
    long debit, credit; /* must always be equal */
} ledger;

static int careless(void *arg)
{
    ledger *l = arg;
    mproc_lock_acquire(&l->lock, -1);
    l->debit += 100; /* ... and killed before the credit */
    printf("  [child %d] took the lock, wrote the debit, now hangs\n", (int)getpid());
    fflush(stdout);
    mproc_event_set(&l->holding);
    pause();
    return 0;
}

int main(void)
{
    mproc_shm *blk;
    if (mproc_shm_new(&blk, sizeof(ledger)) < 0)
        return 1;
    ledger *l = mproc_shm_ptr(blk);
    mproc_lock_init(&l->lock);
    mproc_event_init(&l->holding);

    mproc_process *p;
    mproc_process_new(&p, careless, l, NULL);
    mproc_process_start(p);
    mproc_event_wait(&l->holding, -1);
    printf("  parent: try for 0.1 s: %s\n", mproc_strerror(mproc_lock_acquire(&l->lock, 0.1)));
    mproc_process_kill(p);
    mproc_process_join(p, -1);
    printf("  parent: killed the holder\n");

    int r = mproc_lock_acquire(&l->lock, 5);
    printf("  parent: acquire -> %s\n", r == -EOWNERDEAD ? "-EOWNERDEAD (holder died)"
                                                          : mproc_strerror(r));
    if (r == -EOWNERDEAD) {
        printf("  parent: ledger debit=%ld credit=%ld: inconsistent, repairing\n", l->debit,
               l->credit);
        l->credit = l->debit;
        mproc_lock_consistent(&l->lock);
    }
    mproc_lock_release(&l->lock);
    r = mproc_lock_acquire(&l->lock, 0);
    printf("  parent: lock usable again: %s; debit=%ld credit=%ld\n", mproc_strerror(r),
           l->debit, l->credit);
    mproc_lock_release(&l->lock);
    mproc_process_free(p);
    mproc_lock_destroy(&l->lock);
    mproc_shm_free(blk);
    return 0;
}
