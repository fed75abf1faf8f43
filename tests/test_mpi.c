/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_mpi.c: the pool over MPI ranks (libmproc-mpi), each case one mpirun
 * of tests/mpi_pool.c: the pool functions over 2, 3 and 4 ranks, a world
 * of one and no launcher at all, crashes, timeouts, maxtasksperchild, a
 * failing initializer on one rank, binary mismatch, payloads up to 64 MiB
 * (also in pieces below the split threshold), functions in a shared
 * library, and a rank or the owner SIGKILLed. Every case runs under Open
 * MPI's mpirun and again under MPICH's mpiexec, with the MPICH build of
 * the program, where that is made. The test process is a subreaper, so
 * any process an MPI job leaves behind becomes its child and fails the
 * harness's leak check. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The launchers every case runs under (a loop test's _i picks one). */
typedef struct launcher {
    const char *exe;
    const char *prog, *variant; /* tests/mpi_pool.c built against its MPI */
    bool ompi;                  /* Open MPI's mpirun (else MPICH's mpiexec) */
} launcher;

static const launcher launchers[] = {
    { MPROC_MPIRUN, MPROC_MPI_PROG_DIR "/mpi_pool", MPROC_MPI_PROG_DIR "/mpi_pool_variant", true },
#ifdef MPROC_MPIEXEC_MPICH
    { MPROC_MPIEXEC_MPICH, MPROC_MPI_PROG_DIR "/mpi_pool_mpich",
      MPROC_MPI_PROG_DIR "/mpi_pool_mpich_variant", false },
#endif
};
#define NLAUNCHERS ((int)(sizeof launchers / sizeof *launchers))

/* Launcher i, or NULL where it is not there: its case passes untested.
   Not MPICH under ThreadSanitizer: MPICH's UCX hooks madvise, which a
   thread of its own calls as it ends, and crash TSan's runtime there. */
static const launcher *launcher_at(int i)
{
    if (i >= NLAUNCHERS || access(launchers[i].exe, X_OK) != 0)
        return NULL;
#ifdef __SANITIZE_THREAD__
    if (!launchers[i].ompi)
        return NULL;
#endif
    return &launchers[i];
}

/* argv[k...]: the launcher and its options for np ranks (np 0: no -np);
   returns the next k. */
static int launch_argv(const launcher *l, char **argv, int k, const char *np)
{
    argv[k++] = (char *)l->exe;
    if (l->ompi) {
        argv[k++] = "--oversubscribe";
        argv[k++] = "--bind-to";
        argv[k++] = "none";
    }
    argv[k++] = "-np";
    argv[k++] = (char *)np;
    return k;
}

typedef struct job {
    pid_t pid;
    int out; /* its stdout and stderr */
} job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The case's own directory for Open MPI's shared memory segments
   (shm_begin), or empty. */
static char shm_dir[64];

/* Starts argv (NULL-terminated) with env (NAME=VALUE entries, NULL-ended)
   added; with mpirun's root permission in its environment. */
static job start(char *const argv[], const char *const env[])
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0); /* one group: a job that hangs is killed whole */
        dup2(p[1], 1);
        dup2(p[1], 2);
        /* Under the sanitizers: what Open MPI does is not ours. */
        setenv("LSAN_OPTIONS",
               "fast_unwind_on_malloc=0:suppressions=" MPROC_SOURCE_DIR "/tests/mpi_lsan.supp", 1);
        setenv("TSAN_OPTIONS", "suppressions=" MPROC_SOURCE_DIR "/tests/mpi_tsan.supp", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        if (shm_dir[0])
            setenv("OMPI_MCA_btl_vader_backing_directory", shm_dir, 1);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    return (job){ .pid = pid, .out = p[0] };
}

/* Whether pid descends from (or is) root. */
static bool descends(pid_t pid, pid_t root)
{
    for (int depth = 0; pid > 1 && depth < 32; depth++) {
        if (pid == root)
            return true;
        mproc_procinfo info = { 0 };
        if (mproc_procinfo_get(pid, &info) < 0)
            return false;
        pid = info.ppid;
    }
    return false;
}

/* The launcher (root) and every process under it: the ranks have process
   groups of their own. Their PIDs, names and states for a message; each
   is killed when kill is set. */
