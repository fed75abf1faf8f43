/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_shm.c: shared memory blocks: anonymous, named, by descriptor, and
 * the Value / Array conveniences; nothing left in /dev/shm. */
#include "test_ipc_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

static int write_pattern(void *arg)
{
    mproc_shm *b = arg;
    unsigned char *p = mproc_shm_ptr(b);
    for (size_t i = 0; i < mproc_shm_size(b); i++)
        p[i] = (unsigned char)(i * 3 + 1);
    return 0;
}

START_TEST(anonymous_block_shared_with_children)
{
    mproc_shm *b;
    ASSERT_OK(mproc_shm_new(&b, 100000));
    ck_assert_uint_eq(mproc_shm_size(b), 100000);
    ck_assert_uint_eq(mproc_shm_len(b), 100000);
    ck_assert_ptr_null(mproc_shm_lock(b));
    unsigned char *p = mproc_shm_ptr(b);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    for (size_t i = 0; i < 100000; i++)
        ck_assert_int_eq(p[i], 0);
    ck_assert_int_eq(ipc_reap(ipc_spawn(write_pattern, b)), 0);
    for (size_t i = 0; i < 100000; i++)
        ck_assert_int_eq(p[i], (unsigned char)(i * 3 + 1));
    /* The same memory through its descriptor, at another address. */
    mproc_shm *again;
    ASSERT_OK(mproc_shm_from_fd(&again, mproc_shm_fd(b)));
    ck_assert_ptr_ne(mproc_shm_ptr(again), mproc_shm_ptr(b));
    ck_assert_uint_eq(mproc_shm_size(again), 100000);
    ((unsigned char *)mproc_shm_ptr(again))[5] = 0xee;
    ck_assert_int_eq(p[5], 0xee);
    mproc_shm_free(again);
    mproc_shm_free(b);
}
END_TEST

START_TEST(bad_input)
{
    mproc_shm *b = NULL;
    ck_assert_int_eq(mproc_shm_new(NULL, 10), -EINVAL);
    ck_assert_int_eq(mproc_shm_new(&b, 0), -EINVAL);
    ck_assert_int_eq(mproc_shm_new(&b, SIZE_MAX), -ENOMEM);
    ck_assert_int_eq(mproc_shm_create(&b, NULL, 10, NULL), -EINVAL);
    ck_assert_int_eq(mproc_shm_create(&b, "a/b", 10, NULL), -EINVAL);
    ck_assert_int_eq(mproc_shm_create(&b, "", 10, NULL), -EINVAL);
    ck_assert_int_eq(mproc_shm_create(&b, "..", 10, NULL), -EINVAL);
    ck_assert_int_eq(mproc_shm_create(&b, "sp ace", 10, NULL), -EINVAL);
    ck_assert_int_eq(mproc_shm_create(&b, "mproc-test-zero", 0, NULL), -EINVAL);
    ck_assert_int_eq(mproc_shm_attach(&b, "mproc-test-never-made"), -ENOENT);
    ck_assert_int_eq(mproc_shm_attach(NULL, "x"), -EINVAL);
    ck_assert_int_eq(mproc_shm_unlink("mproc-test-never-made"), -ENOENT);
    ck_assert_int_eq(mproc_shm_unlink("bad/name"), -EINVAL);
    ck_assert_int_eq(mproc_shm_from_fd(&b, -1), -EBADF);
    ck_assert_int_eq(mproc_shm_fd(NULL), -EBADF);
    /* Memory that is not one of our blocks is refused. */
    int fd = memfd_create("other", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 4096), 0);
    ck_assert_int_eq(mproc_shm_from_fd(&b, fd), -EINVAL);
    int pfd[2];
    ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
    ck_assert_int_eq(mproc_shm_from_fd(&b, pfd[0]), -EINVAL);
    close(pfd[0]);
    close(pfd[1]);
    close(fd);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(mproc_shm_array_new(&b, 0, 4, NULL, false), -EINVAL);
    ck_assert_int_eq(mproc_shm_array_new(&b, 8, 0, NULL, false), -EINVAL);
    ck_assert_int_eq(mproc_shm_array_new(&b, SIZE_MAX / 2, 3, NULL, false), -EINVAL);
    ck_assert_int_eq(mproc_shm_value_new(NULL, 8, NULL, false), -EINVAL);
    ck_assert_ptr_null(mproc_shm_ptr(NULL));
    ck_assert_uint_eq(mproc_shm_size(NULL), 0);
    mproc_shm_free(NULL);
}
END_TEST

static int attach_and_add(void *arg)
{
    const char *name = arg;
    mproc_shm *b;
    if (mproc_shm_attach(&b, name))
        return 1;
    if (mproc_shm_size(b) != 4096)
        return 2;
    long *v = mproc_shm_ptr(b);
    __atomic_fetch_add(v, 1, __ATOMIC_SEQ_CST);
    mproc_shm_free(b);
    return 0;
}

