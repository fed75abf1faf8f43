/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* procinfo.c: what /proc says of a process: state, parent, name, children. */
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/PID/stat: "pid (comm) state ppid ...". comm may hold spaces and
   parentheses, so it ends at the *last* ')'. */
static int parse_stat(const char *buf, mproc_procinfo *info, unsigned long long *start_ticks,
                      long *rss_pages)
{
    const char *open = strchr(buf, '(');
    const char *close = strrchr(buf, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return -EIO;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof info->name)
        n = sizeof info->name - 1;
    memcpy(info->name, open + 1, n);
    info->name[n] = '\0';
    info->pid = (pid_t)atoi(buf);

    /* Fields after comm, numbered as proc(5) numbers them from 3 (state). */
    const char *p = close + 2;
    int field = 3;
    long long v;
    info->state = *p;
    while (*p && field < 24) {
        p = strchr(p, ' ');
        if (!p)
            return -EIO;
        p++;
        field++;
        switch (field) {
        case 4:
            info->ppid = (pid_t)atoi(p);
            break;
        case 5:
            info->pgrp = (pid_t)atoi(p);
            break;
        case 20:
            info->threads = atoi(p);
            break;
        case 22:
            *start_ticks = strtoull(p, NULL, 10);
            break;
        case 24:
            v = strtoll(p, NULL, 10);
            *rss_pages = (long)v;
            break;
        }
    }
    return field == 24 ? 0 : -EIO;
}

static double boot_time(void)
{
    char buf[8192];
    if (mproc__read_file("/proc/stat", buf, sizeof buf) < 0)
        return 0;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : 0;
}

int mproc_procinfo_get(pid_t pid, mproc_procinfo *info)
{
    if (pid < 0 || !info)
        return -EINVAL;
    if (pid == 0)
        pid = getpid();
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    ssize_t n = mproc__read_file(path, buf, sizeof buf);
    if (n < 0)
        return n == -ENOENT ? -ESRCH : (int)n;
    mproc_procinfo tmp = {0};
    unsigned long long ticks = 0;
    long pages = 0;
    int err = parse_stat(buf, &tmp, &ticks, &pages);
    if (err < 0)
        return err;
    long hz = sysconf(_SC_CLK_TCK);
    tmp.start_time = boot_time() + (double)ticks / (double)(hz > 0 ? hz : 100);
    tmp.rss = pages > 0 ? (size_t)pages * (size_t)sysconf(_SC_PAGESIZE) : 0;
    *info = tmp;
    return 0;
}

typedef struct {
    pid_t *v;
    size_t n, cap;
} pidvec;

static int push(pidvec *pv, pid_t pid)
{
    int err = mproc__grow(&pv->v, &pv->cap, pv->n + 1, sizeof *pv->v, 64);
    if (err < 0)
        return err;
    pv->v[pv->n++] = pid;
    return 0;
}

/* /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN) lists each thread's
   children; its absence means scanning every /proc/PID/stat for the ppid. */
static int children_from_tasks(pid_t pid, pidvec *pv)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? -ESRCH : mproc__err();
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char cpath[300];
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, e->d_name);
        /* Read as a stream: the list has no length limit. */
        FILE *f = fopen(cpath, "re");
        if (!f) {
            /* The thread may have just exited; without the file in the
               leader, the kernel lacks the feature. */
            if (errno == ENOENT && atoi(e->d_name) == pid) {
                err = -ENOTSUP;
                break;
            }
            continue;
        }
        int c;
        while (err == 0 && fscanf(f, "%d", &c) == 1)
            err = push(pv, (pid_t)c);
        fclose(f);
        if (err < 0)
            break;
    }
    closedir(d);
    return err;
}

static int children_from_scan(pid_t pid, pidvec *pv)
{
    DIR *d = opendir("/proc");
    if (!d)
        return mproc__err();
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        mproc_procinfo info;
        if (mproc_procinfo_get((pid_t)atoi(e->d_name), &info) == 0 && info.ppid == pid)
            if ((err = push(pv, info.pid)) < 0)
                break;
    }
    closedir(d);
    return err;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int mproc_procinfo_children(pid_t pid, pid_t *out, size_t cap)
{
    if (pid < 0 || (!out && cap))
        return -EINVAL;
    if (pid == 0)
        pid = getpid();
    pidvec pv = {0};
    int err = children_from_tasks(pid, &pv);
    if (err == -ENOTSUP) {
        pv.n = 0;
        err = children_from_scan(pid, &pv);
    }
    if (err == 0) {
        if (pv.n > 1)
            qsort(pv.v, pv.n, sizeof *pv.v, cmp_pid);
        for (size_t i = 0; i < pv.n && i < cap; i++)
            out[i] = pv.v[i];
        err = (int)pv.n;
    }
    free(pv.v);
    return err;
}
