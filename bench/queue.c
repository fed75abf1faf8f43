/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue.c: the queue benchmark. mproc's queue beside Boost.Interprocess
 * message_queue (a C++ peer, bench/queue_boost.cpp), POSIX message queues,
 * a raw pipe and Python's multiprocessing.Queue (bench/queue_peer.py), with
 * 1 producer and 1 consumer and with 2 and 2, at 64 B, 4 KiB and 1 MiB:
 * time per message and each peer's time over ours.
 *
 * Every transport gets the same room (about 1 MiB of messages, four
 * messages at 1 MiB), producers and consumers are processes released
 * together, and each consumer copies every message out into its own
 * buffer. A raw pipe has no message boundaries between several readers, so
 * it runs 1 -> 1 only. Each figure is the best of nine runs, as a shared
 * machine's neighbours decide single runs, made in rounds of every shape
 * and transport in turn; MPROC_BENCH_QUICK=1 runs three, of fewer
 * messages. 2 -> 2 against 1 -> 1 is printed twice: from each shape's
 * best run, and as the median of each round's own ratio (its two runs made
 * one after the other, at much the same moment of the machine), for mproc
 * over sixteen more rounds of its two shapes alone (quick: four). Python,
 * some hundred times slower, passes a
 * twentieth to a hundredth of the messages, best of two runs (one quick).
 *
 * `queue --instr N` does N put+get pairs of 64 B in one process, for
 * counting instructions (bench/queue_instr.sh runs it under callgrind);
 * `queue --mproc NP NC SIZE` prints mproc's one run (wall and CPU time per
 * message), for profiling and for bench/queue_ab.sh.
 *
 * Where the scheduler puts the processes decides much of 2 -> 2 on a
 * machine with fewer CPUs than processes: MPROC_BENCH_CPUS=0,1,0,1 holds
 * the producers, then the consumers, each to the CPU listed in its turn
 * (that one: a producer and a consumer on each of two CPUs), so that one
 * placement can be measured on its own. It holds the processes of this
 * program's transports (mproc, POSIX mq, the pipe), not Boost's or
 * Python's peers.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <mproc.h>

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXW 4
/* Rounds of the table (quick: 3). */
#define MAX_RUNS 9
/* Extra rounds of mproc's two shapes alone, for their paired ratio (quick:
   4): the ratio of two runs moves by a tenth from round to round on a
   shared machine, more than the table's nine rounds can settle. */
#define PAIR_EXTRA 16
#define MAX_PAIRS (MAX_RUNS + PAIR_EXTRA)

static void die(const char *what, int err)
{
    fprintf(stderr, "queue bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
    exit(1);
}

/* Room for about 1 MiB of messages, and never fewer than four. */
static long depth(size_t size)
{
    long d = (long)(((size_t)1 << 20) / size);
    return d < 4 ? 4 : d;
}

typedef struct {
    size_t size;
    long per_producer, per_consumer;
    mproc_queue *q;
    mqd_t mq;
    int pipe[2];
} job;

typedef int (*side_fn)(job *j, char *buf);

/* MPROC_BENCH_CPUS, read once: the CPU each process is held to (producers
   first), -1 past the list's end. A CPU we may not run on ends the bench
   before any process starts, rather than one side's process alone. */
static int listed_cpu[2 * MAXW];

static void read_listed_cpus(void)
{
    for (int i = 0; i < 2 * MAXW; i++)
        listed_cpu[i] = -1;
    const char *p = getenv("MPROC_BENCH_CPUS");
    cpu_set_t ours;
    if (!p || sched_getaffinity(0, sizeof ours, &ours) < 0)
        return;
    for (int i = 0; i < 2 * MAXW && *p; i++) {
        char *end;
        long c = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || c < 0 || c >= CPU_SETSIZE ||
            !CPU_ISSET((int)c, &ours)) {
            fprintf(stderr, "queue bench: MPROC_BENCH_CPUS: %s: not a CPU of ours\n", p);
            exit(2);
        }
        listed_cpu[i] = (int)c;
        p = *end ? end + 1 : end;
    }
}

