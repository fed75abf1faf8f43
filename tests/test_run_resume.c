/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_resume.c: `mproc run --joblog` with --resume, --resume-failed
 * and --retry-failed: the same runs as GNU parallel's, and the same joblog
 * (Seq, Exitval and Command of each line) after them. */
#include "test_run_util.h"

/* The steps, run by one tool in a fresh folder, its outputs and statuses
   (and the joblog's Seq, Exitval, Command columns) into one string. */
static const char resume_steps[] =
             "$T -k -j1 --joblog jl 'echo {}; exit $(({}%2))' ::: 1 2 3; echo rc=$?; "
             "$T -k -j1 --resume --joblog jl 'echo {}; exit $(({}%2))' ::: 1 2 3 4 5; echo rc=$?; "
             "$T -k -j1 --resume-failed --joblog jl 'echo R{}; exit {}' ::: 1 2 3 4 5 6; echo rc=$?; "
             "$T -k -j1 --retry-failed --joblog jl; echo rc=$?; "
             "$T -k --dry-run --resume --joblog jl echo ::: 1 2 3 4 5 6 7; echo rc=$?; "
             "cut -f1,7,9 jl; rm -f jl; "
             "$T -k -j1 --joblog jl 'echo {}; exit $(({}%2))' ::: 1 2 3 >/dev/null; "
             "$T -k -j1 --retry-failed --joblog jl; echo rc=$?; "
             "printf 'x\\nnot a joblog line\\n' > bad; $T --resume --joblog bad echo ::: a; "
             "echo rc=$?";

START_TEST(resume_as_gnu)
{
    gnu_session(resume_steps, "rc=255");
}
END_TEST

START_TEST(resume_needs_a_joblog)
{
    tool_result r = TOOL("run", "--resume", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
    if (have_parallel())
        GNU_SAME_STATUS(NULL, "--resume-failed", "echo", ":::", "a");
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "resume", 120);
    tcase_add_test(tc, resume_as_gnu);
    tcase_add_test(tc, resume_needs_a_joblog);
}
