/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_rsem.c: the robust named semaphore: units come back from holders
 * killed with SIGKILL, never more than count holders, timeouts, bad input,
 * and the name gone from /dev/shm with the last user.
 * ctest-label: threads */
#include "test_ipc_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

static char name_[64];

/* This case's name; the harness checks that /dev/shm holds none of it. */
static const char *nm(void)
{
    snprintf(name_, sizeof name_, "mproc-test-rsem-%d", (int)getpid());
    return name_;
}

static bool name_exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return access(path, F_OK) == 0;
}

START_TEST(counts_and_errors)
{
    mproc_rsem *s = NULL;
    ASSERT_OK(mproc_rsem_open(&s, nm(), 3));
    ck_assert(name_exists(nm()));
    ck_assert_int_eq(mproc_rsem_count(s), 3);
    ck_assert_int_eq(mproc_rsem_value(s), 3);
    ck_assert_int_eq(mproc_rsem_release(s), -EPERM);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(mproc_rsem_acquire(s, 0));
    ck_assert_int_eq(mproc_rsem_value(s), 0);
    ck_assert_int_eq(mproc_rsem_acquire(s, 0), -ETIMEDOUT);
    ck_assert_int_eq(mproc_rsem_wait_idle(s, 0), -ETIMEDOUT);
    ASSERT_OK(mproc_rsem_release(s));
    ck_assert_int_eq(mproc_rsem_value(s), 1);
    ASSERT_OK(mproc_rsem_release(s));
    ASSERT_OK(mproc_rsem_release(s));
    ck_assert_int_eq(mproc_rsem_release(s), -EPERM);
    ASSERT_OK(mproc_rsem_wait_idle(s, 0));
    /* A second handle sees the same units and keeps the first count. */
    mproc_rsem *t = NULL;
    ASSERT_OK(mproc_rsem_open(&t, nm(), 7));
    ck_assert_int_eq(mproc_rsem_count(t), 3);
    ASSERT_OK(mproc_rsem_acquire(t, 0));
    ck_assert_int_eq(mproc_rsem_value(s), 2);
    mproc_rsem_close(t); /* gives back the unit it held */
    ck_assert_int_eq(mproc_rsem_value(s), 3);
    ck_assert(name_exists(nm()));
    mproc_rsem_close(s);
    ck_assert(!name_exists(nm()));
}
END_TEST

START_TEST(bad_input)
{
    mproc_rsem *s = NULL;
    ck_assert_int_eq(mproc_rsem_open(NULL, nm(), 1), -EINVAL);
    ck_assert_int_eq(mproc_rsem_open(&s, NULL, 1), -EINVAL);
    ck_assert_int_eq(mproc_rsem_open(&s, "a/b", 1), -EINVAL);
    ck_assert_int_eq(mproc_rsem_open(&s, "", 1), -EINVAL);
    ck_assert_int_eq(mproc_rsem_open(&s, nm(), MPROC_RSEM_MAX + 1), -EINVAL);
    ck_assert_int_eq(mproc_rsem_open(&s, nm(), 0), -ENOENT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mproc_rsem_acquire(NULL, 0), -EINVAL);
    ck_assert_int_eq(mproc_rsem_release(NULL), -EINVAL);
    ck_assert_int_eq(mproc_rsem_value(NULL), -EINVAL);
    ck_assert_int_eq(mproc_rsem_count(NULL), -EINVAL);
    ck_assert_int_eq(mproc_rsem_wait_idle(NULL, 0), -EINVAL);
    mproc_rsem_close(NULL);
    ck_assert_int_eq(mproc_rsem_unlink(nm()), -ENOENT);
    /* A plain shared block under the name is not a semaphore. */
    mproc_shm *b = NULL;
    ASSERT_OK(mproc_shm_create(&b, nm(), 4096, NULL));
    ck_assert_int_eq(mproc_rsem_open(&s, nm(), 1), -EINVAL);
    ASSERT_OK(mproc_shm_unlink(nm()));
    mproc_shm_free(b);
    ASSERT_OK(mproc_rsem_open(&s, nm(), MPROC_RSEM_MAX));
    ck_assert_int_eq(mproc_rsem_value(s), MPROC_RSEM_MAX);
    ck_assert_int_eq(mproc_rsem_acquire(s, NAN), -EINVAL);
    ASSERT_OK(mproc_rsem_unlink(nm()));
    ck_assert(!name_exists(nm()));
    ASSERT_OK(mproc_rsem_acquire(s, 0)); /* works on without its name */
    mproc_rsem_close(s);
}
END_TEST

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(timeouts_never_early)
{
    mproc_rsem *s = NULL;
    ASSERT_OK(mproc_rsem_open(&s, nm(), 1));
    ASSERT_OK(mproc_rsem_acquire(s, -1));
    double t0 = mono();
    ck_assert_int_eq(mproc_rsem_acquire(s, 0.2), -ETIMEDOUT);
    ck_assert(mono() - t0 >= 0.2);
    t0 = mono();
    ck_assert_int_eq(mproc_rsem_wait_idle(s, 0.1), -ETIMEDOUT);
    ck_assert(mono() - t0 >= 0.1);
    ASSERT_OK(mproc_rsem_release(s));
    mproc_rsem_close(s);
}
END_TEST