static void hold_to_listed_cpu(int i)
{
    if (listed_cpu[i] < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(listed_cpu[i], &set);
    (void)sched_setaffinity(0, sizeof set, &set); /* one of ours: checked */
}

/* Runs np producers and nc consumers as processes released at once; the
   seconds from the release to the last one's end, or -1. */
static double crew(job *j, int np, int nc, side_fn prod, side_fn cons)
{
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        die("pipe", errno);
    pid_t pids[2 * MAXW];
    int n = 0;
    for (int i = 0; i < np + nc; i++) {
        pid_t pid = mproc_fork();
        if (pid < 0)
            die("fork", (int)-pid);
        if (pid == 0) {
            close(gate[1]);
            hold_to_listed_cpu(i);
            char c, *buf = malloc(j->size);
            if (!buf || read(gate[0], &c, 1) != 1)
                _exit(2);
            _exit(i < np ? prod(j, buf) : cons(j, buf));
        }
        pids[n++] = pid;
    }
    close(gate[0]);
    char go[2 * MAXW] = { 0 };
    double t0 = bench_now();
    if (write(gate[1], go, (size_t)n) != n)
        die("gate", errno);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
        ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    double dt = bench_now() - t0;
    close(gate[1]);
    return ok ? dt : -1;
}

/* ---- mproc ------------------------------------------------------------------ */

static int mproc_prod(job *j, char *buf)
{
    memset(buf, 'm', j->size);
    for (long i = 0; i < j->per_producer; i++) {
        memcpy(buf, &i, sizeof i);
        if (mproc_queue_put(j->q, buf, j->size, -1) < 0)
            return 1;
    }
    return 0;
}

static int mproc_cons(job *j, char *buf)
{
    size_t len;
    for (long i = 0; i < j->per_consumer; i++)
        if (mproc_queue_get(j->q, buf, j->size, &len, -1) < 0 || len != j->size)
            return 1;
    return 0;
}

static double run_mproc(job *j, int np, int nc)
{
    /* The same room as the others: depth messages of this size. */
    mproc_queue_opts o = { .bytes = (size_t)depth(j->size) * j->size };
    int r = mproc_queue_new(&j->q, &o);
    if (r < 0)
        die("mproc_queue_new", r);
    double dt = crew(j, np, nc, mproc_prod, mproc_cons);
    mproc_queue_free(j->q);
    return dt;
}

/* ---- POSIX message queues ------------------------------------------------------- */

static int mq_prod(job *j, char *buf)
{
    memset(buf, 'p', j->size);
    for (long i = 0; i < j->per_producer; i++) {
        memcpy(buf, &i, sizeof i);
        while (mq_send(j->mq, buf, j->size, 0) < 0)
            if (errno != EINTR)
                return 1;
    }
    return 0;
}

static int mq_cons(job *j, char *buf)
{
    for (long i = 0; i < j->per_consumer; i++) {
        ssize_t n;
        while ((n = mq_receive(j->mq, buf, j->size, NULL)) < 0)
            if (errno != EINTR)
                return 1;
        if ((size_t)n != j->size)
            return 1;
    }
    return 0;
}

/* The system's limits allow a depth of 10 and 8 KiB messages unless the
   caller may raise them (CAP_SYS_RESOURCE): ask for the same depth as the
   others, else for what is allowed; the depth used goes in *used. */
static double run_posix(job *j, int np, int nc, long *used)
{
    char name[64];
    snprintf(name, sizeof name, "/mproc-bench-mq-%d", (int)getpid());
    long want = depth(j->size);
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    setrlimit(RLIMIT_MSGQUEUE, &rl);
    for (long d = want;; d = 10) {
        struct mq_attr a = { .mq_maxmsg = d, .mq_msgsize = (long)j->size };
        mq_unlink(name);
        j->mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &a);
        if (j->mq != (mqd_t)-1) {
            *used = d;
            break;
        }
        if (d == 10)
            return -1;
    }
    mq_unlink(name);
    double dt = crew(j, np, nc, mq_prod, mq_cons);
    mq_close(j->mq);
    return dt;
}

