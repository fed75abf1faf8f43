/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_multi.c: several values per job (-n -N -X -m --xargs -L -l -s,
 * --show-limits), each compared with GNU parallel: the same groups, split
 * where GNU parallel splits them. */
#include "test_run_util.h"

START_TEST(counted_groups)
{
    tool_result r = TOOL("run", "-k", "-N2", "echo", "{2}-{1}", ":::", "a", "b", "c", NULL);
    ck_assert_str_eq(r.out, "b-a\n-c\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "-n2", "echo", ":::", "a", "b", "c", "d", "e");
    GNU_SAME(NULL, "-k", "--max-args", "2", "echo", "x{}y", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-N2", "echo", "x{}y", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-N2", "echo", "{2}-{1}", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-N0", "echo", "x", ":::", "a", "b");
    /* -n0 too takes a value a job and inserts none (GNU's example "seq 10
       | parallel -n0 my_command my_args"). */
    GNU_SAME("1\n2\n3\n", "-k", "-n0", "echo", "x");
    GNU_SAME(NULL, "-k", "-n0", "echo", "x{}y", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "-L2", "echo", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-l", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "--max-lines=2", "echo", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-n2", "echo", "{1}+{2}", ":::", "a", "b", ":::", "c", "d");
    GNU_SAME("a\nb\nc\nd\ne\n", "-k", "-n2", "echo");
}
END_TEST

START_TEST(as_many_as_fit)
{
    tool_result r = TOOL("run", "-k", "-j2", "-X", "echo", "x{}y", ":::", "a", "b", "c", NULL);
    ck_assert_str_eq(r.out, "xay xby\nxcy\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "-X", "echo", "x{}y", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-m", "echo", "x{}y", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-j2", "-X", "echo", ":::", "1", "2", "3", "4", "5");
    GNU_SAME(NULL, "-k", "-j8", "-X", "echo", ":::", "1", "2", "3");
    GNU_SAME(NULL, "-k", "-j0", "-m", "echo", ":::", "1", "2", "3");
    GNU_SAME(NULL, "-k", "-j3", "-X", "-n2", "echo", ":::", "a", "b", "c", "d", "e", "f", "g",
             "h");
    GNU_SAME(NULL, "-k", "--xargs", "-j2", "echo", ":::", "1", "2", "3");
    GNU_SAME(NULL, "-k", "-X", "-N2", "echo", "x{}y{2}", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-j1", "-X", "echo", "{}", "{}", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "-s", "10", "-X", "echo", ":::", "aa", "bb", "cc", "dd", "ee");
    GNU_SAME(NULL, "-k", "--max-chars=20", "-m", "echo", ":::", "aa", "bb", "cc", "dd", "ee");
    /* Values that need quoting, measured as quoted: the lines still break
       where GNU parallel's do. */
    GNU_SAME(NULL, "-k", "-s", "24", "-X", "echo", "x{}", ":::", "a'b", "'c", "d'", "'", "e f",
             "q''q", "plain", "$x", "", "''", "g");
    GNU_SAME(NULL, "-k", "-s", "20", "-m", "echo", ":::", "a'b", "'c", "d'", "'", "e f", "q''q",
             "plain", "$x", "", "''", "g");
}
END_TEST

/* Lines 1..n, one per line. */
static char *numbers(size_t n)
{
    char *buf = malloc(n * 8 + 1), *w = buf;
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 1; i <= n; i++)
        w += sprintf(w, "%zu\n", i);
    return buf;
}

START_TEST(splits_where_gnu_splits)
{
    /* 100,000 values: the command lines break at GNU parallel's length. */
    if (!have_parallel())
        return;
    char *in = numbers(100000);
    GNU_SAME(in, "-k", "-X", "echo");
    GNU_SAME(in, "-k", "-m", "echo", "pre-{}");
    GNU_SAME(in, "-k", "--xargs", "echo");
    GNU_SAME(in, "-k", "-j3", "-X", "echo", "a{}b");
    free(in);
}
END_TEST

START_TEST(too_long_and_limits)
{
    tool_result r = TOOL("run", "-s", "3", "-X", "echo", ":::", "aaaa", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "Command line too long (9 >= 3) at input 0: aaaa"));
    tr_free(&r);
    /* A count past any long (found by fuzz/run_opts.c) is no limit, as in
       GNU parallel, not a conversion out of range. */
    r = TOOL("run", "-k", "-n", "5555555555555555555555555555555555555555555555555555555555555",
             "echo", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a b\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    gnu_compare_flags(NULL, (char *[]){ "-s", "3", "-X", "echo", ":::", "aaaa", NULL },
                      GNU_STDERR);
    GNU_SAME("", "--show-limits", "echo");
    GNU_SAME(NULL, "-k", "-l5555555555555555555555555555555555555555555555", "echo", ":::", "a",
             "b");
    gnu_compare_flags(NULL, (char *[]){ "-s", "100000", "-X", "echo", ":::", "a", NULL },
                      GNU_STDERR);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "multi", 180);
    tcase_add_test(tc, counted_groups);
    tcase_add_test(tc, as_many_as_fit);
    tcase_add_test(tc, splits_where_gnu_splits);
    tcase_add_test(tc, too_long_and_limits);
}