/* ---- holders killed --------------------------------------------------------- */

typedef struct {
    mproc_test_gate gate;
    char name[64];
    _Atomic int inside, worst;
} shared;

static shared *sh_new(mproc_shm **blk)
{
    ASSERT_OK(mproc_shm_new(blk, sizeof(shared)));
    shared *sh = mproc_shm_ptr(*blk);
    mproc_test_gate_open(&sh->gate);
    snprintf(sh->name, sizeof sh->name, "%s", nm());
    return sh;
}

static void sh_free(mproc_shm *blk)
{
    mproc_test_gate_close(&((shared *)mproc_shm_ptr(blk))->gate);
    mproc_shm_free(blk);
}

/* Open by name, take a unit, say so, and hold it until killed. */
static int hold_forever(void *arg)
{
    shared *sh = arg;
    mproc_rsem *s = NULL;
    if (mproc_rsem_open(&s, sh->name, 0) != 0 || mproc_rsem_acquire(s, -1) != 0)
        return 1;
    mproc_test_gate_signal(&sh->gate);
    for (;;)
        pause();
}

/* Wait for a unit (the test kills its holder meanwhile), then say so. */
static int wait_then_signal(void *arg)
{
    shared *sh = arg;
    mproc_rsem *s = NULL;
    if (mproc_rsem_open(&s, sh->name, 0) != 0 || mproc_rsem_acquire(s, 60) != 0)
        return 1;
    mproc_test_gate_signal(&sh->gate);
    mproc_rsem_close(s);
    return 0;
}

/* Whether the kernel has futex_waitv (Linux 5.16), by a call it refuses. */
static bool have_waitv(void)
{
    return syscall(449, NULL, 0, 0, NULL, 0) < 0 && errno != ENOSYS;
}

/* Wait (polling /proc, up to 10 s) until pid sleeps in system call nr. */
static bool sleeps_in(pid_t pid, long nr)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    for (int i = 0; i < 5000; i++) {
        FILE *f = fopen(path, "re");
        long got = -1;
        if (f) {
            if (fgets(buf, sizeof buf, f))
                got = strtol(buf, NULL, 10);
            fclose(f);
        }
        if (got == nr)
            return true;
        mproc_test_nap();
    }
    return false;
}

START_TEST(killed_holders_give_units_back_in_a_loop)
{
    mproc_shm *blk;
    shared *sh = sh_new(&blk);
    mproc_rsem *s = NULL;
    ASSERT_OK(mproc_rsem_open(&s, nm(), 2));
    for (int round = 0; round < 25; round++) {
        pid_t a = ipc_spawn(hold_forever, sh), b = ipc_spawn(hold_forever, sh);
        ck_assert(mproc_test_gate_wait(&sh->gate, 10));
        ck_assert(mproc_test_gate_wait(&sh->gate, 10));
        ck_assert_int_eq(mproc_rsem_value(s), 0);
        ck_assert_int_eq(mproc_rsem_acquire(s, 0), -ETIMEDOUT);
        /* A waiter already asleep is woken by the holder's death: it
           sleeps in futex_waitv with no slice, so only the death can wake
           it before its 60 s. */
        pid_t w = ipc_spawn(wait_then_signal, sh);
        if (have_waitv())
            ck_assert(sleeps_in(w, 449));
        ipc_kill(a);
        ck_assert(mproc_test_gate_wait(&sh->gate, 30));
        ck_assert_int_eq(ipc_reap(w), 0);
        ipc_kill(b);
        /* Both units are back, and no more than both. */
        ASSERT_OK(mproc_rsem_acquire(s, 30));
        ASSERT_OK(mproc_rsem_acquire(s, 30));
        ck_assert_int_eq(mproc_rsem_acquire(s, 0), -ETIMEDOUT);
        ASSERT_OK(mproc_rsem_release(s));
        ASSERT_OK(mproc_rsem_release(s));
        ck_assert_int_eq(mproc_rsem_value(s), 2);
    }
    mproc_rsem_close(s);
    ck_assert(!name_exists(nm()));
    sh_free(blk);
}
END_TEST

#define ROUNDS 300
#define UNITS 2

static void hammer(shared *sh, mproc_rsem *s)
{
    for (int i = 0; i < ROUNDS; i++) {
        ck_assert_int_eq(mproc_rsem_acquire(s, 60), 0);
        int now = atomic_fetch_add(&sh->inside, 1) + 1;
        int w = atomic_load(&sh->worst);
        while (now > w && !atomic_compare_exchange_weak(&sh->worst, &w, now)) {
        }
        sched_yield();
        atomic_fetch_sub(&sh->inside, 1);
        ck_assert_int_eq(mproc_rsem_release(s), 0);
    }
}