/* ---- a raw pipe ------------------------------------------------------------------ */

static int pipe_prod(job *j, char *buf)
{
    close(j->pipe[0]);
    memset(buf, 'r', j->size);
    for (long i = 0; i < j->per_producer; i++) {
        memcpy(buf, &i, sizeof i);
        for (size_t done = 0; done < j->size;) {
            ssize_t k = write(j->pipe[1], buf + done, j->size - done);
            if (k < 0 && errno != EINTR)
                return 1;
            done += k > 0 ? (size_t)k : 0;
        }
    }
    return 0;
}

static int pipe_cons(job *j, char *buf)
{
    close(j->pipe[1]);
    for (long i = 0; i < j->per_consumer; i++)
        for (size_t got = 0; got < j->size;) {
            ssize_t k = read(j->pipe[0], buf + got, j->size - got);
            if (k == 0 || (k < 0 && errno != EINTR))
                return 1;
            got += k > 0 ? (size_t)k : 0;
        }
    return 0;
}

static double run_pipe(job *j, int np, int nc)
{
    if (np != 1 || nc != 1)
        return -1;
    if (pipe2(j->pipe, O_CLOEXEC) < 0)
        die("pipe", errno);
    /* The same room as the others, where the system allows it. */
    fcntl(j->pipe[1], F_SETPIPE_SZ, 1 << 20);
    double dt = crew(j, np, nc, pipe_prod, pipe_cons);
    close(j->pipe[0]);
    close(j->pipe[1]);
    return dt;
}

/* ---- Boost.Interprocess, by the peer ---------------------------------------------- */

static double run_boost(job *j, int np, int nc, long count)
{
#ifdef MPROC_BOOST_PEER
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' %d %d %zu %ld %ld", MPROC_BOOST_PEER, np, nc, j->size, count,
             depth(j->size));
    return bench_command(cmd);
#else
    (void)j, (void)np, (void)nc, (void)count;
    return -1;
#endif
}

/* ---- Python's multiprocessing.Queue, by the peer ------------------------------------- */

static double run_python(job *j, int np, int nc, long count)
{
    char args[128];
    snprintf(args, sizeof args, "%d %d %zu %ld %ld", np, nc, j->size, count, depth(j->size));
    return bench_python("queue_peer.py", args);
}

/* ---- the table ---------------------------------------------------------------------- */

/* CPU seconds (user and system) of every child and descendant reaped so far:
   around a run, what all its processes spent, waiting for a CPU excluded. */
