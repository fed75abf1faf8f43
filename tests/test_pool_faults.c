/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_pool_faults.c: the pool under injected faults: workers SIGKILLed,
 * stopped and continued at random with every outcome counted; the
 * supervisor killed from outside, with and without a subreaper owner; the
 * owner killed with busy workers; a pool used from a forked child.
 *
 * ctest-label: threads
 */
#include "test_pool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- tasks ---------------------------------------------------------------------- */

/* The pipes a blocking task uses: it writes one byte to started, then
   waits for one byte from release (both made before the pool, so the
   workers have them). */
static int started_wr = -1, release_rd = -1;

static int start_then_block(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    char c = 's';
    (void)!write(started_wr, &c, 1);
    while (read(release_rd, &c, 1) < 0 && errno == EINTR)
        ;
    return 0;
}

static int start_then_spin(const void *arg, size_t len, mproc_out *out)
{
    (void)arg;
    (void)len;
    (void)out;
    char c = 's';
    (void)!write(started_wr, &c, 1);
    for (volatile unsigned long k = 0;; k++)
        ;
    return 0;
}

typedef struct gates {
    int started[2], release[2];
} gates;

static void gates_open(gates *g)
{
    ck_assert_int_eq(pipe2(g->started, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(g->release, O_CLOEXEC), 0);
    started_wr = g->started[1];
    release_rd = g->release[0];
}

static void gates_close(gates *g)
{
    for (int i = 0; i < 2; i++) {
        close(g->started[i]);
        close(g->release[i]);
    }
}

/* Waits until n tasks said they started. */
static void wait_started(gates *g, int n)
{
    for (int i = 0; i < n; i++) {
        struct pollfd pf = { .fd = g->started[0], .events = POLLIN };
        ck_assert_int_eq(poll(&pf, 1, 20000), 1);
        char c;
        ck_assert_int_eq(read(g->started[0], &c, 1), 1);
    }
}

static pid_t supervisor_of_the_pool(void)
{
    pid_t kids[8];
    int n = mproc_procinfo_children(0, kids, 8);
    ck_assert_int_eq(n, 1);
    return kids[0];
}

/* ---- the supervisor killed from outside --------------------------------------------- */

/* Two tasks running (their workers known to be in them), five queued;
   then the supervisor is SIGKILLed. The running ones end MPROC_EWORKER
   with the signal their workers died of, the queued ones -EPIPE, later
   submissions -EPIPE; free leaves no process and no zombie. */
static void supervisor_killed_once(bool free_at_once)
{
    gates g;
    gates_open(&g);
    mproc_pool *p = pool_of(2);
    enum { RUNNING = 2, QUEUED = 5 };
    mproc_result *rs[RUNNING + QUEUED];
    for (int i = 0; i < RUNNING + QUEUED; i++)
        ASSERT_OK(mproc_pool_apply_async(p, start_then_block, NULL, 0, &rs[i]));
    wait_started(&g, RUNNING);
    pid_t sup = supervisor_of_the_pool();
    pid_t workers[RUNNING];
    ck_assert_int_eq(mproc_procinfo_children(sup, workers, RUNNING), RUNNING);
    ck_assert_int_eq(kill(sup, SIGKILL), 0);
    if (free_at_once) {
        /* The case of issue: free straight after, with nobody waiting. */
        mproc_pool_free(p);
        for (int i = 0; i < RUNNING + QUEUED; i++) {
            int rc = mproc_result_get(rs[i], 0, NULL, NULL);
            ck_assert(rc == MPROC_EWORKER || rc == -EPIPE || rc == -ECANCELED);
            mproc_result_free(rs[i]);
        }
    } else {
        for (int i = 0; i < RUNNING; i++) {
            ck_assert_int_eq(mproc_result_get(rs[i], -1, NULL, NULL), MPROC_EWORKER);
            ck_assert_int_eq(mproc_result_signal(rs[i]), SIGKILL);
        }
        for (int i = RUNNING; i < RUNNING + QUEUED; i++)
            ck_assert_int_eq(mproc_result_get(rs[i], -1, NULL, NULL), -EPIPE);
        mproc_result *late;
        ck_assert_int_eq(mproc_pool_apply_async(p, empty, NULL, 0, &late), -EPIPE);
        mproc_submit_opts o = { .timeout = 1 };
        ck_assert_int_eq(mproc_pool_submit(p, empty, NULL, 0, &o, &late), -EPIPE);
        for (int i = 0; i < RUNNING + QUEUED; i++)
            mproc_result_free(rs[i]);
        mproc_pool_free(p);
    }
    for (int i = 0; i < RUNNING; i++)
        ck_assert_msg(mproc_test_wait_gone(workers[i], 2.0), "worker %d outlived its supervisor",
                      (int)workers[i]);
    gates_close(&g);
}

START_TEST(supervisor_killed_running_fail_queued_epipe)
{
    supervisor_killed_once(false);
    ck_assert_int_eq(mproc_test_children(), 0);
}
END_TEST

/* Under a subreaper owner the dead supervisor's workers become the
   owner's children: they must be reaped, not left as zombies. */
START_TEST(supervisor_killed_under_subreaper_leaves_no_zombie)
{
    ASSERT_OK(mproc_subreaper(true));
    int zombies = 0;
    for (int cycle = 0; cycle < 20; cycle++) {
        supervisor_killed_once(cycle % 2 == 0);
        zombies += mproc_test_children();
    }
    ck_assert_int_eq(zombies, 0);
}
END_TEST

/* ---- the owner killed with busy workers --------------------------------------------- */

START_TEST(owner_killed_with_busy_workers)
{
    gates g;
    gates_open(&g);
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        mproc_pool *p;
        mproc_pool_opts o = { .processes = 2 };
        if (mproc_pool_new(&p, &o) < 0)
            _exit(1);
        for (int i = 0; i < 6; i++) {
            mproc_result *r;
            if (mproc_pool_apply_async(p, start_then_spin, NULL, 0, &r) < 0)
                _exit(2);
        }
        for (int i = 0; i < 2; i++) {
            char c;
            if (read(g.started[0], &c, 1) != 1)
                _exit(3);
        }
        pid_t all[3] = { 0 };
        if (mproc_procinfo_children(0, all, 1) != 1 || mproc_procinfo_children(all[0], all + 1, 2) != 2)
            _exit(4);
        if (write(fds[1], all, sizeof all) != (ssize_t)sizeof all)
            _exit(5);
        for (;;)
            pause();
    }
    pid_t all[3];
    ck_assert_int_eq(read(fds[0], all, sizeof all), (ssize_t)sizeof all);
    kill(owner, SIGKILL);
    int st;
    ck_assert_int_eq(waitpid(owner, &st, 0), owner);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(mproc_test_wait_gone(all[i], 2.0), "pool process %d outlived its owner",
                      (int)all[i]);
    close(fds[0]);
    close(fds[1]);
    gates_close(&g);
}
END_TEST

