/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* stress.c: the soak (`make stress`, not part of check): for the seconds
 * given, rounds of mixed work through every mechanism at once, with faults
 * injected, every outcome checked, and at the end the operations, the
 * errors and what the process grew by (memory, descriptors, children,
 * /dev/shm) printed.
 *
 * A round: a batch of pool tasks, of which some fail on purpose and some
 * kill their own worker (each must end as exactly that outcome); messages
 * through a queue to an echoing child and back; messages of up to 256 KiB
 * through a pipe to an echoing child and back; two processes started that
 * count under a shared lock (the total must be exact); a named shared
 * block made, attached and removed. The echo children live the whole run,
 * so their growth shows too.
 */
#include <mproc.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define TASKS 64     /* pool tasks per round */
#define QMSGS 200    /* queue messages per round */
#define PMSGS 50     /* pipe messages per round */
#define COUNTS 2000  /* increments per counting process per round */
#define MAX_PIPE_MSG (256 * 1024)

static struct {
    unsigned long rounds, tasks, task_fail, worker_kill, qmsgs, pmsgs, procs, lock_ops, shm;
    unsigned long errors;
} st;

static void error(const char *what, int r)
{
    st.errors++;
    if (st.errors <= 20)
        fprintf(stderr, "stress: %s: %d (%s)\n", what, r, r < 0 ? strerror(-r) : "");
}

/* ---- what the process holds, for growth ----------------------------------------- */

static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            kb = atol(line + n + 1);
            break;
        }
    fclose(f);
    return kb;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- pool ----------------------------------------------------------------------- */

/* arg: an int. 0 mod 29: the worker kills itself; 0 mod 13: fails with
   the value; else the square. */
static int task(const void *arg, size_t len, mproc_out *out)
{
    (void)len;
    int v = *(const int *)arg;
    if (v % 29 == 0)
        raise(SIGKILL);
    if (v % 13 == 0)
        return v;
    long sq = (long)v * v;
    return mproc_out_write(out, &sq, sizeof sq);
}

static void pool_round(mproc_pool *pool, int base)
{
    mproc_result *r[TASKS];
    int args[TASKS];
    for (int i = 0; i < TASKS; i++) {
        args[i] = base + i + 1;
        int e = mproc_pool_apply_async(pool, task, &args[i], sizeof args[i], &r[i]);
        if (e < 0) {
            error("pool_apply_async", e);
            r[i] = NULL;
        }
    }
    for (int i = 0; i < TASKS; i++) {
        if (!r[i])
            continue;
        const void *data;
        size_t len;
        int e = mproc_result_get(r[i], 60, &data, &len);
        int v = args[i];
        if (v % 29 == 0) {
            if (e != MPROC_EWORKER || mproc_result_signal(r[i]) != SIGKILL)
                error("killed worker's task outcome", e);
            st.worker_kill++;
        } else if (v % 13 == 0) {
            if (e != MPROC_ETASK || mproc_result_code(r[i]) != v)
                error("failing task outcome", e);
            st.task_fail++;
        } else if (e != 0 || len != sizeof(long) || *(const long *)data != (long)v * v) {
            error("task result", e);
        }
        st.tasks++;
        mproc_result_free(r[i]);
    }
}

/* ---- queue: an echoing child ------------------------------------------------------ */

typedef struct {
    mproc_queue *to, *from;
} qpair;

static int queue_echo(void *arg)
{
    qpair *q = arg;
    unsigned char buf[4096];
    for (;;) {
        size_t len;
        int r = mproc_queue_get(q->to, buf, sizeof buf, &len, -1);
        if (r == -EPIPE)
            return 0; /* closed: the run is over */
        if (r < 0 || mproc_queue_put(q->from, buf, len, -1) < 0)
            return 1;
    }
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 31);
}

static void queue_round(qpair *q, unsigned seed)
{
    unsigned char out[4096], in[4096];
    for (int i = 0; i < QMSGS; i++) {
        size_t n = (seed + (unsigned)i * 97) % 2000;
        fill(out, n, seed + (unsigned)i);
        int r = mproc_queue_put(q->to, out, n, 30);
        size_t len = 0;
        if (r == 0)
            r = mproc_queue_get(q->from, in, sizeof in, &len, 30);
        if (r != 0 || len != n || memcmp(in, out, n))
            error("queue echo", r);
        st.qmsgs++;
    }
}

/* ---- pipe: an echoing child -------------------------------------------------------- */

typedef struct {
    mproc_pipe *mine, *other;
} ends;

