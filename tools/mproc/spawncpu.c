/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* spawncpu.c: on which CPU `mproc run` waits for its jobs and starts them,
 * when they keep every CPU busy.
 *
 * DESIGN. A job's exit wakes us like any sleeper: the scheduler weighs the
 * CPU the job leaves against the one we last ran on and, both busy at that
 * instant, keeps us on ours. That is where we started the newest job, so
 * with as many jobs as CPUs the job that ends next (the oldest) ends on
 * another CPU, which then idles while we preempt the newest job to reap
 * and start the next one there; the new child is even created beside us
 * and moved at its exec. So while the jobs fill the CPUs, each slot keeps
 * one CPU (slot i the i-th of ours), we wait held to the CPU of the oldest
 * job, and before a start we are held to the slot's CPU: the exit then
 * wakes us on the CPU it frees, the child is created there, and nothing
 * idles. The job itself gets our whole set of CPUs back before its exec
 * (spawn_job), so it, and anything that asks how many CPUs it may use, sees
 * what it would have seen without us; only we are held. With --pipe the
 * loop feeds the jobs' pipes itself, and is not held; unless the pump's
 * threads feed every block (pipe_all_pumped): then it only waits, as for
 * plain jobs, and the threads are given our whole set too (pipepump.c),
 * which they would otherwise inherit held from the thread creating them.
 *
 * Moving a running task to another CPU takes the kernel's stopper thread
 * and two more context switches. So the move to the oldest job's CPU is
 * made by the child we start, on us while we sleep in its vfork: its exec
 * then wakes us there directly (spawn_cpus_wait_on). Our own call
 * (spawn_cpus_hold) is left for when that did not happen.
 */
#include "tool.h"
#include "spawn.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int spawn_cpus_init(spawn_cpus *c)
{
    memset(c, 0, sizeof *c);
    c->pinned = c->wait_cpu = -1;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* posix_spawn starts the jobs there, and cannot give them back our
       CPUs: nobody is held. */
    return -ENOTSUP;
#else
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    int max = conf > 0 ? (int)conf : 1;
    for (;;) {
        c->size = CPU_ALLOC_SIZE(max);
        c->orig = CPU_ALLOC(max);
        if (!c->orig)
            return -ENOMEM;
        if (sched_getaffinity(0, c->size, c->orig) == 0)
            break;
        int err = -errno;
        CPU_FREE(c->orig);
        c->orig = NULL;
        if (err != -EINVAL || max >= (1 << 20))
            return err;
        max *= 2; /* more CPUs than configured (hotplug): a larger set */
    }
    c->one = CPU_ALLOC(max);
    c->wait = CPU_ALLOC(max);
    c->wait_cpu = -1;
    c->self = getpid();
    int n = CPU_COUNT_S(c->size, c->orig);
    c->list = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *c->list);
    for (int cpu = 0; cpu < max && c->n < n; cpu++)
        if (CPU_ISSET_S((size_t)cpu, c->size, c->orig))
            c->list[c->n++] = cpu;
    if (!c->one || !c->wait || c->n < 2) {
        spawn_cpus_free(c);
        return -ENOTSUP; /* one CPU: nowhere else to be */
    }
    return 0;
#endif
}

void spawn_cpus_hold(spawn_cpus *c, long slot)
{
    if (!c->list)
        return;
    int cpu = c->list[slot % c->n];
    if (cpu == c->pinned)
        return;
    CPU_ZERO_S(c->size, c->one);
    CPU_SET_S((size_t)cpu, c->size, c->one);
    if (sched_setaffinity(0, c->size, c->one) == 0)
        c->pinned = cpu;
    else
        spawn_cpus_release(c); /* that CPU went away: wherever we may run */
}

void spawn_cpus_wait_on(spawn_cpus *c, long slot)
{
    c->wait_cpu = -1;
    if (!c->list || c->pinned < 0 || c->list[slot % c->n] == c->pinned)
        return;
    c->wait_cpu = c->list[slot % c->n];
    CPU_ZERO_S(c->size, c->wait);
    CPU_SET_S((size_t)c->wait_cpu, c->size, c->wait);
}

void spawn_cpus_waited(spawn_cpus *c)
{
    /* We can run there only if the child's call took: else (its exec
       failed first, or it was detached) we are still where we were. */
    if (c->wait_cpu >= 0 && sched_getcpu() == c->wait_cpu)
        c->pinned = c->wait_cpu;
    c->wait_cpu = -1;
}

void spawn_cpus_release(spawn_cpus *c)
{
    if (c->pinned < 0)
        return;
    /* Failing, we stay held: the jobs still get orig back. */
    if (sched_setaffinity(0, c->size, c->orig) == 0)
        c->pinned = -1;
}

void spawn_cpus_free(spawn_cpus *c)
{
    if (c->orig)
        spawn_cpus_release(c);
    if (c->orig)
        CPU_FREE(c->orig);
    if (c->one)
        CPU_FREE(c->one);
    if (c->wait)
        CPU_FREE(c->wait);
    free(c->list);
    memset(c, 0, sizeof *c);
    c->pinned = c->wait_cpu = -1;
}