/* ---- a pool used from a forked child -------------------------------------------------- */

static void on_any(mproc_result *r, void *cookie)
{
    (void)r;
    (void)cookie;
}

/* In the child: every call on the parent's pool, results, map and
   iterator is refused; its own pool works. Returns the number of calls
   that were not refused. */
static int child_uses_parent_pool(mproc_pool *p, mproc_result *r, mproc_map *m, mproc_iter *it)
{
    int bad = 0;
    int v = 1;
    mproc_result *x;
    mproc_map *mx;
    mproc_iter *ix;
    mproc_item item;
    mproc_submit_opts so = { 0 };
    bad += mproc_pool_apply_async(p, echo, &v, sizeof v, &x) != -EINVAL;
    bad += mproc_pool_submit(p, echo, &v, sizeof v, &so, &x) != -EINVAL;
    bad += mproc_pool_apply(p, echo, &v, sizeof v, NULL, NULL) != -EINVAL;
    bad += mproc_pool_map(p, echo, &v, sizeof v, 1, 0, &mx) != -EINVAL;
    bad += mproc_pool_imap(p, echo, &v, sizeof v, 1, 0, &ix) != -EINVAL;
    bad += mproc_pool_imap_unordered(p, echo, &v, sizeof v, 1, 0, &ix) != -EINVAL;
    bad += mproc_result_wait(r, 0) != -EINVAL;
    bad += mproc_result_get(r, 0, NULL, NULL) != -EINVAL;
    bad += mproc_result_ready(r) != false;
    bad += mproc_result_code(r) != -EINVAL;
    bad += mproc_result_signal(r) != -EINVAL;
    bad += mproc_result_wait_any(&r, 1, 0) != -EINVAL;
    bad += mproc_result_on_ready(r, on_any, on_any, NULL) != -EINVAL;
    bad += mproc_map_count(m) != 0;
    bad += mproc_map_get(m, 0, NULL, NULL) != -EINVAL;
    bad += mproc_map_error(m, NULL) != -EINVAL;
    bad += mproc_iter_next(it, 0, &item) != -EINVAL;
    bad += mproc_pool_close(p) != -EINVAL;
    bad += mproc_pool_terminate(p) != -EINVAL;
    bad += mproc_pool_join(p) != -EINVAL;
    /* The frees do nothing here: the objects are the parent's. */
    mproc_result_free(r);
    mproc_map_free(m);
    mproc_iter_free(it);
    mproc_pool_free(p);
    /* A pool of the child's own is the child's. */
    mproc_pool *own;
    mproc_pool_opts o = { .processes = 1 };
    if (mproc_pool_new(&own, &o) < 0)
        return bad + 100;
    void *d = NULL;
    bad += mproc_pool_apply(own, echo, &v, sizeof v, &d, NULL) != 0;
    free(d);
    mproc_pool_free(own);
    return bad;
}

