/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_queue_threads.c: the queue's wake-up tests of test_queue_wake.c
 * with threads of one process as producers and consumers, for
 * ThreadSanitizer. ctest-label: threads */
#include "test_queue_util.h"

START_TEST(getter_never_sleeps_beside_a_message_threads)
{
    int rounds = qt_repro_run(true, 2000, 3.0);
    ck_assert_int_gt(rounds, 0);
}
END_TEST

START_TEST(putter_never_sleeps_beside_room_threads)
{
    ck_assert_int_gt(qt_room_run(true), 0);
}
END_TEST

START_TEST(producers_by_consumers_threads)
{
    qt_nxm_case(true, _i);
}
END_TEST

START_TEST(producers_by_consumers_split_threads)
{
    qt_split_case(true, _i);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "queue_wake_threads", 60);
    tcase_add_test(tc, getter_never_sleeps_beside_a_message_threads);
    tc = mproc_tcase(s, "queue_room_threads", 60);
    tcase_add_test(tc, putter_never_sleeps_beside_room_threads);
    tc = mproc_tcase(s, "queue_nxm_threads", 60);
    tcase_add_loop_test(tc, producers_by_consumers_threads, 0, QT_NXM_CASES);
    tc = mproc_tcase(s, "queue_split_threads", 60);
    tcase_add_loop_test(tc, producers_by_consumers_split_threads, 0, QT_SPLIT_CASES);
}
