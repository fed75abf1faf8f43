/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* harness.c: the Check runner and the leak checks run around every case.
 *
 * Check's environment applies (CK_RUN_CASE, CK_RUN_SUITE, CK_VERBOSITY,
 * CK_TIMEOUT_MULTIPLIER, CK_FORK): ctest runs each case group as its own
 * entry, <module>.<case>, with CK_RUN_CASE set to the group, and passes in
 * MPROC_TEST_CASES the groups it found in the source, so that a group it did
 * not see, or a CK_RUN_CASE that names none, fails instead of passing with
 * nothing run. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef MPROC_HELPER
#define MPROC_HELPER "helper"
#endif

const char *mproc_test_helper(void)
{
    return MPROC_HELPER;
}

/* ---- snapshots ------------------------------------------------------------ */

#define MAX_ENTRIES 256

typedef struct {
    int nfds;
    int fds[MAX_ENTRIES];
    int nshm;
    char shm[MAX_ENTRIES][64];
    sigset_t mask;
    struct sigaction chld, pipe_;
} snapshot;

static snapshot before;

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void take(snapshot *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && s->nfds < MAX_ENTRIES) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd != self)
            s->fds[s->nfds++] = fd;
    }
    closedir(d);
    qsort(s->fds, (size_t)s->nfds, sizeof(int), cmp_int);
    d = opendir("/dev/shm");
    if (d) {
        while ((e = readdir(d)) && s->nshm < MAX_ENTRIES) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(s->shm[s->nshm++], 64, "%.63s", e->d_name);
        }
        closedir(d);
    }
    pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
    sigaction(SIGCHLD, NULL, &s->chld);
    sigaction(SIGPIPE, NULL, &s->pipe_);
}

int mproc_test_children(void)
{
    return mproc_procinfo_children(0, NULL, 0);
}

static void fd_desc(int fd, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(path, buf, n - 1);
    buf[k < 0 ? 0 : k] = '\0';
}

/* The library names no shared memory itself; the tests name theirs
   "mproc-test-...", ending in the test process's PID where several processes
   could run the same case. Other entries (another test program's, running
   beside this one under ctest -j, or the system's) are not this case's. */
static bool own_shm_name(const char *name)
{
    if (strncmp(name, "mproc-test-", 11) != 0)
        return false;
    const char *dash = strrchr(name, '-');
    char *end;
    long pid = strtol(dash + 1, &end, 10);
    return *end != '\0' || end == dash + 1 || pid == (long)getpid();
}

