/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_results.c: `mproc run --results` in GNU parallel's layout: the
 * same folders and files (DIR/1/VALUE/...), the same CSV, TSV and JSON
 * lines (times aside), compared with GNU parallel. */
#include "test_run_util.h"

/* Everything the steps leave and print, run by one tool in a fresh folder;
   start times and runtimes, which differ from run to run, made T and R. */
static const char results_steps[] =
             "untime() { sed -E 's/^([0-9]+)([,\t]):([,\t])[0-9.]+[,\t][0-9.]+/\\1\\2:\\3T\\2R/;"
             " s/\"Starttime\": [0-9.]+, \"JobRuntime\": [0-9.]+/T/'; }; "
             "$T --results d1 'echo out{}; echo err{} >&2' ::: a 'b/c' 'e\\\\f' ::: x; echo rc=$?; "
             "$T --results d2 -N2 echo ::: a b c; "
             "$T --header : --results d3 echo ::: y 1 ::: x 2; "
             "$T --results d4 'exit {}' ::: 0 3; echo rc=$?; "
             "find . -type f | LC_ALL=C sort | while IFS= read -r f; do "
             "printf '%s: ' \"$f\"; tr '\\n' '|' < \"$f\"; echo; done; "
             "$T -k --results -.csv 'echo {}; echo e >&2' ::: a 'b c' 'q\"q' | untime; "
             "$T -k --header : --results -.tsv echo ::: y 1 ::: x 2 | untime; "
             "$T -k --results -.json echo ::: a 'b\"c' 'tab\tx' | untime; "
             "$T -k -j1 --results out.csv echo ::: a b; echo rc=$?; untime < out.csv";

START_TEST(results_as_gnu)
{
    gnu_session(results_steps, "./d1/1/a/2/x/stdout: outa x|");
}
END_TEST

START_TEST(results_file_unwritable)
{
    tool_result r = TOOL("run", "--results", "/no/such/dir/x.csv", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "No such file or directory"));
    tr_free(&r);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "results", 120);
    tcase_add_test(tc, results_as_gnu);
    tcase_add_test(tc, results_file_unwritable);
}