START_TEST(forked_child_is_refused_and_owner_undisturbed)
{
    mproc_pool *p = pool_of(2);
    int v = 5;
    mproc_result *r;
    ASSERT_OK(mproc_pool_apply_async(p, echo, &v, sizeof v, &r));
    ASSERT_OK(mproc_result_wait(r, -1));
    int items[100];
    for (int i = 0; i < 100; i++)
        items[i] = i;
    mproc_map *m;
    ASSERT_OK(mproc_pool_map(p, echo, items, sizeof items[0], 100, 7, &m));
    mproc_iter *it;
    ASSERT_OK(mproc_pool_imap(p, echo, items, sizeof items[0], 100, 3, &it));
    /* Tasks queued but not yet collected when the child is forked. */
    enum { N = 5000 };
    mproc_result **rs = malloc(N * sizeof *rs);
    for (int i = 0; i < N / 2; i++)
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &rs[i]));
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(child_uses_parent_pool(p, r, m, it) > 0 ? 1 : 0);
    int st;
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's calls were not all refused");
    /* The owner's pool is whole: every task, before and after, has its
       outcome; the map, the iterator and the old result are intact. */
    for (int i = N / 2; i < N; i++)
        ASSERT_OK(mproc_pool_apply_async(p, echo, &i, sizeof i, &rs[i]));
    for (int i = 0; i < N; i++) {
        const void *d;
        size_t n;
        ck_assert_int_eq(mproc_result_get(rs[i], 10, &d, &n), 0);
        ck_assert_uint_eq(n, sizeof(int));
        ck_assert_int_eq(*(const int *)d, i);
        mproc_result_free(rs[i]);
    }
    free(rs);
    const void *d;
    ck_assert_int_eq(mproc_result_get(r, 0, &d, NULL), 0);
    ck_assert_int_eq(*(const int *)d, 5);
    mproc_result_free(r);
    ck_assert_uint_eq(mproc_map_count(m), 100);
    ck_assert_int_eq(mproc_map_error(m, NULL), 0);
    mproc_map_free(m);
    mproc_item item;
    int seen = 0;
    while (mproc_iter_next(it, 10, &item) == 1) {
        ck_assert_int_eq(item.code, 0);
        ck_assert_int_eq(*(const int *)item.data, (int)item.index);
        seen++;
    }
    ck_assert_int_eq(seen, 100);
    mproc_iter_free(it);
    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_join(p));
    mproc_pool_free(p);
}
END_TEST

/* ---- random SIGKILL and SIGSTOP/SIGCONT of workers ------------------------------------- */

enum { MAX_TASKS = 20000, ROUNDS = 40 };

/* MAP_SHARED, made before the pool: what the workers say about each task. */
typedef struct ledger {
    _Atomic uint32_t runs[MAX_TASKS];  /* how many times task i started */
    _Atomic int32_t by[MAX_TASKS];     /* the pid of the worker that started it */
} ledger;

static ledger *led;

static int counted(const void *arg, size_t len, mproc_out *out)
{
    uint32_t i;
    if (len != sizeof i)
        return -1;
    memcpy(&i, arg, sizeof i);
    if (i >= MAX_TASKS)
        return -1;
    atomic_store(&led->by[i], (int32_t)getpid());
    atomic_fetch_add(&led->runs[i], 1);
    /* A few microseconds of work, so that kills land inside tasks. */
    for (volatile int k = 0; k < 20000; k++)
        ;
    return mproc_out_write(out, &i, sizeof i);
}