static void describe_job(pid_t root, char *out, size_t size, bool kill_them)
{
    size_t n = 0;
    out[0] = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        mproc_procinfo info = { 0 };
        if (pid <= 0 || !descends(pid, root) || mproc_procinfo_get(pid, &info) < 0)
            continue;
        if (n + 64 < size)
            n += (size_t)snprintf(out + n, size - n, " %d %c %s;", (int)pid, info.state, info.name);
        if (kill_them)
            kill(pid, SIGKILL);
    }
    if (d)
        closedir(d);
}

/* Reads the job's output until it ends; returns its exit status (-signal
   when killed). A job still running after a generous limit is killed with
   its whole process group and fails the case, naming what was left. */
static int finish_ex(job j, char *buf, size_t size, const char *last_word)
{
    size_t n = 0;
    double end = now() + 100;
    bool said = false;
    for (;;) {
        struct pollfd p = { .fd = j.out, .events = POLLIN };
        int left = (int)((end - now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) == 0) {
            char what[1024], self[64], again[1024];
            describe_job(j.pid, what, sizeof what, false);
            snprintf(self, sizeof self, " %d S mpirun;", (int)j.pid);
            /* The ranks first (groups of their own), while they are still
               the launcher's. */
            describe_job(j.pid, again, sizeof again, true);
            kill(-j.pid, SIGKILL);
            while (waitpid(j.pid, NULL, 0) < 0 && errno == EINTR)
                ;
            close(j.out);
            buf[n] = 0;
            /* Open MPI 4.1's mpirun --enable-recovery, after a rank was
               killed, sometimes stays when every rank has gone: not ours. */
            if (said && strcmp(what, self) == 0)
                return -SIGKILL;
            n = strlen(buf);
            ck_abort_msg("expected the MPI job to end, still running after 100 s:%s; its output:\n%s",
                         what, buf + (n > 1500 ? n - 1500 : 0));
        }
        ssize_t k = read(j.out, buf + n, size - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == size - 1)
            n = 0; /* keep the tail only */
        buf[n] = 0;
        if (last_word && !said && strstr(buf, last_word)) {
            said = true;
            end = now() + 15; /* rank 0 is done: the rest leave soon */
        }
    }
    buf[n] = 0;
    close(j.out);
    int st;
    while (waitpid(j.pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static int finish(job j, char *buf, size_t size)
{
    return finish_ex(j, buf, size, NULL);
}

/* Reaps whatever the job left (reparented to us, the subreaper) until none
   is left; false if some process is still alive after seconds. */
static bool reap_leftovers(double seconds)
{
    double end = now() + seconds;
    for (;;) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            return true;
        if (r == 0) {
            if (now() > end)
                return false;
            usleep(2000);
        }
    }
}

/* What an MPI job may leave in /dev/shm, counted only where no other
   process can add to it or take from it (other MPI jobs run beside this
   one: other builds' tests): Open MPI puts its segments in a directory of
   the case's own, made here (its name ends in our PID: the harness checks
   that it goes too); MPICH names nothing there while it runs, so a name of
   its that appears during the case is the job's. */
#define SHM_MAX 256
static char shm_known[SHM_MAX][64];
static int shm_nknown;

static bool mpich_name(const char *name)
{
    return strncmp(name, "mpich", 5) == 0;
}

static void shm_begin(void)
{
    /* The directory of a case that failed before it could remove its own
       (its process is gone), when nothing is left in it. */
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid;
        char stale[300];
        if (sscanf(e->d_name, "mproc-test-mpi-%d", &pid) == 1 && pid > 0 && kill(pid, 0) < 0 &&
            errno == ESRCH) {
            snprintf(stale, sizeof stale, "/dev/shm/%s", e->d_name);
            rmdir(stale);
        }
    }
    if (d)
        closedir(d);
    snprintf(shm_dir, sizeof shm_dir, "/dev/shm/mproc-test-mpi-%d", (int)getpid());
    if (mkdir(shm_dir, 0700) < 0 && errno != EEXIST)
        shm_dir[0] = 0; /* no /dev/shm: Open MPI's default place then */
    shm_nknown = 0;
    d = opendir("/dev/shm");
    while (d && (e = readdir(d)) && shm_nknown < SHM_MAX)
        if (mpich_name(e->d_name))
            snprintf(shm_known[shm_nknown++], 64, "%.63s", e->d_name);
    if (d)
        closedir(d);
}

/* The first name the job left, or "" (name has size 512). */
static void shm_left(char *name)
{
    name[0] = 0;
    DIR *d = shm_dir[0] ? opendir(shm_dir) : NULL;
    struct dirent *e;
    while (d && !name[0] && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            snprintf(name, 512, "%s/%s", shm_dir, e->d_name);
    if (d)
        closedir(d);
    d = opendir("/dev/shm");
    while (d && !name[0] && (e = readdir(d))) {
        bool known = !mpich_name(e->d_name);
        for (int i = 0; i < shm_nknown && !known; i++)
            known = strcmp(e->d_name, shm_known[i]) == 0;
        if (!known)
            snprintf(name, 512, "/dev/shm/%s", e->d_name);
    }
    if (d)
        closedir(d);
}

static void shm_end(void)
{
    char left[512];
    shm_left(left);
    if (shm_dir[0])
        rmdir(shm_dir);
    ck_assert_msg(!left[0], "expected no shared memory left by the MPI job, found %s", left);
}

static char outbuf[1 << 16];

/* The launcher -np N PROG CASE, with vars in its environment (and passed
   on by Open MPI's -x): expects exit 0 and "PASS CASE". */
static void mpi_case(const launcher *l, int np, const char *c, const char *const vars[])
{
    char nps[16];
    snprintf(nps, sizeof nps, "%d", np);
    char *argv[32];
    int k = launch_argv(l, argv, 0, nps);
    for (int i = 0; l->ompi && vars && vars[i]; i++) {
        argv[k++] = "-x";
        argv[k++] = (char *)vars[i];
    }
    argv[k++] = (char *)l->prog;
    argv[k++] = (char *)c;
    argv[k] = NULL;
    shm_begin();
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int rc = finish(start(argv, vars), outbuf, sizeof outbuf);
    char want[64];
    snprintf(want, sizeof want, "PASS %s", c);
    size_t len = strlen(outbuf);
    ck_assert_msg(rc == 0 && strstr(outbuf, want),
                  "%s -np %d %s: expected exit 0 and '%s', got %d:\n%s", l->exe, np, c, want, rc,
                  outbuf + (len > 2000 ? len - 2000 : 0)); /* Check's messages are short */
    ck_assert_msg(reap_leftovers(10), "expected no process left after the job");
    shm_end();
}

/* The case's launcher (a loop test's _i); a case whose launcher is not
   there passes untested. */
#define LAUNCHER(l)                                                                                \
    const launcher *l = launcher_at(_i);                                                          \
    if (!l)                                                                                        \
        return

START_TEST(pool_functions_np2)
{
    LAUNCHER(l);
    mpi_case(l, 2, "basic", NULL);
}
END_TEST
START_TEST(pool_functions_np3)
{
    LAUNCHER(l);
    mpi_case(l, 3, "basic", NULL);
}
END_TEST
START_TEST(pool_functions_np4)
{
    LAUNCHER(l);
    mpi_case(l, 4, "basic", NULL);
}
END_TEST
START_TEST(pool_functions_no_owner_workers)
{
    LAUNCHER(l);
    const char *const v[] = { "MPROC_TEST_OWNER=-1", NULL };
    mpi_case(l, 3, "basic", v);
}
END_TEST
START_TEST(world_of_one)
{
    LAUNCHER(l);
    mpi_case(l, 1, "local", NULL);
}
END_TEST

START_TEST(no_launcher)
{
    LAUNCHER(l);
    /* Run directly, without any launcher's variables: a local pool. */
    char *argv[] = { (char *)l->prog, "local", NULL };
    const char *const env[] = { NULL };
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_RANK");
    unsetenv("PMIX_RANK");
    int rc = finish(start(argv, env), outbuf, sizeof outbuf);
    ck_assert_msg(rc == 0 && strstr(outbuf, "PASS local"), "got %d: %s", rc, outbuf);
}
END_TEST

START_TEST(many_tasks_in_flight)
{
    LAUNCHER(l);
    const char *const v[] = { "MPROC_TEST_OWNER=-1", NULL };
    mpi_case(l, 3, "many", v);
}
END_TEST
START_TEST(waiting_tasks_dropped)
{
    LAUNCHER(l);
    char dir[] = "/tmp/mproc-test-drop-XXXXXX", var[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(var, sizeof var, "MPROC_TEST_DIR=%s", dir);
    const char *const v[] = { "MPROC_TEST_OWNER=-1", var, NULL };
    mpi_case(l, 3, "drop", v);
    ck_assert_ptr_nonnull(strstr(outbuf, "drop: 4 ran, 12 dropped"));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST
START_TEST(several_owner_threads)
{
    LAUNCHER(l);
    mpi_case(l, 3, "threads", NULL);
}
END_TEST

START_TEST(terminate_ends_every_rank)
{
    LAUNCHER(l);
    mpi_case(l, 3, "terminate", NULL);
}
END_TEST

START_TEST(workers_return)
{
    LAUNCHER(l);
    mpi_case(l, 3, "return", NULL);
}
END_TEST

START_TEST(crashes_fail_alone)
{
    LAUNCHER(l);
    mpi_case(l, 3, "crash", NULL);
    ck_assert_ptr_nonnull(strstr(outbuf, "9900 ok, 100 failed alone, 0 wrong"));
}
END_TEST
START_TEST(crashes_fail_alone_on_hubs)
{
    LAUNCHER(l);
    const char *const v[] = { "MPROC_TEST_OWNER=-1", NULL };
    mpi_case(l, 4, "crash", v);
}
END_TEST
START_TEST(task_timeout)
{
    LAUNCHER(l);
    mpi_case(l, 3, "timeout", NULL);
}
END_TEST
START_TEST(maxtasksperchild)
{
    LAUNCHER(l);
    mpi_case(l, 3, "maxtasks", NULL);
}
END_TEST
START_TEST(initializer_fails_on_one_rank)
{
    LAUNCHER(l);
    for (int r = 0; r < 3; r++) {
        char var[64];
        snprintf(var, sizeof var, "MPROC_TEST_FAIL_RANK=%d", r);
        const char *const v[] = { var, NULL };
        mpi_case(l, 3, "initfail", v);
    }
}
END_TEST

START_TEST(binary_mismatch)
{
    LAUNCHER(l);
    /* Rank 0 runs one build, ranks 1 and 2 another (another build-id). */
    char *argv[32];
    int k = launch_argv(l, argv, 0, "1");
    char *rest[] = { (char *)l->prog, "mismatch", ":", "-np", "2", (char *)l->variant, "mismatch",
                     NULL };
    memcpy(argv + k, rest, sizeof rest);
    shm_begin();
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int rc = finish(start(argv, NULL), outbuf, sizeof outbuf);
    ck_assert_msg(rc == 0 && strstr(outbuf, "PASS mismatch"), "got %d: %s", rc, outbuf);
    ck_assert(reap_leftovers(10));
    shm_end();
}
END_TEST

START_TEST(payloads)
{
    LAUNCHER(l);
    mpi_case(l, 3, "payloads", NULL);
}
END_TEST
START_TEST(payloads_split)
{
    LAUNCHER(l);
    /* Pieces of 100,000 bytes: every payload above that is several
       messages, as one above INT_MAX would be. */
    const char *const v[] = { "MPROC_MPI_SPLIT=100000", "MPROC_TEST_OWNER=-1", NULL };
    mpi_case(l, 3, "payloads", v);
}
END_TEST
START_TEST(function_in_shared_library)
{
    LAUNCHER(l);
    const char *const v[] = { "MPROC_TEST_OWNER=-1", NULL };
    mpi_case(l, 3, "dl", v);
}
END_TEST

/* Starts a kill case, waits for rank 0's READY, then kills the victim:
   the owner (rank 0) or one hub, a child of rank 0's parent (the launcher,
   or MPICH's proxy) other than rank 0. Returns the job's exit status. */
static int kill_case(const launcher *l, bool owner, bool recovery)
{
    char *argv[32];
    int k = launch_argv(l, argv, 0, "3");
    if (recovery)
        argv[k++] = "--enable-recovery";
    argv[k++] = (char *)l->prog;
    argv[k++] = recovery ? "rankloss" : owner ? "killowner" : "killrank";
    argv[k] = NULL;
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    shm_begin();
    job j = start(argv, NULL);
    char line[256];
    size_t n = 0;
    int owner_pid = 0;
    while (n < sizeof line - 1) {
        ssize_t got = read(j.out, line + n, 1);
        ck_assert_int_eq(got, 1);
        if (line[n] == '\n') {
            line[n] = 0;
            if (sscanf(line, "READY %d", &owner_pid) == 1)
                break;
            n = 0;
            continue;
        }
        n++;
    }
    ck_assert_int_gt(owner_pid, 0);
    pid_t victim = owner_pid;
    if (!owner) {
        mproc_procinfo info = { 0 };
        ck_assert_int_eq(mproc_procinfo_get(owner_pid, &info), 0);
        pid_t kids[16];
        int nk = mproc_procinfo_children(info.ppid, kids, 16);
        victim = 0;
        for (int i = 0; i < nk && !victim; i++)
            if (kids[i] != owner_pid)
                victim = kids[i];
    }
    ck_assert_int_gt(victim, 0);
    usleep(200000); /* tasks running everywhere */
    double t0 = now();
    ck_assert_int_eq(kill(victim, SIGKILL), 0);
    int rc = finish_ex(j, outbuf, sizeof outbuf, recovery ? "PASS rankloss" : NULL);
    bool clean = reap_leftovers(30);
    printf("%s SIGKILLed: the job ended in %.2f s (status %d)\n", owner ? "owner" : "a rank",
           now() - t0, rc);
    ck_assert_msg(clean, "expected every process of the job gone");
    shm_end();
    return rc;
}

START_TEST(rank_killed)
{
    LAUNCHER(l);
    ck_assert_int_ne(kill_case(l, false, false), 0);
}
END_TEST
START_TEST(owner_killed)
{
    LAUNCHER(l);
    ck_assert_int_ne(kill_case(l, true, false), 0);
}
END_TEST
START_TEST(rank_lost_in_rank_timeout_mode)
{
    LAUNCHER(l);
    if (!l->ompi)
        return; /* Open MPI's mpirun --enable-recovery: MPICH has none alike */
    kill_case(l, false, true);
    char *n = strstr(outbuf, "rankloss: ");
    ck_assert_msg(n && strstr(outbuf, "PASS rankloss"), "expected the other tasks done, got:\n%s",
                  outbuf + (strlen(outbuf) > 2000 ? strlen(outbuf) - 2000 : 0));
    printf("%.*s\n", (int)strcspn(n, "\n"), n);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pool", 120);
    tcase_add_loop_test(tc, pool_functions_np2, 0, 2);
    tcase_add_loop_test(tc, pool_functions_np3, 0, 2);
    tcase_add_loop_test(tc, pool_functions_np4, 0, 2);
    tcase_add_loop_test(tc, pool_functions_no_owner_workers, 0, 2);
    tcase_add_loop_test(tc, world_of_one, 0, 2);
    tcase_add_loop_test(tc, no_launcher, 0, 2);
    tcase_add_loop_test(tc, workers_return, 0, 2);
    tcase_add_loop_test(tc, terminate_ends_every_rank, 0, 2);
    tcase_add_loop_test(tc, many_tasks_in_flight, 0, 2);
    tcase_add_loop_test(tc, several_owner_threads, 0, 2);
    tcase_add_loop_test(tc, waiting_tasks_dropped, 0, 2);
    tcase_add_loop_test(tc, function_in_shared_library, 0, 2);
    tc = mproc_tcase(s, "failures", 180);
    tcase_add_loop_test(tc, crashes_fail_alone, 0, 2);
    tcase_add_loop_test(tc, crashes_fail_alone_on_hubs, 0, 2);
    tcase_add_loop_test(tc, task_timeout, 0, 2);
    tcase_add_loop_test(tc, maxtasksperchild, 0, 2);
    tcase_add_loop_test(tc, initializer_fails_on_one_rank, 0, 2);
    tcase_add_loop_test(tc, binary_mismatch, 0, 2);
    tcase_add_loop_test(tc, rank_killed, 0, 2);
    tcase_add_loop_test(tc, owner_killed, 0, 2);
    tcase_add_loop_test(tc, rank_lost_in_rank_timeout_mode, 0, 2);
    tc = mproc_tcase(s, "payloads", 180);
    tcase_add_loop_test(tc, payloads, 0, 2);
    tcase_add_loop_test(tc, payloads_split, 0, 2);
}
