/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_faults_shm.c: a full /dev/shm. Each case mounts a tiny tmpfs on
 * /dev/shm in a mount namespace of its own (skipped where the case may not
 * make one): named blocks and queues that do not fit are refused at
 * creation with -ENOSPC and leave nothing there, never a SIGBUS later. */
#include "test_ipc_util.h"

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>

#define TINY (64 * 1024)

/* A private /dev/shm of TINY bytes; false where that is not allowed. */
static bool tiny_dev_shm(void)
{
    if (unshare(CLONE_NEWNS) < 0)
        return false;
    /* Nothing mounted here may reach the rest of the system. */
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return false;
    char opts[64];
    snprintf(opts, sizeof opts, "size=%d,mode=1777", TINY);
    return mount("mproc-test", "/dev/shm", "tmpfs", 0, opts) == 0;
}

/* Back to the real /dev/shm, for the harness's leak check. */
static void real_dev_shm(void)
{
    ck_assert_int_eq(umount("/dev/shm"), 0);
}

static int dev_shm_entries(void)
{
    DIR *d = opendir("/dev/shm");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Write every byte of b in a child: a page not really there would kill it
   with SIGBUS. */
static int touch_all(void *arg)
{
    mproc_shm *b = arg;
    memset(mproc_shm_ptr(b), 0x5a, mproc_shm_size(b));
    return 0;
}

START_TEST(named_block_too_big_is_enospc_and_leaves_nothing)
{
    if (!tiny_dev_shm()) {
        fprintf(stderr, "skipped: no mount namespace for a tiny /dev/shm\n");
        return;
    }
    mproc_shm *b = NULL;
    ck_assert_int_eq(mproc_shm_create(&b, "mproc-test-big", 1 << 20, NULL), -ENOSPC);
    ck_assert_int_eq(mproc_shm_create(&b, "mproc-test-big", TINY, NULL), -ENOSPC);
    ck_assert_int_eq(dev_shm_entries(), 0);
    /* What fits, fits, and is really there. */
    ASSERT_OK(mproc_shm_create(&b, "mproc-test-half", TINY / 2, NULL));
    ck_assert_int_eq(ipc_reap(ipc_spawn(touch_all, b)), 0);
    /* The rest is less than another half: refused, not a crash at use. */
    mproc_shm *c = NULL;
    ck_assert_int_eq(mproc_shm_create(&c, "mproc-test-other", TINY / 2, NULL), -ENOSPC);
    ck_assert_int_eq(dev_shm_entries(), 1);
    ASSERT_OK(mproc_shm_unlink("mproc-test-half"));
    mproc_shm_free(b);
    ck_assert_int_eq(dev_shm_entries(), 0);
    /* An anonymous block is not in /dev/shm and is not limited by it. */
    ASSERT_OK(mproc_shm_new(&b, 4 * TINY));
    ck_assert_int_eq(ipc_reap(ipc_spawn(touch_all, b)), 0);
    mproc_shm_free(b);
    real_dev_shm();
}
END_TEST

START_TEST(every_size_past_the_free_space_is_enospc)
{
    if (!tiny_dev_shm()) {
        fprintf(stderr, "skipped: no mount namespace for a tiny /dev/shm\n");
        return;
    }
    /* Leave 4 KiB free, then try a 4 KiB block and larger ones. */
    mproc_shm *fill = NULL;
    ASSERT_OK(mproc_shm_create(&fill, "mproc-test-fill", TINY - 4096 - 128, NULL));
    for (size_t size = 4096; size <= 1 << 20; size *= 2) {
        mproc_shm *b = NULL;
        ck_assert_int_eq(mproc_shm_create(&b, "mproc-test-x", size, NULL), -ENOSPC);
        ck_assert_int_eq(dev_shm_entries(), 1);
    }
    /* Once room is made, the same creation works. */
    ASSERT_OK(mproc_shm_unlink("mproc-test-fill"));
    mproc_shm_free(fill);
    mproc_shm *b = NULL;
    ASSERT_OK(mproc_shm_create(&b, "mproc-test-x", 4096, NULL));
    ASSERT_OK(mproc_shm_unlink("mproc-test-x"));
    mproc_shm_free(b);
    real_dev_shm();
}
END_TEST

START_TEST(named_queue_too_big_is_enospc_and_leaves_nothing)
{
    if (!tiny_dev_shm()) {
        fprintf(stderr, "skipped: no mount namespace for a tiny /dev/shm\n");
        return;
    }
    mproc_queue *q = NULL;
    mproc_queue_opts o = { .name = "mproc-test-q", .bytes = 1 << 20 };
    ck_assert_int_eq(mproc_queue_new(&q, &o), -ENOSPC);
    ck_assert_int_eq(dev_shm_entries(), 0);
    /* A queue that fits carries messages up to its capacity. */
    o.bytes = TINY / 4;
    ASSERT_OK(mproc_queue_new(&q, &o));
    char msg[1000] = { 0 };
    int puts = 0;
    while (mproc_queue_put(q, msg, sizeof msg, 0) == 0)
        puts++;
    ck_assert_int_gt(puts, 0);
    mproc_queue_free(q);
    ASSERT_OK(mproc_queue_unlink("mproc-test-q"));
    ck_assert_int_eq(dev_shm_entries(), 0);
    /* An anonymous queue does not use /dev/shm. */
    o.name = NULL;
    o.bytes = 1 << 20;
    ASSERT_OK(mproc_queue_new(&q, &o));
    ASSERT_OK(mproc_queue_put(q, msg, sizeof msg, 0));
    mproc_queue_free(q);
    real_dev_shm();
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "full_dev_shm", 30);
    tcase_add_test(tc, named_block_too_big_is_enospc_and_leaves_nothing);
    tcase_add_test(tc, every_size_past_the_free_space_is_enospc);
    tcase_add_test(tc, named_queue_too_big_is_enospc_and_leaves_nothing);
}
