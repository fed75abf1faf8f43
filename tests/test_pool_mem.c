/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool_mem.c: what large tasks leave in each process of a pool: with
 * huge pages (MADV_COLLAPSE) every process drops its mapping of an extent
 * it is done with, so a worker's and the owner's share of the arena stays
 * within a task's extents however many tasks went round; and the bytes of
 * every task stay right through worker crashes, retirements and timeouts.
 * The bound is skipped, saying so, where the system refuses MADV_COLLAPSE
 * (the pool then keeps 4 KiB pages mapped, as it must). */
#include "test_pool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define MIB ((size_t)1 << 20)
#define IN_FLIGHT 16

/* Does this system collapse a populated, aligned memfd range into a huge
   page? NULL when it does, else why not. */
static const char *collapse_refused(void)
{
    static char why[128];
    long hp = 0;
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
    if (!f || fscanf(f, "%ld", &hp) != 1 || hp <= 0) {
        if (f)
            fclose(f);
        return "no transparent huge pages";
    }
    fclose(f);
    size_t h = (size_t)hp;
    int fd = memfd_create("mproc-probe", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)h), 0);
    char *r = mmap(NULL, 2 * h, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(r, MAP_FAILED);
    char *a = (char *)(((uintptr_t)r + h - 1) & ~(uintptr_t)(h - 1));
    ck_assert_ptr_ne(mmap(a, h, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0), MAP_FAILED);
    a[0] = 1;
    const char *res = NULL;
    if (madvise(a, h, MADV_COLLAPSE) < 0) {
        snprintf(why, sizeof why, "MADV_COLLAPSE refused: %s", strerror(errno));
        res = why;
    }
    munmap(r, 2 * h);
    close(fd);
    return res;
}

/* kB of process pid's (0: ours) mapping of the pool's arena, as smaps counts them:
   resident (Rss), and of that mapped by huge pages (ShmemPmdMapped). */
static void arena_kb(pid_t pid, long *rss, long *pmd)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/smaps", pid ? (int)pid : (int)getpid());
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    *rss = *pmd = 0;
    bool arena = false;
    long kb;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            arena = strstr(line, "memfd:mproc-pool") != NULL;
        else if (arena && sscanf(line, "Rss: %ld kB", &kb) == 1)
            *rss += kb;
        else if (arena && sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1)
            *pmd += kb;
    }
    fclose(f);
}

/* Task i's argument: its index first, then bytes that differ per task, so
   a result carrying another task's bytes (or a stale page) shows. */
static void fill_arg(unsigned char *b, size_t len, uint32_t i)
{
    memcpy(b, &i, sizeof i);
    for (size_t k = sizeof i; k < len; k++)
        b[k] = (unsigned char)((k * 2654435761u >> 11) ^ (i * 40503u));
}

START_TEST(worker_rss_bounded_with_huge_pages)
{
    const char *why = collapse_refused();
    if (why) {
        fprintf(stderr, "skipped: %s; the pool keeps 4 KiB pages and drops nothing\n", why);
        return;
    }
    mproc_pool *p = pool_of(2);
    pid_t sup, workers[2];
    ck_assert_int_eq(mproc_procinfo_children(0, &sup, 1), 1);
    ck_assert_int_eq(mproc_procinfo_children(sup, workers, 2), 2);
    unsigned char *arg = malloc(MIB);
    ck_assert_ptr_nonnull(arg);
    fill_arg(arg, MIB, 7);
    /* Enough tasks that every extent of the 16 in flight goes round many
       times (each is collapsed the second time it is written). */
    mproc_result *win[IN_FLIGHT];
    int n = 600;
    for (int i = 0; i < n; i++) {
        if (i >= IN_FLIGHT) {
            const void *d;
            size_t len;
            mproc_result *r = win[i % IN_FLIGHT];
            ck_assert_int_eq(mproc_result_get(r, -1, &d, &len), 0);
            ck_assert_uint_eq(len, MIB);
            ck_assert_int_eq(memcmp(d, arg, MIB), 0);
            mproc_result_free(r);
        }
        /* Copies through the workers' extents, and echoes, whose results
           are their arguments' extents. */
        ASSERT_OK(mproc_pool_apply_async(p, i % 2 ? echo : copy, arg, MIB, &win[i % IN_FLIGHT]));
    }
    for (int i = n - IN_FLIGHT; i < n - 1; i++) {
        ck_assert_int_eq(mproc_result_get(win[i % IN_FLIGHT], -1, NULL, NULL), 0);
        mproc_result_free(win[i % IN_FLIGHT]);
    }
    /* The last result, held and read: the owner maps it, in huge pages. */
    const void *d;
    size_t len;
    mproc_result *last = win[(n - 1) % IN_FLIGHT];
    ck_assert_int_eq(mproc_result_get(last, -1, &d, &len), 0);
    ck_assert_int_eq(memcmp(d, arg, MIB), 0);
    long rss, pmd;
    arena_kb(0, &rss, &pmd);
    ck_assert_msg(pmd > 0, "MADV_COLLAPSE works here, yet the owner maps its result in 4 KiB pages");
    mproc_result_free(last);
    /* Every outcome is in, so each worker has dropped what its last task
       touched (before it posted the outcome). Without the drops each
       process maps the ~18 MiB of every extent that went round; with them,
       at most a task's argument and result (2 MiB each). */
    long bound = 2 * 2048;
    for (int w = 0; w < 2; w++) {
        arena_kb(workers[w], &rss, &pmd);
        ck_assert_msg(rss <= bound, "worker %d maps %ld kB of the arena after %d tasks", w, rss, n);
    }
    arena_kb(0, &rss, &pmd);
    ck_assert_msg(rss <= bound, "the owner maps %ld kB of the arena after %d tasks", rss, n);
    free(arg);
    mproc_pool_free(p);
}
END_TEST