static double child_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n-1] (n > 0), which it sorts. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double best(double a, double b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void cell(double peer, double ours)
{
    if (peer <= 0)
        printf(" %10s %6s", "n/a", "");
    else if (peer * 1e9 >= 10000)
        printf(" %8.1fus %5.2fx", peer * 1e6, peer / ours);
    else
        printf(" %8.0fns %5.2fx", peer * 1e9, peer / ours);
}

static void instr(long n)
{
    mproc_queue *q;
    int r = mproc_queue_new(&q, NULL);
    if (r < 0)
        die("mproc_queue_new", r);
    char msg[64] = { 0 }, buf[64];
    size_t len;
    for (long i = 0; i < n; i++)
        if (mproc_queue_put(q, msg, sizeof msg, -1) < 0 ||
            mproc_queue_get(q, buf, sizeof buf, &len, -1) < 0)
            die("put/get", EIO);
    mproc_queue_free(q);
}

int main(int argc, char **argv)
{
    read_listed_cpus();
    if (argc == 3 && !strcmp(argv[1], "--instr")) {
        instr(atol(argv[2]));
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "--mproc")) {
        /* One run, for profiling and A/B (bench/queue_ab.sh): --mproc NP NC
           SIZE prints ns per message, wall and CPU (all processes). */
        int np = atoi(argv[2]), nc = atoi(argv[3]);
        size_t size = strtoul(argv[4], NULL, 10);
        long count = size <= 64 ? 2000000 : size <= 4096 ? 400000 : 4000;
        job j = { .size = size, .per_producer = count / np, .per_consumer = count / nc };
        double c0 = child_cpu(), dt = run_mproc(&j, np, nc);
        if (dt < 0)
            die("mproc run failed", EIO);
        printf("%.0f %.0f\n", dt / (double)count * 1e9, (child_cpu() - c0) / (double)count * 1e9);
        return 0;
    }
    bool quick = getenv("MPROC_BENCH_QUICK") != NULL;
    static const size_t sizes[] = { 64, 4096, (size_t)1 << 20 };
    static const long counts[] = { 2000000, 400000, 4000 };
    static const long py_counts[] = { 20000, 20000, 400 };
    static const int shapes[][2] = { { 1, 1 }, { 2, 2 } };
    int runs = quick ? 3 : MAX_RUNS;

    printf("queue: time per message, best of %d runs; each peer's time over mproc's "
           "(> 1: mproc is faster)\n",
           runs);
    printf("  %-14s %10s  %-17s %-17s %-17s %-17s\n", "", "mproc", " Boost mq", " POSIX mq",
           " raw pipe", " Python Queue");
    /* Per size and shape: best wall time per message of mproc, Boost,
       POSIX mq, pipe, Python, and best CPU time per message of mproc and
       Boost. */
    double t[3][2][5], cpu[3][2][2];
    /* Per size and peer (mproc, Boost): each round's own 2->2 over 1->1,
       the two run one after the other: the table's rounds, and for mproc
       the extra rounds too. */
    double pair[3][2][MAX_PAIRS];
    int npair[3][2] = { { 0 } };
    long mq_depth[3] = { 0 };
    for (int si = 0; si < 3; si++) {
        long count = counts[si] / (quick ? 5 : 1);
        long py_count = py_counts[si] / (quick ? 5 : 1);
        for (int sh = 0; sh < 2; sh++) {
            for (int i = 0; i < 5; i++)
                t[si][sh][i] = -1;
            cpu[si][sh][0] = cpu[si][sh][1] = -1;
        }
        /* Rounds of every shape and transport in turn, so that a noisy
           neighbour hurts all alike: the two shapes' ratio, too, is taken
           from runs made side by side. */
        for (int k = 0; k < runs; k++) {
            double round[2][2] = { { -1, -1 }, { -1, -1 } };
            for (int sh = 0; sh < 2; sh++) {
                int np = shapes[sh][0], nc = shapes[sh][1];
                job j = { .size = sizes[si], .per_producer = count / np,
                          .per_consumer = count / nc };
                double *b = t[si][sh];
                double c0 = child_cpu();
                double m = run_mproc(&j, np, nc);
                if (m < 0)
                    die("mproc run failed", EIO);
                b[0] = best(b[0], m / (double)count);
                round[sh][0] = m;
                double c1 = child_cpu();
                double bk = run_boost(&j, np, nc, count);
                cpu[si][sh][0] = best(cpu[si][sh][0], (c1 - c0) / (double)count);
                if (bk > 0) {
                    round[sh][1] = bk;
                    b[1] = best(b[1], bk * 1e-9);
                    cpu[si][sh][1] = best(cpu[si][sh][1], (child_cpu() - c1) / (double)count);
                }
                double p = run_posix(&j, np, nc, &mq_depth[si]);
                b[2] = best(b[2], p > 0 ? p / (double)count : -1);
                double r = run_pipe(&j, np, nc);
                b[3] = best(b[3], r > 0 ? r / (double)count : -1);
                if (k < (quick ? 1 : 2))
                    b[4] = best(b[4], run_python(&j, np, nc, py_count));
            }
            for (int w = 0; w < 2; w++)
                if (round[0][w] > 0 && round[1][w] > 0)
                    pair[si][w][npair[si][w]++] = round[1][w] / round[0][w];
        }
        /* The extra rounds, the two shapes' order alternating so that a
           machine speeding up or slowing down favours neither. Not in the
           table: there each transport has as many runs as the others. */
        for (int k = 0; k < (quick ? 4 : PAIR_EXTRA); k++) {
            double round[2];
            for (int n = 0; n < 2; n++) {
                int sh = (k + n) % 2, np = shapes[sh][0], nc = shapes[sh][1];
                job j = { .size = sizes[si], .per_producer = count / np,
                          .per_consumer = count / nc };
                if ((round[sh] = run_mproc(&j, np, nc)) < 0)
                    die("mproc run failed", EIO);
            }
            pair[si][0][npair[si][0]++] = round[1] / round[0];
        }
        for (int sh = 0; sh < 2; sh++) {
            double *b = t[si][sh], per = b[0];
            char label[32];
            snprintf(label, sizeof label, "%s, %d->%d",
                     si == 0 ? "64 B" : si == 1 ? "4 KiB" : "1 MiB", shapes[sh][0],
                     shapes[sh][1]);
            if (per * 1e9 >= 10000)
                printf("  %-14s %8.1fus", label, per * 1e6);
            else
                printf("  %-14s %8.0fns", label, per * 1e9);
            for (int i = 1; i < 5; i++)
                cell(b[i], per);
            printf("\n");
            fflush(stdout);
        }
    }
    /* What each spent, not how long it waited for a CPU: on a loaded
       machine the time per message mostly tells the scheduler's share. */
    printf("\nCPU time per message, all processes (user + system), best of %d:\n", runs);
    for (int si = 0; si < 3; si++)
        for (int sh = 0; sh < 2; sh++) {
            char label[32];
            snprintf(label, sizeof label, "%s, %d->%d",
                     si == 0 ? "64 B" : si == 1 ? "4 KiB" : "1 MiB", shapes[sh][0], shapes[sh][1]);
            double cm = cpu[si][sh][0];
            if (cm * 1e9 >= 10000)
                printf("  %-14s %8.1fus", label, cm * 1e6);
            else
                printf("  %-14s %8.0fns", label, cm * 1e9);
            cell(cpu[si][sh][1], cm);
            printf("\n");
        }
    /* The second consumer's help, for mproc and, beside it, for Boost
       (its own 2->2 against its own 1->1, in the same rounds). */
    printf("\n2->2 per message against 1->1 (<= 1: the second consumer helps):\n");
    const char *names[] = { "mproc", "Boost mq" };
    for (int w = 0; w < 2; w++) {
        printf("  %-14s", names[w]);
        for (int si = 0; si < 3; si++) {
            double one = t[si][0][w], two = t[si][1][w];
            printf(" %s ", si == 0 ? "64 B" : si == 1 ? "4 KiB" : "1 MiB");
            if (one > 0 && two > 0)
                printf("%.2fx", two / one);
            else
                printf("n/a");
        }
        printf("\n");
    }
    /* The same from runs paired by round: a shape's best run may come
       from a quieter moment of the machine than the other's, while the two
       runs of a round see much the same. */
    printf("The same, paired by round: the median of each round's own 2->2 over 1->1,\n"
           "and the middle half of the rounds' ratios (mproc: %d rounds, Boost: %d)\n",
           npair[0][0], npair[0][1]);
    for (int w = 0; w < 2; w++) {
        printf("  %-14s", names[w]);
        for (int si = 0; si < 3; si++) {
            int n = npair[si][w];
            printf(" %s ", si == 0 ? "64 B" : si == 1 ? "4 KiB" : "1 MiB");
            if (n > 0) {
                double *v = pair[si][w], m = median(v, n); /* sorts v */
                printf("%.2fx (%.2f-%.2f)", m, v[n / 4], v[(3 * n) / 4]);
            } else {
                printf("n/a");
            }
        }
        printf("\n");
    }
    printf("POSIX mq depth used:");
    for (int si = 0; si < 3; si++)
        printf(" %ld", mq_depth[si]);
    printf(" messages (the others: %ld, %ld, %ld)\n", depth(sizes[0]), depth(sizes[1]),
           depth(sizes[2]));
#ifndef MPROC_BOOST_PEER
    printf("Boost: n/a (the peer needs a C++ compiler and Boost's headers at configure time)\n");
#endif
    return 0;
}