START_TEST(named_create_attach_unlink)
{
    char name[64], path[96];
    snprintf(name, sizeof name, "mproc-test-shm-%d", (int)getpid());
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    mproc_shm *b, *x = NULL;
    ASSERT_OK(mproc_shm_create(&b, name, 4096, NULL));
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(mproc_shm_create(&x, name, 4096, NULL), -EEXIST);
    char slashed[80];
    snprintf(slashed, sizeof slashed, "/%s", name);
    ck_assert_int_eq(mproc_shm_create(&x, slashed, 10, NULL), -EEXIST);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ipc_reap(ipc_spawn(attach_and_add, name)), 0);
    ck_assert_int_eq(*(long *)mproc_shm_ptr(b), 3);
    ASSERT_OK(mproc_shm_unlink(name));
    ck_assert_int_ne(access(path, F_OK), 0);
    /* The memory outlives the name. */
    *(long *)mproc_shm_ptr(b) = 9;
    ck_assert_int_eq(*(long *)mproc_shm_ptr(b), 9);
    mproc_shm_free(b);
    /* A queue's name is not a plain block. */
    mproc_queue *q;
    mproc_queue_opts qo = { .name = name };
    ASSERT_OK(mproc_queue_new(&q, &qo));
    ck_assert_int_eq(mproc_shm_attach(&x, name), -EINVAL);
    ASSERT_OK(mproc_queue_unlink(name));
    mproc_queue_free(q);
}
END_TEST

typedef struct {
    const char *name;
    mproc_test_gate gate;
} named_arg;

static int create_and_die(void *arg)
{
    named_arg *a = arg;
    mproc_shm *b;
    mproc_shm_opts o = { .attachers = 2 };
    if (mproc_shm_create(&b, a->name, 8192, &o))
        return 1;
    strcpy(mproc_shm_ptr(b), "left by the dead");
    mproc_test_gate_signal(&a->gate);
    pause();
    return 0;
}

static int attach_and_die(void *arg)
{
    named_arg *a = arg;
    mproc_shm *b;
    if (mproc_shm_attach(&b, a->name))
        return 1;
    if (strcmp(mproc_shm_ptr(b), "left by the dead"))
        return 2;
    mproc_test_gate_signal(&a->gate);
    pause();
    return 0;
}

START_TEST(named_with_attachers_leaves_nothing_when_all_die)
{
    char name[64], path[96];
    snprintf(name, sizeof name, "mproc-test-shm-dead-%d", (int)getpid());
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    named_arg a = { name, { -1, -1 } };
    mproc_test_gate_open(&a.gate);
    pid_t creator = ipc_spawn(create_and_die, &a);
    ck_assert(mproc_test_gate_wait(&a.gate, 10));
    pid_t u1 = ipc_spawn(attach_and_die, &a);
    ck_assert(mproc_test_gate_wait(&a.gate, 10));
    ck_assert_int_eq(access(path, F_OK), 0); /* one of two attached */
    pid_t u2 = ipc_spawn(attach_and_die, &a);
    ck_assert(mproc_test_gate_wait(&a.gate, 10));
    ck_assert_int_ne(access(path, F_OK), 0); /* the second removed the name */
    ipc_kill(creator);
    ipc_kill(u1);
    ipc_kill(u2);
    /* The harness checks that /dev/shm holds nothing new. */
    mproc_test_gate_close(&a.gate);
}
END_TEST

#define OPS 100000

static int add_locked(void *arg)
{
    mproc_shm *v = arg;
    for (int i = 0; i < OPS; i++) {
        if (mproc_lock_acquire(mproc_shm_lock(v), -1))
            return 1;
        (*MPROC_SHM_AS(v, long))++;
        mproc_lock_release(mproc_shm_lock(v));
    }
    return 0;
}

START_TEST(value_with_lock_four_processes)
{
    mproc_shm *v;
    long init = 1000;
    ASSERT_OK(mproc_shm_value_new(&v, sizeof(long), &init, true));
    ck_assert_ptr_nonnull(mproc_shm_lock(v));
    ck_assert_uint_eq(mproc_shm_len(v), 1);
    ck_assert_int_eq(*MPROC_SHM_AS(v, long), 1000);
    pid_t kids[4];
    for (int i = 0; i < 4; i++)
        kids[i] = ipc_spawn(add_locked, v);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ipc_reap(kids[i]), 0);
    ck_assert_int_eq(*MPROC_SHM_AS(v, long), 1000 + 4L * OPS);
    mproc_shm_free(v);
}
END_TEST

START_TEST(array_initialised_and_shared)
{
    double init[5] = { 1.5, 2.5, 3.5, 4.5, 5.5 };
    mproc_shm *a;
    ASSERT_OK(mproc_shm_array_new(&a, sizeof(double), 5, init, false));
    ck_assert_uint_eq(mproc_shm_len(a), 5);
    ck_assert_uint_eq(mproc_shm_size(a), 5 * sizeof(double));
    ck_assert_ptr_null(mproc_shm_lock(a));
    for (int i = 0; i < 5; i++)
        ck_assert(MPROC_SHM_AS(a, double)[i] == init[i]);
    pid_t pid = mproc_fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < 5; i++)
            MPROC_SHM_AS(a, double)[i] *= 2;
        mproc_exit(0);
    }
    ck_assert_int_eq(ipc_reap(pid), 0);
    for (int i = 0; i < 5; i++)
        ck_assert(MPROC_SHM_AS(a, double)[i] == 2 * init[i]);
    mproc_shm_free(a);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "shm", 60);
    tcase_add_test(tc, anonymous_block_shared_with_children);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, named_create_attach_unlink);
    tcase_add_test(tc, named_with_attachers_leaves_nothing_when_all_die);
    tcase_add_test(tc, value_with_lock_four_processes);
    tcase_add_test(tc, array_initialised_and_shared);
}