static int pipe_echo(void *arg)
{
    ends *e = arg;
    mproc_pipe *p = e->mine;
    mproc_pipe_free(e->other); /* else our copy keeps the pipe open */
    for (;;) {
        void *data;
        size_t len;
        int r = mproc_pipe_recv(p, &data, &len, -1);
        if (r == -EPIPE)
            return 0;
        if (r < 0)
            return 1;
        r = mproc_pipe_send(p, data, len, -1);
        free(data);
        if (r < 0)
            return 2;
    }
}

static void pipe_round(mproc_pipe *p, unsigned seed, unsigned char *out)
{
    for (int i = 0; i < PMSGS; i++) {
        size_t n = i == 0 ? MAX_PIPE_MSG : (seed * 7 + (unsigned)i * 1013) % 70000;
        fill(out, n, seed ^ (unsigned)i);
        int r = mproc_pipe_send(p, out, n, 30);
        void *in = NULL;
        size_t len = 0;
        if (r == 0)
            r = mproc_pipe_recv(p, &in, &len, 30);
        if (r != 0 || len != n || memcmp(in, out, n))
            error("pipe echo", r);
        free(in);
        st.pmsgs++;
    }
}

/* ---- processes counting under a lock ------------------------------------------------ */

typedef struct {
    mproc_lock lock;
    long counter;
} counted;

static int count_under_lock(void *arg)
{
    counted *c = arg;
    for (int i = 0; i < COUNTS; i++) {
        if (mproc_lock_acquire(&c->lock, 30) != 0)
            return 1;
        c->counter++;
        mproc_lock_release(&c->lock);
    }
    return 0;
}

static void lock_round(counted *c)
{
    long before = c->counter;
    mproc_process *p[2] = { NULL, NULL };
    for (int i = 0; i < 2; i++) {
        int r = mproc_process_new(&p[i], count_under_lock, c, NULL);
        if (r == 0)
            r = mproc_process_start(p[i]);
        if (r < 0)
            error("process start", r);
    }
    for (int i = 0; i < 2; i++) {
        int code = -1;
        if (mproc_process_join(p[i], 60) != 0 || mproc_process_exitcode(p[i], &code) != 1 ||
            code != 0)
            error("counting process", code);
        mproc_process_free(p[i]);
        st.procs++;
    }
    if (c->counter - before != 2 * COUNTS)
        error("lock count", (int)(c->counter - before));
    st.lock_ops += 2 * COUNTS;
}

/* ---- a named block ------------------------------------------------------------------ */

static void shm_round(unsigned seed)
{
    char name[64];
    snprintf(name, sizeof name, "mproc-stress-%d", (int)getpid());
    mproc_shm *a = NULL, *b = NULL;
    int r = mproc_shm_create(&a, name, 65536, NULL);
    if (r == 0)
        r = mproc_shm_attach(&b, name);
    if (r == 0) {
        fill(mproc_shm_ptr(a), 65536, seed);
        if (memcmp(mproc_shm_ptr(a), mproc_shm_ptr(b), 65536))
            r = -EPROTO;
    }
    if (r != 0)
        error("named shm", r);
    mproc_shm_unlink(name);
    mproc_shm_free(a);
    mproc_shm_free(b);
    st.shm++;
}

