/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_machine.c: errors and the CPU count. */
#include "harness.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>
#include <sched.h>
#include <string.h>

START_TEST(strerror_every_code)
{
    ck_assert_str_eq(mproc_strerror(0), "success");
    ck_assert_str_eq(mproc_strerror(-EINVAL), "Invalid argument");
    ck_assert_str_eq(mproc_strerror(MPROC_EWORKER), "the worker died while running the task");
    ck_assert_ptr_nonnull(strstr(mproc_strerror(MPROC_ETASK), "task"));
    ck_assert_ptr_nonnull(strstr(mproc_strerror(MPROC_ETASKTIMEOUT), "timeout"));
    ck_assert_ptr_nonnull(strstr(mproc_strerror(MPROC_EINIT), "initializer"));
    ck_assert_str_eq(mproc_strerror(12345), "unknown error");
    ck_assert_str_eq(mproc_strerror(-99999), "unknown error");
}
END_TEST

START_TEST(cpu_count_follows_affinity)
{
    int all = mproc_cpu_count();
    ck_assert_int_ge(all, 1);
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    ck_assert_int_le(all, CPU_COUNT(&set));
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &set))
            first = i;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    ck_assert_int_eq(mproc_cpu_count(), 1);
    ck_assert_int_eq(sched_setaffinity(0, sizeof set, &set), 0);
    ck_assert_int_eq(mproc_cpu_count(), all);
}
END_TEST

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static double quota(void)
{
    char self[128];
    snprintf(self, sizeof self, "%s/self.cgroup", root);
    return mproc__cgroup_quota(self, root);
}

/* A made-up cgroup tree: the tightest quota on the way up counts, "max" and
   -1 mean none. */
START_TEST(cgroup_quota_v2_and_v1)
{
    snprintf(root, sizeof root, "/tmp/mproc-cg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    put("self.cgroup", "0::/a/b\n");
    ck_assert(isinf(quota()));
    put("a/b/cpu.max", "max 100000\n");
    ck_assert(isinf(quota()));
    put("a/cpu.max", "150000 100000\n");
    ck_assert_double_eq_tol(quota(), 1.5, 1e-9);
    put("a/b/cpu.max", "50000 100000\n");
    ck_assert_double_eq_tol(quota(), 0.5, 1e-9);

    put("self.cgroup", "5:memory:/m\n4:cpu,cpuacct:/x\n");
    ck_assert(isinf(quota()));
    put("cpu/x/cpu.cfs_quota_us", "-1\n");
    put("cpu/x/cpu.cfs_period_us", "100000\n");
    ck_assert(isinf(quota()));
    put("cpu/x/cpu.cfs_quota_us", "250000\n");
    ck_assert_double_eq_tol(quota(), 2.5, 1e-9);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "machine", 10);
    tcase_add_test(tc, strerror_every_code);
    tcase_add_test(tc, cpu_count_follows_affinity);
    tcase_add_test(tc, cgroup_quota_v2_and_v1);
}