static void setup(void)
{
    /* Check's runner handles SIGTERM and SIGINT by killing the whole process
       group; children of a case must meet those signals as a program's
       children do: with the default action. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    take(&before);
}

static void teardown(void)
{
    int kids = mproc_test_children();
    if (kids > 0) {
        pid_t pids[16];
        int n = mproc_procinfo_children(0, pids, 16);
        mproc_procinfo info = {0};
        mproc_procinfo_get(pids[0], &info);
        ck_abort_msg("leak check: expected no child left, got %d (first: pid %d %c %s)", n,
                     (int)pids[0], info.state, info.name);
    }
    snapshot after;
    take(&after);
    for (int i = 0; i < after.nfds; i++) {
        bool known = false;
        for (int j = 0; j < before.nfds; j++)
            known |= after.fds[i] == before.fds[j];
        if (!known) {
            char what[256];
            fd_desc(after.fds[i], what, sizeof what);
            ck_abort_msg("leak check: expected %d open descriptors, got %d (new: fd %d -> %s)",
                         before.nfds, after.nfds, after.fds[i], what);
        }
    }
    ck_assert_msg(after.nfds == before.nfds, "leak check: expected %d open descriptors, got %d",
                  before.nfds, after.nfds);
    for (int i = 0; i < after.nshm; i++) {
        if (!own_shm_name(after.shm[i]))
            continue;
        bool known = false;
        for (int j = 0; j < before.nshm; j++)
            known |= strcmp(after.shm[i], before.shm[j]) == 0;
        ck_assert_msg(known, "leak check: expected no new shared memory, got /dev/shm/%s",
                      after.shm[i]);
    }
    ck_assert_msg(memcmp(&after.mask, &before.mask, sizeof after.mask) == 0,
                  "leak check: signal mask changed");
    ck_assert_msg(after.chld.sa_handler == before.chld.sa_handler,
                  "leak check: SIGCHLD disposition changed");
    ck_assert_msg(after.pipe_.sa_handler == before.pipe_.sa_handler,
                  "leak check: SIGPIPE disposition changed");
}

#define MAX_CASES 64
static const char *case_names[MAX_CASES];
static int ncases;

TCase *mproc_tcase(Suite *s, const char *name, double timeout)
{
    if (ncases == MAX_CASES) {
        fprintf(stderr, "harness: more than %d case groups\n", MAX_CASES);
        exit(2);
    }
    case_names[ncases++] = name;
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

/* ---- small tools ------------------------------------------------------------ */

bool mproc_test_alive(pid_t pid)
{
    mproc_procinfo info;
    if (mproc_procinfo_get(pid, &info) < 0)
        return false;
    return info.state != 'Z' && info.state != 'X';
}

void mproc_test_nap(void)
{
    struct timespec ts = { 0, 2 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

bool mproc_test_wait_gone(pid_t pid, double seconds)
{
    for (double t = 0; t < seconds; t += 0.002) {
        if (!mproc_test_alive(pid))
            return true;
        mproc_test_nap();
    }
    return !mproc_test_alive(pid);
}

bool mproc_test_wait_state(pid_t pid, char state)
{
    for (int i = 0; i < 5000; i++) {
        mproc_procinfo info;
        if (mproc_procinfo_get(pid, &info) == 0 && info.state == state)
            return true;
        mproc_test_nap();
    }
    return false;
}

void mproc_test_gate_open(mproc_test_gate *g)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    g->rd = fds[0];
    g->wr = fds[1];
}

void mproc_test_gate_signal(mproc_test_gate *g)
{
    char c = 1;
    while (write(g->wr, &c, 1) < 0 && errno == EINTR)
        ;
}

bool mproc_test_gate_wait(mproc_test_gate *g, double seconds)
{
    struct pollfd p = { .fd = g->rd, .events = POLLIN };
    int n;
    while ((n = poll(&p, 1, (int)(seconds * 1000))) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return false;
    char c;
    return read(g->rd, &c, 1) == 1;
}

void mproc_test_gate_close(mproc_test_gate *g)
{
    if (g->rd >= 0)
        close(g->rd);
    if (g->wr >= 0)
        close(g->wr);
    g->rd = g->wr = -1;
}

void mproc_test_drop_root(void)
{
    if (geteuid() != 0)
        return;
    ck_assert_int_eq(setgid(65534), 0);
    ck_assert_int_eq(setuid(65534), 0);
    /* A uid change clears the dumpable flag, which hides /proc/self from
       LeakSanitizer's exit check. */
    prctl(PR_SET_DUMPABLE, 1);
}

static bool known_case(const char *name)
{
    for (int i = 0; i < ncases; i++)
        if (!strcmp(case_names[i], name))
            return true;
    return false;
}

/* True when name is one of the '|'-separated names in list. */
static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (bar != NULL);
    }
    return false;
}

static bool cases_agree(void)
{
    const char *only = getenv("CK_RUN_CASE");
    if (only && *only && !known_case(only)) {
        fprintf(stderr, "harness: CK_RUN_CASE=%s names no case group; groups:", only);
        for (int i = 0; i < ncases; i++)
            fprintf(stderr, " '%s'", case_names[i]);
        fputc('\n', stderr);
        return false;
    }
    const char *seen = getenv("MPROC_TEST_CASES");
    for (int i = 0; seen && i < ncases; i++)
        if (!listed(seen, case_names[i])) {
            fprintf(stderr,
                    "harness: case group '%s' has no ctest entry: name it with a string "
                    "literal, mproc_tcase(s, \"name\", ...), and re-run cmake\n",
                    case_names[i]);
            return false;
        }
    return true;
}

int main(void)
{
    Suite *s = suite_create("mproc");
    mproc_test_cases(s);
    if (!cases_agree())
        return 2;
    SRunner *sr = srunner_create(s);
    /* Forked cases unless CK_FORK=no (for a debugger): Check's default. */
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