/* ---- the run ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 60;
    if (!(seconds > 0)) {
        fprintf(stderr, "usage: stress SECONDS\n");
        return 2;
    }
    int rc = 1;
    mproc_pool *pool = NULL;
    qpair q = { NULL, NULL };
    mproc_pipe *pa = NULL, *pb = NULL;
    mproc_process *qecho = NULL, *pecho = NULL;
    mproc_shm *cblk = NULL;
    unsigned char *buf = malloc(MAX_PIPE_MSG);
    int fds0 = count_dir("/proc/self/fd"), shm0 = count_dir("/dev/shm");

    mproc_pool_opts po = { .processes = 2 };
    mproc_queue_opts qo = { .bytes = 1 << 16 };
    int r = mproc_pool_new(&pool, &po);
    if (r == 0)
        r = mproc_queue_new(&q.to, &qo);
    if (r == 0)
        r = mproc_queue_new(&q.from, &qo);
    if (r == 0)
        r = mproc_shm_new(&cblk, sizeof(counted));
    if (r == 0)
        r = mproc_lock_init(&((counted *)mproc_shm_ptr(cblk))->lock);
    if (r == 0)
        r = mproc_process_new(&qecho, queue_echo, &q, NULL);
    if (r == 0)
        r = mproc_process_start(qecho);
    /* The pipe after the queue's child, which would hold it open. */
    if (r == 0)
        r = mproc_pipe_new(&pa, &pb, NULL);
    ends pe = { pb, pa };
    if (r == 0)
        r = mproc_process_new(&pecho, pipe_echo, &pe, NULL);
    if (r == 0)
        r = mproc_process_start(pecho);
    if (r < 0 || !buf) {
        fprintf(stderr, "stress: setup: %s\n", strerror(r < 0 ? -r : ENOMEM));
        goto out;
    }
    mproc_pipe_free(pb); /* the echo child's end */
    pb = NULL;

    double t0 = bench_now(), end = t0 + seconds, next_report = t0 + 60;
    long rss0 = -1, qrss0 = -1, prss0 = -1;
    while (bench_now() < end) {
        unsigned seed = (unsigned)st.rounds;
        pool_round(pool, (int)(st.rounds * TASKS));
        queue_round(&q, seed);
        pipe_round(pa, seed, buf);
        lock_round(mproc_shm_ptr(cblk));
        shm_round(seed);
        st.rounds++;
        if (rss0 < 0 && st.rounds >= 10 && bench_now() >= t0 + seconds / 10) {
            /* Growth is measured from a tenth of the way in (ten rounds at
               least), once every path has run, the caches are warm and
               malloc has settled its thresholds: what grows after that is
               what a longer run would keep growing. */
            rss0 = status_kb(getpid(), "VmRSS");
            qrss0 = status_kb(mproc_process_pid(qecho), "VmRSS");
            prss0 = status_kb(mproc_process_pid(pecho), "VmRSS");
        }
        if (bench_now() >= next_report) {
            printf("stress: %.0f s, %lu rounds, %lu errors, RSS %ld KiB\n", bench_now() - t0,
                   st.rounds, st.errors, status_kb(getpid(), "VmRSS"));
            fflush(stdout);
            next_report += 60;
        }
    }
    double took = bench_now() - t0;
    long rss1 = status_kb(getpid(), "VmRSS");
    long qrss1 = status_kb(mproc_process_pid(qecho), "VmRSS");
    long prss1 = status_kb(mproc_process_pid(pecho), "VmRSS");

    /* The echo children end at end of input. */
    mproc_queue_close(q.to);
    mproc_pipe_close(pa);
    int qc = -1, pc = -1;
    if (mproc_process_join(qecho, 30) != 0 || mproc_process_exitcode(qecho, &qc) != 1 || qc != 0)
        error("queue echo child", qc);
    if (mproc_process_join(pecho, 30) != 0 || mproc_process_exitcode(pecho, &pc) != 1 || pc != 0)
        error("pipe echo child", pc);
    mproc_pool_close(pool);
    mproc_pool_join(pool);

    printf("stress: %.1f s, %lu rounds\n", took, st.rounds);
    printf("  pool tasks      %10lu  (%lu failing on purpose, %lu worker kills injected;"
           " every outcome as expected unless counted below)\n",
           st.tasks, st.task_fail, st.worker_kill);
    printf("  queue messages  %10lu  (echoed through a child)\n", st.qmsgs);
    printf("  pipe messages   %10lu  (echoed, up to %d KiB)\n", st.pmsgs, MAX_PIPE_MSG / 1024);
    printf("  processes       %10lu  (%lu lock acquisitions, total exact)\n", st.procs,
           st.lock_ops);
    printf("  named blocks    %10lu\n", st.shm);
    printf("  operations      %10lu  (%.0f per second)\n",
           st.tasks + st.qmsgs + st.pmsgs + st.procs + st.lock_ops + st.shm,
           (double)(st.tasks + st.qmsgs + st.pmsgs + st.procs + st.lock_ops + st.shm) / took);
    printf("  errors          %10lu\n", st.errors);
    printf("  RSS growth      %10ld KiB after the first tenth (this process: %ld -> %ld KiB;"
           " queue echo %ld -> %ld; pipe echo %ld -> %ld)\n",
           rss1 - rss0, rss0, rss1, qrss0, qrss1, prss0, prss1);
    rc = st.errors ? 1 : 0;
out:
    mproc_pool_free(pool);
    mproc_process_free(qecho);
    mproc_process_free(pecho);
    mproc_queue_free(q.to);
    mproc_queue_free(q.from);
    mproc_pipe_free(pa);
    mproc_pipe_free(pb);
    mproc_shm_free(cblk);
    free(buf);
    int fds1 = count_dir("/proc/self/fd"), shm1 = count_dir("/dev/shm");
    /* No child at all, running or zombie: waitid finds none to wait for. */
    siginfo_t si;
    bool kids = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
    printf("  left behind     descriptors %+d, children %s, /dev/shm entries %+d"
           " (others' too)\n",
           fds1 - fds0, kids ? "SOME" : "none", shm1 - shm0);
    if (fds1 != fds0 || kids)
        rc = 1;
    return rc;
}
