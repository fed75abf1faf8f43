/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* harness.h: the test harness every test program shares.
 *
 * Each test file defines mproc_test_cases(Suite *) and adds its cases to
 * test cases made by mproc_tcase(). Check forks every case into its own
 * process with a timeout; around each case the harness records, then
 * compares, the process's children, open descriptors, /dev/shm entries and
 * signal state, and fails the case with what it expected and what it got.
 */
#ifndef MPROC_HARNESS_H
#define MPROC_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <check.h>
#include <stdbool.h>
#include <sys/types.h>

#include "mproc.h"

void mproc_test_cases(Suite *s);

/* A test case with the leak checks, timeout in seconds (scaled by
   CK_TIMEOUT_MULTIPLIER, as Check does). */
TCase *mproc_tcase(Suite *s, const char *name, double timeout);

/* The helper program that plays children in tests (tests/helper.c). */
const char *mproc_test_helper(void);

/* Count of live children and zombies of the calling process. */
int mproc_test_children(void);

/* True when pid names a process that exists and is not a zombie. */
bool mproc_test_alive(pid_t pid);

/* Wait (by polling /proc, for tests only) until pid is gone or a zombie, up to
   seconds; true when it went. */
bool mproc_test_wait_gone(pid_t pid, double seconds);

/* Wait (polling /proc, for tests only) until pid shows state letter `state`,
   up to 10 s; true when it did. */
bool mproc_test_wait_state(pid_t pid, char state);

/* Sleep 2 ms: the step of the polling waits above. */
void mproc_test_nap(void);

/* Descriptor handshake: a pipe whose read end waits for one byte. */
typedef struct { int rd, wr; } mproc_test_gate;
void mproc_test_gate_open(mproc_test_gate *g);
void mproc_test_gate_signal(mproc_test_gate *g); /* write one byte */
bool mproc_test_gate_wait(mproc_test_gate *g, double seconds); /* true: got it */
void mproc_test_gate_close(mproc_test_gate *g);

/* Drop to an unprivileged uid when root, so that RLIMIT_NPROC applies. */
void mproc_test_drop_root(void);

#define ASSERT_OK(expr) ck_assert_int_eq((expr), 0)

#endif