static int hammer_proc(void *arg)
{
    shared *sh = arg;
    mproc_rsem *s = NULL;
    if (mproc_rsem_open(&s, sh->name, UNITS) != 0)
        return 1;
    hammer(sh, s);
    mproc_rsem_close(s);
    return 0;
}

static mproc_rsem *thread_sem;
static shared *thread_sh;

static void *hammer_thread(void *arg)
{
    (void)arg;
    hammer(thread_sh, thread_sem);
    return NULL;
}

START_TEST(never_more_holders_than_units)
{
    mproc_shm *blk;
    shared *sh = sh_new(&blk);
    mproc_rsem *s = NULL;
    ASSERT_OK(mproc_rsem_open(&s, nm(), UNITS));
    pid_t kids[4];
    for (int i = 0; i < 4; i++)
        kids[i] = ipc_spawn(hammer_proc, sh);
    thread_sem = s;
    thread_sh = sh;
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer_thread, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_le(atomic_load(&sh->worst), UNITS);
    ck_assert_int_ge(atomic_load(&sh->worst), 1);
    ck_assert_int_eq(mproc_rsem_value(s), UNITS);
    mproc_rsem_close(s);
    sh_free(blk);
}
END_TEST

/* ---- threads own units -------------------------------------------------------- */

static void *take_and_leave(void *arg)
{
    return (void *)(intptr_t)mproc_rsem_acquire(arg, 0);
}

static void *release_other(void *arg)
{
    return (void *)(intptr_t)mproc_rsem_release(arg);
}

START_TEST(units_belong_to_threads)
{
    mproc_rsem *s = NULL;
    ASSERT_OK(mproc_rsem_open(&s, nm(), 2));
    ASSERT_OK(mproc_rsem_acquire(s, 0));
    pthread_t t;
    void *ret;
    /* Another thread cannot release our unit. */
    ck_assert_int_eq(pthread_create(&t, NULL, release_other, s), 0);
    pthread_join(t, &ret);
    ck_assert_int_eq((int)(intptr_t)ret, -EPERM);
    /* A thread that ends holding a unit gives it back. */
    ck_assert_int_eq(pthread_create(&t, NULL, take_and_leave, s), 0);
    pthread_join(t, &ret);
    ck_assert_int_eq((int)(intptr_t)ret, 0);
    ASSERT_OK(mproc_rsem_acquire(s, 30));
    ck_assert_int_eq(mproc_rsem_value(s), 0);
    ASSERT_OK(mproc_rsem_release(s));
    ASSERT_OK(mproc_rsem_release(s));
    mproc_rsem_close(s);
}
END_TEST

/* ---- when the name goes ---------------------------------------------------------- */

static int open_and_wait(void *arg)
{
    shared *sh = arg;
    mproc_rsem *s = NULL;
    if (mproc_rsem_open(&s, sh->name, 1) != 0)
        return 1;
    mproc_test_gate_signal(&sh->gate);
    for (;;)
        pause();
}

static int close_inherited(void *arg)
{
    mproc_rsem_close(arg);
    return 0;
}

START_TEST(name_goes_with_the_last_user)
{
    mproc_shm *blk;
    shared *sh = sh_new(&blk);
    mproc_rsem *s = NULL;
    /* Another process still has it open: our close leaves the name. */
    pid_t other = ipc_spawn(open_and_wait, sh);
    ck_assert(mproc_test_gate_wait(&sh->gate, 10));
    ASSERT_OK(mproc_rsem_open(&s, nm(), 0));
    mproc_rsem_close(s);
    ck_assert(name_exists(nm()));
    /* The last user died without closing: the name stays, every unit
       free, until the next user closes it. */
    ipc_kill(other);
    ck_assert(name_exists(nm()));
    ASSERT_OK(mproc_rsem_open(&s, nm(), 0));
    ck_assert_int_eq(mproc_rsem_value(s), 1);
    mproc_rsem_close(s);
    ck_assert(!name_exists(nm()));

    /* A handle copied by fork counts until every copy is closed. */
    ASSERT_OK(mproc_rsem_open(&s, nm(), 1));
    pid_t kid = ipc_spawn(close_inherited, s);
    ck_assert_int_eq(ipc_reap(kid), 0);
    ck_assert(name_exists(nm()));
    mproc_rsem_close(s);
    ck_assert(!name_exists(nm()));
    sh_free(blk);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "basics", 60);
    tcase_add_test(tc, counts_and_errors);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, timeouts_never_early);
    tcase_add_test(tc, units_belong_to_threads);
    tcase_add_test(tc, name_goes_with_the_last_user);
    tc = mproc_tcase(s, "killed", 120);
    tcase_add_test(tc, killed_holders_give_units_back_in_a_loop);
    tcase_add_test(tc, never_more_holders_than_units);
}
