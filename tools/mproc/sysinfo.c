/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* sysinfo.c: what mproc run reads about the machine, as GNU parallel reads
 * it: the CPU topology (--number-of-*, --use-cores-instead-of-threads), the
 * load (threads running or waiting for a disk right now, for --load) and
 * the free memory (for --memfree). */
#include "run.h"

#include "mproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (n += (size_t)k) + 1 >= cap)
            break;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Count the distinct strings among n. */
static long distinct(char **v, long n)
{
    long d = 0;
    for (long i = 0; i < n; i++) {
        bool seen = false;
        for (long k = 0; k < i && !seen; k++)
            seen = !strcmp(v[i], v[k]);
        d += !seen;
    }
    return d;
}

void cpu_topology(long *threads, long *cores, long *sockets)
{
    /* sysfs: a socket per physical_package_id, a core per distinct set of
       thread siblings, a thread per cpuN. */
    char path[128], buf[512];
    long n = 0, cap = 0;
    char **pkg = NULL, **sib = NULL;
    for (;; n++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", n);
        if (slurp(path, buf, sizeof buf) < 0)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            pkg = xrealloc(pkg, (size_t)cap * sizeof *pkg);
            sib = xrealloc(sib, (size_t)cap * sizeof *sib);
        }
        pkg[n] = xstrdup(buf);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/thread_siblings", n);
        sib[n] = xstrdup(slurp(path, buf, sizeof buf) < 0 ? "" : buf);
    }
    if (n == 0) {
        *threads = *cores = mproc_cpu_count();
        *sockets = 1;
    } else {
        *threads = n;
        *sockets = distinct(pkg, n);
        *cores = distinct(sib, n);
    }
    for (long i = 0; i < n; i++) {
        free(pkg[i]);
        free(sib[i]);
    }
    free(pkg);
    free(sib);
}

long run_cpus(const run_opts *o)
{
    if (!o->use_cores && !o->use_sockets)
        return mproc_cpu_count();
    long t, c, s;
    cpu_topology(&t, &c, &s);
    return o->use_sockets ? s : c;
}

long load_now(void)
{
    /* GNU parallel counts the threads `ps axH` shows in state R or D. */
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    char path[600], buf[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/task", e->d_name);
        DIR *t = opendir(path);
        if (!t)
            continue;
        struct dirent *te;
        while ((te = readdir(t))) {
            if (te->d_name[0] < '0' || te->d_name[0] > '9')
                continue;
            snprintf(path, sizeof path, "/proc/%s/task/%s/stat", e->d_name, te->d_name);
            if (slurp(path, buf, sizeof buf) <= 0)
                continue;
            const char *rp = strrchr(buf, ')');
            if (rp && rp[1] == ' ' && (rp[2] == 'R' || rp[2] == 'D'))
                n++;
        }
        closedir(t);
    }
    closedir(d);
    return n;
}

double mem_free(void)
{
    /* MemFree + Buffers + Cached + SwapCached, as GNU parallel sums them. */
    char buf[8192];
    if (slurp("/proc/meminfo", buf, sizeof buf) <= 0)
        return -1;
    static const char *const keys[] = { "MemFree:", "Buffers:", "Cached:", "SwapCached:" };
    double kb = 0;
    for (size_t k = 0; k < 4; k++) {
        for (const char *p = buf; (p = strstr(p, keys[k])); p++) {
            if (p != buf && p[-1] != '\n')
                continue;
            kb += strtod(p + strlen(keys[k]), NULL);
            break;
        }
    }
    return kb * 1024;
}