typedef struct injector {
    pid_t sup;
    pid_t killed[ROUNDS];
    int nkilled, nstopped;
    _Atomic bool done;
} injector;

static void nap_us(long us)
{
    struct timespec ts = { 0, us * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Each round SIGKILLs one random worker and stops another for a moment. */
static void *inject(void *arg)
{
    injector *in = arg;
    unsigned seed = 12345;
    for (int round = 0; round < ROUNDS; round++) {
        pid_t kids[16];
        int n = mproc_procinfo_children(in->sup, kids, 16);
        /* Right after a kill every worker may be on its way to be replaced. */
        for (int tries = 0; n <= 0 && tries < 5000; tries++) {
            nap_us(200);
            n = mproc_procinfo_children(in->sup, kids, 16);
        }
        if (n > 16)
            n = 16;
        if (n > 0) {
            pid_t victim = kids[rand_r(&seed) % (unsigned)n];
            in->killed[in->nkilled++] = victim;
            kill(victim, SIGKILL);
            pid_t sleeper = kids[rand_r(&seed) % (unsigned)n];
            if (sleeper != victim && kill(sleeper, SIGSTOP) == 0) {
                in->nstopped++;
                nap_us(500);
                kill(sleeper, SIGCONT);
            }
        }
        nap_us(2000);
    }
    atomic_store(&in->done, true);
    return NULL;
}

static bool was_killed(const injector *in, pid_t pid)
{
    for (int i = 0; i < in->nkilled; i++)
        if (in->killed[i] == pid)
            return true;
    return false;
}

START_TEST(random_kills_and_stops_every_outcome_counted)
{
    led = mmap(NULL, sizeof *led, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(led, MAP_FAILED);
    mproc_pool *p = pool_of(3);
    injector in = { .sup = supervisor_of_the_pool() };
    mproc_result **rs = calloc(MAX_TASKS, sizeof *rs);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, inject, &in), 0);
    /* Tasks keep coming while the faults do. */
    uint32_t n = 0;
    while (n < MAX_TASKS && (n < 200 || !atomic_load(&in.done))) {
        ASSERT_OK(mproc_pool_apply_async(p, counted, &n, sizeof n, &rs[n]));
        n++;
        if (n % 64 == 0)
            mproc_result_wait(rs[n - 64], -1); /* keep a window, not a flood */
    }
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ASSERT_OK(mproc_pool_close(p));
    ASSERT_OK(mproc_pool_join(p));
    int ok = 0, lost_to_kills = 0;
    for (uint32_t i = 0; i < n; i++) {
        ck_assert(mproc_result_ready(rs[i]));
        const void *d;
        size_t len;
        int rc = mproc_result_get(rs[i], 0, &d, &len);
        uint32_t runs = atomic_load(&led->runs[i]);
        if (rc == 0) {
            ck_assert_uint_eq(len, sizeof i);
            ck_assert_uint_eq(*(const uint32_t *)d, i);
            ck_assert_msg(runs == 1, "task %u ran %u times", i, runs);
            ok++;
        } else {
            ck_assert_msg(rc == MPROC_EWORKER, "task %u: %s", i, mproc_strerror(rc));
            ck_assert_int_eq(mproc_result_signal(rs[i]), SIGKILL);
            /* 0 runs: its worker was killed between claiming it and
               calling it. */
            ck_assert_msg(runs <= 1, "task %u failed and ran %u times", i, runs);
            ck_assert_msg(runs == 0 || was_killed(&in, atomic_load(&led->by[i])),
                          "task %u failed in worker %d, which was not killed", i,
                          (int)atomic_load(&led->by[i]));
            lost_to_kills++;
        }
        mproc_result_free(rs[i]);
    }
    ck_assert_int_eq(ok + lost_to_kills, (int)n);
    ck_assert_int_eq(in.nkilled, ROUNDS);
    ck_assert_int_le(lost_to_kills, in.nkilled);
    free(rs);
    mproc_pool_free(p);
    munmap(led, sizeof *led);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pool faults", 60);
    tcase_add_test(tc, supervisor_killed_running_fail_queued_epipe);
    tcase_add_test(tc, supervisor_killed_under_subreaper_leaves_no_zombie);
    tcase_add_test(tc, owner_killed_with_busy_workers);
    tcase_add_test(tc, forked_child_is_refused_and_owner_undisturbed);
    tcase_add_test(tc, random_kills_and_stops_every_outcome_counted);
}
