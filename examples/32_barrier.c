/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 32_barrier: four processes work in phases; none starts phase k+1 before
 * all have finished phase k, as multiprocessing.Barrier. */
#include <mproc.h>
#include <stdio.h>
#include <unistd.h>

#define PROCS 4

static mproc_barrier *bar;

static int worker(void *arg)
{
    int id = *(int *)arg;
    for (int phase = 1; phase <= 3; phase++) {
        printf("  worker %d finished phase %d\n", id, phase);
        fflush(stdout);
        int idx = mproc_barrier_wait(bar, 10);
        if (idx < 0)
            return 1;
        if (idx == PROCS - 1) { /* the last to arrive: one line per phase */
            printf("  -- all %d passed the barrier after phase %d\n", PROCS, phase);
            fflush(stdout);
        }
        mproc_barrier_wait(bar, 10); /* so that the line above comes first */
    }
    return 0;
}

int main(void)
{
    if (mproc_barrier_new(&bar, PROCS) < 0)
        return 1;
    int ids[PROCS];
    mproc_process *p[PROCS];
    for (int i = 0; i < PROCS; i++) {
        ids[i] = i + 1;
        mproc_process_new(&p[i], worker, &ids[i], NULL);
        mproc_process_start(p[i]);
    }
    int bad = 0;
    for (int i = 0; i < PROCS; i++) {
        int code = 0;
        mproc_process_join(p[i], -1);
        mproc_process_exitcode(p[i], &code);
        bad |= code;
        mproc_process_free(p[i]);
    }
    mproc_barrier_free(bar);
    return bad;
}
