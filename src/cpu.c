/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* cpu.c: how many CPUs this process may use (affinity mask, cgroup quota). */
#include "internal.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int affinity_count(void)
{
    /* Start with a set that covers the configured CPUs and grow on EINVAL,
       as machines with more than CPU_SETSIZE CPUs need. */
    for (int n = 1024; n <= 1 << 20; n *= 2) {
        cpu_set_t *set = CPU_ALLOC((size_t)n);
        if (!set)
            break;
        size_t size = CPU_ALLOC_SIZE((size_t)n);
        if (sched_getaffinity(0, size, set) == 0) {
            int c = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return c;
        }
        CPU_FREE(set);
        if (errno != EINVAL)
            break;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
}

/* The quota (in CPUs) of one cgroup directory, or INFINITY where none. */
static double v2_quota(const char *dir)
{
    char path[4200], buf[128];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (mproc__read_file(path, buf, sizeof buf) < 0)
        return INFINITY;
    if (strncmp(buf, "max", 3) == 0)
        return INFINITY;
    char *end;
    double quota = strtod(buf, &end);
    double period = strtod(end, NULL);
    return quota > 0 && period > 0 ? quota / period : INFINITY;
}

static double v1_quota(const char *dir)
{
    char path[4200], buf[64];
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if (mproc__read_file(path, buf, sizeof buf) < 0)
        return INFINITY;
    double quota = strtod(buf, NULL);
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    if (mproc__read_file(path, buf, sizeof buf) < 0)
        return INFINITY;
    double period = strtod(buf, NULL);
    return quota > 0 && period > 0 ? quota / period : INFINITY;
}

/* The tightest quota on the way from this process's cgroup up to the root:
   a parent's limit binds its children too. */
double mproc__cgroup_quota(const char *self_cgroup, const char *root)
{
    char buf[4096];
    if (mproc__read_file(self_cgroup, buf, sizeof buf) < 0)
        return INFINITY;
    double best = INFINITY;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* "0::/path" for v2; "N:cpu,cpuacct:/path" for v1. */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrl = c1 + 1, *rel = c2 + 1;
        bool v2 = *ctrl == '\0';
        bool v1cpu = false;
        for (const char *p = ctrl; !v2 && p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            if (strncmp(p, "cpu", 3) == 0 && (p[3] == ',' || p[3] == '\0'))
                v1cpu = true;
        if (!v2 && !v1cpu)
            continue;
        char dir[4096];
        size_t base = (size_t)snprintf(dir, sizeof dir, "%s%s", root, v2 ? "" : "/cpu");
        snprintf(dir + base, sizeof dir - base, "%s", rel);
        for (;;) {
            double q = v2 ? v2_quota(dir) : v1_quota(dir);
            if (q < best)
                best = q;
            char *slash = strrchr(dir, '/');
            if (!slash || (size_t)(slash - dir) < base)
                break;
            *slash = '\0';
        }
    }
    return best;
}

int mproc_cpu_count(void)
{
    int n = affinity_count();
    double q = mproc__cgroup_quota("/proc/self/cgroup", "/sys/fs/cgroup");
    if (!isinf(q)) {
        double up = ceil(q);
        if (up < n)
            n = (int)up;
    }
    return n < 1 ? 1 : n;
}
