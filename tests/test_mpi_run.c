/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_mpi_run.c: `mproc run --mpi` over 2, 3 and 4 ranks of mpirun (and
 * MPICH's mpiexec where its module is built) against a local `mproc run`
 * of the same command line: output (-k order, --tag), exit status, the
 * joblog (Host is the rank's host name), --halt, --timeout, --retries and
 * --resume; outside mpirun and in a world of one it runs locally. The test
 * process is a subreaper, so whatever a job leaves behind on any rank
 * becomes its child and fails the check after each case. */
#include "test_run_util.h"

#include <sys/prctl.h>
#include <time.h>

#define NP_MAX 4

static bool have_mpich(void)
{
    /* Not under ThreadSanitizer: MPICH's UCX hooks madvise, which a thread
       of its own calls as it ends, and crash TSan's runtime there. */
#if defined(MPROC_MPIEXEC_MPICH) && !defined(__SANITIZE_THREAD__)
    return access(MPROC_MPIEXEC_MPICH, X_OK) == 0;
#else
    return false;
#endif
}

/* mproc run ARGS..., under launcher with np ranks (launcher NULL: plain,
   np ignored); stdin in. */
static tool_result run_with(const char *launcher, int np, const char *in, char *const args[])
{
    char *argv[64], nps[16];
    int k = 0;
    snprintf(nps, sizeof nps, "%d", np);
    if (launcher) {
        argv[k++] = (char *)launcher;
        if (strcmp(launcher, MPROC_MPIRUN) == 0) {
            argv[k++] = "--oversubscribe";
            argv[k++] = "--bind-to";
            argv[k++] = "none";
        }
        argv[k++] = "-np";
        argv[k++] = nps;
    }
    argv[k++] = MPROC_TOOL;
    argv[k++] = "run";
    if (launcher)
        argv[k++] = "--mpi";
    for (int i = 0; args[i]; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    ck_assert_int_lt(k, 64);
    return tr_exec(argv[0], argv, in ? in : "", in ? strlen(in) : 0);
}

static tool_result run_mpi(int np, char *const args[])
{
    return run_with(MPROC_MPIRUN, np, NULL, args);
}

static tool_result run_local(char *const args[])
{
    return run_with(NULL, 0, NULL, args);
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* s's lines sorted, joined again: a new string. */
static char *sorted(const char *s)
{
    char *copy = strdup(s), *save, *lines[4096];
    size_t n = 0;
    for (char *l = strtok_r(copy, "\n", &save); l && n < 4096; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof *lines, cmp_lines);
    char *out = calloc(strlen(s) + 2, 1);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(copy);
    return out;
}

/* The case's checks: the test process reaps what an MPI job leaves. */
static void begin(void)
{
    /* Under the sanitizers: what Open MPI does is not ours. */
    setenv("LSAN_OPTIONS",
           "fast_unwind_on_malloc=0:suppressions=" MPROC_SOURCE_DIR "/tests/mpi_lsan.supp", 1);
    setenv("TSAN_OPTIONS", "suppressions=" MPROC_SOURCE_DIR "/tests/mpi_tsan.supp", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/* The value of variable name (NAME=) in process pid's environment, or "?". */
static void environ_of(pid_t pid, const char *name, char *out, size_t size)
{
    char path[64], env[16384];
    snprintf(out, size, "?");
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, env, sizeof env - 1);
    close(fd);
    size_t len = strlen(name);
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(env + i) + 1) {
        env[n] = 0;
        if (strncmp(env + i, name, len) == 0) {
            snprintf(out, size, "%s", env + i + len);
            return;
        }
    }
}

/* Our children's PIDs and names, and for a job the rank that ran it and
   its number, for a message. */
static void children(char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    pid_t kids[32];
    int nk = mproc_procinfo_children(getpid(), kids, 32);
    for (int i = 0; i < nk && n + 96 < size; i++) {
        mproc_procinfo info = { 0 };
        char rank[16], seq[16];
        environ_of(kids[i], "OMPI_COMM_WORLD_RANK=", rank, sizeof rank);
        environ_of(kids[i], "PARALLEL_SEQ=", seq, sizeof seq);
        if (mproc_procinfo_get(kids[i], &info) == 0)
            n += (size_t)snprintf(out + n, size - n, " %d %c %s (rank %s, job %s);", (int)kids[i],
                                  info.state, info.name, rank, seq);
    }
}

static void no_leftovers(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (r == 0 && t.tv_sec - t0.tv_sec >= 30) {
            char what[1024];
            children(what, sizeof what);
            ck_abort_msg("expected no process left by the MPI job, found:%s", what);
        }
        if (r == 0)
            usleep(2000);
    }
}

/* The same stdout (sorted unless in_order) and exit status from --mpi
   over np ranks of launcher as from a local run. */
static void same_ex(const char *launcher, int np, char *const args[], bool in_order)
{
    tool_result l = run_local(args);
    tool_result m = run_with(launcher, np, NULL, args);
    char *lo = in_order ? strdup(l.out) : sorted(l.out);
    char *mo = in_order ? strdup(m.out) : sorted(m.out);
    ck_assert_msg(m.status == l.status, "-np %d %s: expected exit %d as locally, got %d:\n%s", np,
                  args[0], l.status, m.status, m.err);
    ck_assert_msg(strcmp(lo, mo) == 0, "-np %d %s: expected the local output\n%s\ngot\n%s", np,
                  args[0], lo, mo);
    free(lo);
    free(mo);
    tr_free(&l);
    tr_free(&m);
    no_leftovers();
}

static void same(int np, char *const args[], bool in_order)
{
    same_ex(MPROC_MPIRUN, np, args, in_order);
}

START_TEST(output_keep_order)
{
    begin();
    for (int np = 2; np <= NP_MAX; np++) {
        char *a[] = { "-k", "-j2", "echo", "job", ":::", "1", "2", "3", "4", "5", "6", "7", "8",
                      "9", "10", "11", "12", NULL };
        same(np, a, true);
    }
}
END_TEST

START_TEST(output_unordered_and_tagged)
{
    begin();
    char *a[] = { "-j2", "--tag", "printf '%s\\n' x{} y{}; echo e{} >&2", ":::", "a", "b", "c",
                  "d", "e", "f", "g", NULL };
    same(3, a, false);
    char *b[] = { "-k", "--tag", "-j1", "seq", ":::", "3", "1", "4", "1", "5", NULL };
    same(3, b, true);
    /* Several sources, {#} and the values' combinations. */
    char *c[] = { "-k", "echo", "{#}", "{1}-{2}", ":::", "a", "b", ":::", "1", "2", "3", NULL };
    same(4, c, true);
}
END_TEST

START_TEST(exit_statuses)
{
    begin();
    char *a[] = { "-j2", "exit {}", ":::", "0", "1", "2", "0", "3", NULL };
    same(3, a, false);
    char *b[] = { "-j1", "kill -9 $$; : {}", ":::", "1", "2", NULL };
    same(3, b, false);
    char *c[] = { "-j1", "exit 0", ":::", "1", "2", "3", NULL };
    same(2, c, false);
}
END_TEST

/* The joblog's lines by Seq: every column but Host and the times equal,
   Host the rank's host name. */
START_TEST(joblog_with_host)
{
    begin();
    char dir[256], lp[300], mp[300];
    tmpdir_make(dir, sizeof dir);
    snprintf(lp, sizeof lp, "%s/local.log", dir);
    snprintf(mp, sizeof mp, "%s/mpi.log", dir);
    char *a[] = { "--joblog", lp, "-j2", "echo {}; exit {}", ":::", "0", "1", "2", "3", "4", "5",
                  NULL };
    tool_result l = run_local(a);
    a[1] = mp;
    tool_result m = run_mpi(3, a);
    ck_assert_int_eq(m.status, l.status);
    char *lj = file_read(lp), *mj = file_read(mp);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    ck_assert_int_eq(count_char(mj, '\n'), 7);
    ck_assert_ptr_nonnull(strstr(mj, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval"));
    for (int seq = 1; seq <= 6; seq++) {
        char want_l[256], want_m[512];
        snprintf(want_l, sizeof want_l, "\n%d\t:\t", seq);
        snprintf(want_m, sizeof want_m, "\n%d\t%s\t", seq, host);
        const char *pl = strstr(lj, want_l), *pm = strstr(mj, want_m);
        ck_assert_msg(pl && pm, "expected job %d with Host %s in the joblog:\n%s", seq, host, mj);
        /* From Send on: Send Receive Exitval Signal Command. */
        for (int col = 0; col < 2; col++)
            pl = strchr(pl + 1, '\t'), pm = strchr(pm + 1, '\t');
        pl = strchr(pl + 1, '\t');
        pm = strchr(pm + 1, '\t');
        pl = strchr(pl + 1, '\t');
        pm = strchr(pm + 1, '\t');
        size_t ll = strcspn(pl, "\n"), ml = strcspn(pm, "\n");
        ck_assert_msg(ll == ml && memcmp(pl, pm, ll) == 0, "job %d: expected '%.*s', got '%.*s'",
                      seq, (int)ll, pl, (int)ml, pm);
    }
    free(lj);
    free(mj);
    tr_free(&l);
    tr_free(&m);
    tmpdir_remove(dir);
    no_leftovers();
}
END_TEST

START_TEST(halt)
{
    begin();
    /* One failure halts: the same status; soon lets the others finish. */
    char *a[] = { "-j1", "--halt", "soon,fail=1", "exit {}", ":::", "0", "4", "0", NULL };
    tool_result m = run_mpi(2, (char *[]){ "--mpi-no-local", "-j1", "--halt", "now,fail=1",
                                           "sleep {}; exit 1", ":::", "0", "100", NULL });
    /* now: the long job is ended at once, on the other rank. */
    ck_assert_int_eq(m.status, 1);
    ck_assert_ptr_nonnull(strstr(m.err, "This job failed"));
    tr_free(&m);
    no_leftovers();
    same(2, a, false);
    char *b[] = { "-k", "-j1", "--halt", "now,success=1", "exit {}", ":::", "3", "0", NULL };
    same(2, b, true);
}
END_TEST

START_TEST(timeout_on_the_rank)
{
    begin();
    char *a[] = { "-k", "--mpi-no-local", "-j2", "--timeout", "2", "sleep {}; echo {}", ":::",
                  "0", "60", "0", "60", NULL };
    tool_result m = run_mpi(2, a);
    ck_assert_int_eq(m.status, 2);
    ck_assert_str_eq(m.out, "0\n0\n");
    ck_assert_ptr_nonnull(strstr(m.err, "killed because it timed out"));
    tr_free(&m);
    no_leftovers();
}
END_TEST

/* Starts mpirun -np 3 with a long job on every rank (each writes its
   rank and its parent's PID to DIR/s1..s3 as it starts) and waits until
   all three run. */
static pid_t jobs_everywhere(char *dir, size_t size, int fds[2])
{
    char cmd[600], nps[] = "3";
    tmpdir_make(dir, size);
    snprintf(cmd, sizeof cmd,
             "echo $OMPI_COMM_WORLD_RANK $PPID > %s/s{}.tmp; mv %s/s{}.tmp %s/s{}; sleep 100;"
             " echo {}",
             dir, dir, dir);
    char *argv[] = { MPROC_MPIRUN, "--oversubscribe", "--bind-to", "none", "-np", nps, MPROC_TOOL,
                     "run", "--mpi", "-j1", cmd, ":::", "1", "2", "3", NULL };
    pid_t pid = tr_start(argv[0], argv, "", 0, &fds[0], &fds[1]);
    for (int i = 0; i < 12000; i++) {
        if (file_exists(dir, "s1") && file_exists(dir, "s2") && file_exists(dir, "s3"))
            break;
        usleep(10000);
    }
    ck_assert_msg(file_exists(dir, "s3"), "expected a job started on every rank");
    return pid;
}

/* mpirun ends, having run no job to its end, and leaves nothing behind. */
static void jobs_ended(pid_t pid, int fds[2], char *dir)
{
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    tr_slurp(fds, bufs, lens);
    ck_assert_int_ne(tr_wait(pid), 0);
    ck_assert_msg(lens[0] == 0, "expected no job to finish, got: %s", bufs[0]);
    free(bufs[0]);
    free(bufs[1]);
    tmpdir_remove(dir);
    no_leftovers();
}

/* mpirun interrupted while jobs run on every rank: every job ends, on
   every rank, children and all (none is left to the subreaper). */
START_TEST(interrupt_ends_every_job)
{
    begin();
    char dir[256];
    int fds[2];
    pid_t pid = jobs_everywhere(dir, sizeof dir, fds);
    kill(pid, SIGINT);
    jobs_ended(pid, fds, dir);
}
END_TEST

/* Rank 0 SIGKILLed while its own job runs (as mpirun does to a rank once
   another rank has died, before it may have read its SIGTERM): its job,
   and every other rank's, ends all the same. */
START_TEST(rank0_killed_ends_its_jobs)
{
    begin();
    char dir[256];
    int fds[2];
    pid_t pid = jobs_everywhere(dir, sizeof dir, fds);
    int runner = 0;
    for (int k = 1; k <= 3 && !runner; k++) {
        char path[300];
        snprintf(path, sizeof path, "%s/s%d", dir, k);
        char *txt = file_read(path);
        int rank = -1, ppid = 0;
        if (txt && sscanf(txt, "%d %d", &rank, &ppid) == 2 && rank == 0)
            runner = ppid;
        free(txt);
    }
    ck_assert_msg(runner > 0, "expected a job of rank 0's own");
    ck_assert_int_eq(kill(runner, SIGKILL), 0);
    jobs_ended(pid, fds, dir);
}
END_TEST

START_TEST(retries_across_ranks)
{
    begin();
    char dir[256], log[300], cmd[600];
    tmpdir_make(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/log", dir);
    /* Each job fails on its first two tries (a counter file per job). */
    snprintf(cmd, sizeof cmd,
             "f=%s/n{}; n=$(cat $f 2>/dev/null || echo 0); echo $((n+1)) > $f; echo try$n {};"
             " [ $n -ge 2 ]",
             dir);
    char *a[] = { "--joblog", log, "-k", "--retries", "3", "-j2", cmd, ":::", "a", "b", "c", "d",
                  NULL };
    tool_result m = run_mpi(3, a);
    ck_assert_msg(m.status == 0, "expected every job to succeed on its third try: %s", m.err);
    ck_assert_str_eq(m.out, "try2 a\ntry2 b\ntry2 c\ntry2 d\n");
    char *j = file_read(log);
    ck_assert_int_eq(count_char(j, '\n'), 5); /* only the last try is logged */
    free(j);
    tr_free(&m);
    /* Too few tries: the same status as locally. */
    char *b[] = { "--retries", "2", "-j1", "exit 1", ":::", "1", "2", "3", NULL };
    same(3, b, false);
    tmpdir_remove(dir);
    no_leftovers();
}
END_TEST

START_TEST(resume)
{
    begin();
    char dir[256], log[300];
    tmpdir_make(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/log", dir);
    char *a[] = { "--joblog", log, "-k", "echo", ":::", "1", "2", "3", NULL };
    tool_result m = run_mpi(3, a);
    ck_assert_str_eq(m.out, "1\n2\n3\n");
    tr_free(&m);
    char *b[] = { "--resume", "--joblog", log, "-k", "echo", ":::", "1", "2", "3", "4", "5",
                  NULL };
    m = run_mpi(3, b);
    ck_assert_str_eq(m.out, "4\n5\n");
    ck_assert_int_eq(m.status, 0);
    char *j = file_read(log);
    ck_assert_int_eq(count_char(j, '\n'), 6);
    free(j);
    tr_free(&m);
    tmpdir_remove(dir);
    no_leftovers();
}
END_TEST

START_TEST(local_without_mpi)
{
    begin();
    /* No launcher: local (the joblog's Host is ":"); a world of one too. */
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_RANK");
    unsetenv("PMIX_RANK");
    tool_result l = run_with(NULL, 0, NULL,
                             (char *[]){ "--mpi", "-k", "--joblog", "-", "echo", ":::", "a", NULL });
    ck_assert_int_eq(l.status, 0);
    ck_assert_ptr_nonnull(strstr(l.out, "a\n1\t:\t"));
    tr_free(&l);
    char *a[] = { "-k", "echo", ":::", "x", "y", NULL };
    same(1, a, true);
    /* Stdin reaches rank 0. */
    tool_result m = run_with(MPROC_MPIRUN, 2, "p\nq\nr\n", (char *[]){ "-k", "echo", NULL });
    ck_assert_str_eq(m.out, "p\nq\nr\n");
    tr_free(&m);
    no_leftovers();
}
END_TEST

START_TEST(refused)
{
    begin();
    tool_result m = run_mpi(2, (char *[]){ "--pipe", "cat", NULL });
    ck_assert_int_eq(m.status, 255);
    ck_assert_int_eq(count_char(m.err, '\n') >= 1, 1);
    ck_assert_ptr_nonnull(strstr(m.err, "--mpi with --pipe"));
    tr_free(&m);
    no_leftovers();
}
END_TEST

START_TEST(mpich_mpiexec)
{
    if (!have_mpich())
        return; /* no MPICH module in this build: nothing of it to test */
    begin();
#ifdef MPROC_MPIEXEC_MPICH
    char *a[] = { "-k", "--tag", "-j2", "echo {}; exit {}", ":::", "0", "1", "2", "3", "4", "5",
                  NULL };
    for (int np = 2; np <= 3; np++)
        same_ex(MPROC_MPIEXEC_MPICH, np, a, true);
    char *b[] = { "-j1", "--halt", "soon,fail=1", "exit {}", ":::", "0", "4", "0", NULL };
    same_ex(MPROC_MPIEXEC_MPICH, 3, b, false);
    /* Every slot is used: rank 0's and the others'. */
    tool_result m = run_with(MPROC_MPIEXEC_MPICH, 3, NULL,
                             (char *[]){ "-j1", "echo $PARALLEL_JOBSLOT; sleep 1", ":::", "1", "2",
                                         "3", NULL });
    char *slots = sorted(m.out);
    ck_assert_str_eq(slots, "1\n2\n3\n");
    free(slots);
    tr_free(&m);
    no_leftovers();
#endif
}
END_TEST

START_TEST(slots_of_every_rank)
{
    begin();
    /* -j1 on 3 ranks: three slots, {%} global, all busy at once. */
    tool_result m = run_mpi(3, (char *[]){ "-j1", "echo $PARALLEL_JOBSLOT {%}; sleep 1", ":::",
                                           "1", "2", "3", NULL });
    char *s = sorted(m.out);
    ck_assert_str_eq(s, "1 1\n2 2\n3 3\n");
    free(s);
    tr_free(&m);
    no_leftovers();
}
END_TEST

/* Whether every space-separated word of a is one of b's. */
static bool words_within(const char *a, const char *b)
{
    char *copy = strdup(a), *save;
    bool all = true;
    for (char *w = strtok_r(copy, " ", &save); w && all; w = strtok_r(NULL, " ", &save)) {
        size_t n = strlen(w);
        const char *p = b;
        all = false;
        while (!all && (p = strstr(p, w))) {
            all = (p == b || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0');
            p += n;
        }
    }
    free(copy);
    return all;
}

/* A job on any rank, rank 0's own included, inherits no descriptor a local
   job would not (Open MPI's sockets to its launcher stay with rank 0), may
   run on the CPUs a local job may (not only the one its worker is held
   to), and sees the same variables on every rank: the rank's environment
   with the job's PARALLEL_*, nothing taken out or added by the path it
   came by. */
START_TEST(jobs_see_what_local_jobs_see)
{
    begin();
    const char *cmd = "printf '%s|%s|%s|%s\\n' \"${OMPI_COMM_WORLD_RANK:-local}\" "
                      "\"$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)\" "
                      "\"$(ls /proc/self/fd | sort -n | paste -sd' ')\" "
                      "\"$(awk 'BEGIN { for (k in ENVIRON) if (k !~ /^(PARALLEL_|AWKPATH|AWKLIBPATH)/) print k }' "
                      "| sort | paste -sd' ')\"; : {}";
    tool_result l = run_local((char *[]){ "-j1", (char *)cmd, ":::", "1", NULL });
    ck_assert_int_eq(l.status, 0);
    char *lcpus = strchr(l.out, '|');
    ck_assert_ptr_nonnull(lcpus);
    lcpus = strdup(lcpus + 1);
    char *lfds = strchr(lcpus, '|');
    ck_assert_ptr_nonnull(lfds);
    *lfds++ = '\0';
    char *lnames = strchr(lfds, '|');
    ck_assert_ptr_nonnull(lnames);
    *lnames++ = '\0';
    lnames[strcspn(lnames, "\n")] = '\0';
    tool_result m = run_mpi(3, (char *[]){ "-j1", (char *)cmd, ":::", "1", "2", "3", "4", "5",
                                           "6", "7", "8", "9", "10", "11", "12", NULL });
    ck_assert_msg(m.status == 0, "--mpi: exit %d:\n%s", m.status, m.err);
    char *save, *names0 = NULL;
    bool rank0 = false, other = false;
    for (char *line = strtok_r(m.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *cpus = strchr(line, '|'), *fds = cpus ? strchr(cpus + 1, '|') : NULL;
        char *names = fds ? strchr(fds + 1, '|') : NULL;
        ck_assert_msg(names, "unexpected line: %s", line);
        *cpus++ = '\0';
        *fds++ = '\0';
        *names++ = '\0';
        ck_assert_msg(strcmp(cpus, lcpus) == 0,
                      "a job on rank %s may run on CPUs %s, a local one on %s", line, cpus, lcpus);
        rank0 |= strcmp(line, "0") == 0;
        other |= strcmp(line, "0") != 0;
        ck_assert_msg(words_within(fds, lfds),
                      "a job on rank %s has descriptors %s, a local one only %s", line, fds, lfds);
        ck_assert_msg(words_within(lnames, names),
                      "a job on rank %s lacks some of the local job's variables %s: %s", line,
                      lnames, names);
        if (!names0)
            names0 = strdup(names);
        ck_assert_msg(strcmp(names0, names) == 0,
                      "a job on rank %s sees the variables %s, another job %s", line, names,
                      names0);
    }
    ck_assert_msg(rank0 && other, "expected jobs on rank 0 and on the others:\n%s", m.out);
    free(names0);
    free(lcpus);
    tr_free(&l);
    tr_free(&m);
    no_leftovers();
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "output", 240);
    tcase_add_test(tc, output_keep_order);
    tcase_add_test(tc, output_unordered_and_tagged);
    tcase_add_test(tc, exit_statuses);
    tcase_add_test(tc, joblog_with_host);
    tcase_add_test(tc, slots_of_every_rank);
    tcase_add_test(tc, jobs_see_what_local_jobs_see);
    tc = mproc_tcase(s, "control", 240);
    tcase_add_test(tc, halt);
    tcase_add_test(tc, timeout_on_the_rank);
    tcase_add_test(tc, retries_across_ranks);
    tcase_add_test(tc, resume);
    tcase_add_test(tc, interrupt_ends_every_job);
    tcase_add_test(tc, rank0_killed_ends_its_jobs);
    tc = mproc_tcase(s, "launchers", 240);
    tcase_add_test(tc, local_without_mpi);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, mpich_mpiexec);
}
