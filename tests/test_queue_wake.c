/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_queue_wake.c: the queue's wake-ups between processes: the lost
 * wake-up reproducer (a getter that stops after one message while another
 * sleeps), a putter beside the room a last get made, and N producers x M
 * consumers for N, M in {1, 2, 4} at 64 B, 4 KiB, 64 KiB and 1 MiB, every
 * message numbered and checked. */
#include "test_queue_util.h"

START_TEST(getter_never_sleeps_beside_a_message)
{
    int rounds = qt_repro_run(false, 2000, 3.0);
    ck_assert_int_gt(rounds, 0);
}
END_TEST

START_TEST(putter_never_sleeps_beside_room)
{
    ck_assert_int_gt(qt_room_run(false), 0);
}
END_TEST

START_TEST(producers_by_consumers)
{
    qt_nxm_case(false, _i);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "queue_wake", 60);
    tcase_add_test(tc, getter_never_sleeps_beside_a_message);
    tc = mproc_tcase(s, "queue_room", 60);
    tcase_add_test(tc, putter_never_sleeps_beside_room);
    tc = mproc_tcase(s, "queue_nxm", 60);
    tcase_add_loop_test(tc, producers_by_consumers, 0, QT_NXM_CASES);
}