/* 1 MiB tasks while workers crash mid-task, retire and time out: every
   task that succeeds returns exactly its own bytes. Dropping a mapping
   never loses a byte, and no path may read a range it dropped expecting
   something else. */
enum { ECHO, CRASH, SLEEP };

/* What task i does; only a SLEEP task has a time limit. */
static int kind_of(uint32_t i)
{
    return i % 7 == 3 ? CRASH : i % 11 == 5 ? SLEEP : ECHO;
}

static int echo_or_fail(const void *arg, size_t len, mproc_out *out)
{
    uint32_t i;
    memcpy(&i, arg, sizeof i);
    if (kind_of(i) == CRASH) {
        /* Half its result written, then killed. */
        mproc_out_write(out, arg, len / 2);
        abort();
    }
    if (kind_of(i) == SLEEP)
        for (;;)
            pause(); /* ended by its timeout */
    return i % 2 ? mproc_out_write(out, arg, len) : copy(arg, len, out);
}

START_TEST(large_tasks_through_crashes_retirement_timeouts)
{
    mproc_pool *p;
    mproc_pool_opts o = { .processes = 2, .maxtasksperchild = 5 };
    ASSERT_OK(mproc_pool_new(&p, &o));
    enum { N = 240 };
    size_t sizes[3] = { MIB, 2 * MIB + 100, 3 * MIB / 2 };
    unsigned char *args[IN_FLIGHT];
    mproc_result *win[IN_FLIGHT];
    uint32_t ids[IN_FLIGHT];
    for (int k = 0; k < IN_FLIGHT; k++) {
        args[k] = malloc(3 * MIB);
        ck_assert_ptr_nonnull(args[k]);
    }
    int ok = 0, crashed = 0, timed_out = 0;
    for (uint32_t i = 0; i < N + IN_FLIGHT; i++) {
        int k = (int)(i % IN_FLIGHT);
        if (i >= IN_FLIGHT) {
            uint32_t id = ids[k];
            size_t size = sizes[id % 3];
            const void *d;
            size_t len;
            int rc = mproc_result_get(win[k], -1, &d, &len);
            if (kind_of(id) == CRASH) {
                ck_assert_int_eq(rc, MPROC_EWORKER);
                crashed++;
            } else if (kind_of(id) == SLEEP) {
                ck_assert_int_eq(rc, MPROC_ETASKTIMEOUT);
                timed_out++;
            } else {
                ck_assert_int_eq(rc, 0);
                ck_assert_uint_eq(len, size);
                ck_assert_msg(memcmp(d, args[k], size) == 0, "task %u came back wrong", id);
                ck_assert_int_eq(((const char *)d)[len], 0);
                ok++;
            }
            mproc_result_free(win[k]);
        }
        if (i >= N)
            continue;
        size_t size = sizes[i % 3];
        fill_arg(args[k], size, i);
        ids[k] = i;
        mproc_submit_opts so = { .timeout = kind_of(i) == SLEEP ? 0.05 : 0 };
        ASSERT_OK(mproc_pool_submit(p, echo_or_fail, args[k], size, &so, &win[k]));
    }
    ck_assert_int_eq(ok + crashed + timed_out, N);
    ck_assert_int_gt(crashed, 0);
    ck_assert_int_gt(timed_out, 0);
    for (int k = 0; k < IN_FLIGHT; k++)
        free(args[k]);
    mproc_pool_free(p);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "memory", 120);
    tcase_add_test(tc, worker_rss_bounded_with_huge_pages);
    tcase_add_test(tc, large_tasks_through_crashes_retirement_timeouts);
}
