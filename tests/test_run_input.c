/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_input.c: `mproc run`'s inputs, each compared with GNU parallel:
 * -a, --arg-sep, --arg-file-sep, :::+ and ::::+, --link, -d, -E/-e,
 * --trim, -r, --shuf, --colsep, --header, no command, $PARALLEL and -J. */
#include "test_run_util.h"

/* A file in dir holding text; its path in buf. */
static char *put_file(char *buf, size_t n, const char *dir, const char *name,
                            const char *text)
{
    ck_assert_int_lt(snprintf(buf, n, "%s/%s", dir, name), (int)n);
    FILE *f = fopen(buf, "we");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return buf;
}

START_TEST(linked_sources)
{
    tool_result r = TOOL("run", "-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2", NULL);
    ck_assert_str_eq(r.out, "a 1\nb 2\n");
    tr_free(&r);
    r = TOOL("run", "-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2", NULL);
    ck_assert_str_eq(r.out, "a 1\nb 2\nc 1\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    char dir[64], f1[128];
    tmpdir_make(dir, sizeof dir);
    put_file(f1, sizeof f1, dir, "f1", "1\n2\n");
    GNU_SAME(NULL, "-k", "echo", ":::", "a", "b", ":::+", "1", "2", ":::", "x", "y");
    GNU_SAME(NULL, "-k", "--xapply", "echo", ":::", "a", "b", "c", ":::", "1", "2");
    GNU_SAME(NULL, "-k", "echo", "::::", f1, "::::+", f1);
    GNU_SAME(NULL, "-k", "echo", ":::", "a", "b", "::::+", f1);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(arg_files_and_separators)
{
    char dir[64], f1[128];
    tmpdir_make(dir, sizeof dir);
    put_file(f1, sizeof f1, dir, "f1", "1\n2\n");
    tool_result r = TOOL("run", "-k", "-a", f1, "echo", ":::", "x", NULL);
    ck_assert_str_eq(r.out, "1 x\n2 x\n");
    tr_free(&r);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none", dir);
    r = TOOL("run", "-a", missing, "echo", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "No such file or directory"));
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(NULL, "-k", "-a", f1, "echo", ":::", "x", "y");
        GNU_SAME(NULL, "-k", "-a", f1, "--arg-file", f1, "echo");
        GNU_SAME(NULL, "-k", "--arg-sep", ",,", "echo", ",,", "a", "b");
        GNU_SAME(NULL, "-k", "--arg-file-sep", "//", "echo", "//", f1);
        GNU_SAME(NULL, "-k", "--arg-sep", ",,", "echo", ":::", ",,", "a");
    }
    tmpdir_remove(dir);
}
END_TEST

START_TEST(delimiters_and_end_of_file)
{
    tool_result r = TOOL_IN("a:b:c", "run", "-k", "-d", ":", "echo", NULL);
    ck_assert_str_eq(r.out, "a\nb\nc\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME("a:b:c", "-k", "-d", ":", "echo");
    GNU_SAME("aXYbXYc", "-k", "-d", "XY", "echo");
    GNU_SAME("a\tb\tc", "-k", "-d", "\\t", "echo");
    GNU_SAME("a\\nb", "-k", "-d", "\\\\", "echo");
    GNU_SAME("a\nb\nEOF\nc\n", "-k", "-E", "EOF", "echo");
    GNU_SAME("a\nb\nEOF\nc\n", "-k", "--eof=EOF", "echo");
    GNU_SAME("a\nb\nEOF\nc\n", "-k", "-eEOF", "echo");
    GNU_SAME(NULL, "-k", "-E", "b", "echo", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-e", "echo", ":::", "a", "b");
}
END_TEST

START_TEST(trim_and_empty_values)
{
    if (!have_parallel())
        return;
    GNU_SAME("a\n\n  \nb\n", "-k", "-r", "echo", "x");
    GNU_SAME(NULL, "-k", "--no-run-if-empty", "echo", "x", ":::", "a", "", " ", "b");
    static const char *const modes[] = { "n", "l", "r", "lr", "rl" };
    for (size_t i = 0; i < 5; i++)
        GNU_SAME(NULL, "-k", "--trim", (char *)modes[i], "echo", "'<{}>'", ":::", " a ", "b\t");
    GNU_SAME_STATUS(NULL, "--trim", "x", "echo", ":::", "a");
}
END_TEST

START_TEST(columns_and_headers)
{
    tool_result r = TOOL_IN("x,y\n1,2\n3,4\n", "run", "-k", "--colsep", ",", "--header", ":",
                            "echo", "{y}{x}", NULL);
    ck_assert_str_eq(r.out, "21\n43\n");
    tr_free(&r);
    r = TOOL("run", "--colsep", "(", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    if (!have_parallel())
        return;
    char dir[64], f[128];
    tmpdir_make(dir, sizeof dir);
    GNU_SAME("a,b\nc,d\n", "-k", "--colsep", ",", "echo", "{2}", "{1}");
    GNU_SAME("a,b\nc,d\n", "-k", "--colsep", ",", "echo");
    GNU_SAME("a, b\nc,d\n", "-k", "--colsep", ",\\s*", "echo", "{2}-{1}");
    GNU_SAME(NULL, "-k", "-C", ",", "--trim", "lr", "echo", "'<{1}><{2}>'", ":::", " a , b ");
    /* --colsep trims both sides of each column unless --trim says
       otherwise. */
    GNU_SAME("foo\tbar\nbaz \t quux\n", "-k", "--colsep", "\t", "echo", "'<{1}><{2}>'");
    GNU_SAME("foo\tbar\nbaz \t quux\n", "-k", "--colsep", "\t", "--trim", "n", "echo",
             "'<{1}><{2}>'");
    GNU_SAME(NULL, "-k", "-C", ",", "--trim", "r", "echo", "'<{1}><{2}>'", ":::", " a , b ");
    GNU_SAME(NULL, "-k", "--colsep", ",", "echo", "{1}", "{2}", "{3}", "::::",
             put_file(f, sizeof f, dir, "cs", "a,b\n"), ":::", "p");
    GNU_SAME("x\ty\n1\t2\n", "-k", "--header", ":", "echo", "{y}-{x}");
    GNU_SAME(NULL, "-k", "--header", ":", "echo", "{a}", "{b}", ":::", "a", "1", "2", ":::", "b",
             "x", "y");
    GNU_SAME(NULL, "-k", "--header", ":", "--colsep", ",", "echo", "{y/}", "{x.}", "::::",
             put_file(f, sizeof f, dir, "hdr", "x,y\n1.c,d/e\n"));
    GNU_SAME(NULL, "-k", "--header", "0", "echo", "{hdr}", "::::", f);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(values_are_the_commands)
{
    tool_result r = TOOL("run", "-k", ":::", "echo a", "echo b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\nb\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME("echo x\necho y\n", "-k");
    GNU_SAME("", "-k");
    GNU_SAME(NULL, "-k", ":::", "echo a; exit 2", "true");
}
END_TEST

START_TEST(shuffled_jobs)
{
    /* Every job once, in some order; {#} counts them as they start. */
    tool_result r = TOOL("run", "--shuf", "-j1", "echo {#}", ":::", "a", "b", "c", "d", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "1\n2\n3\n4\n");
    tr_free(&r);
    r = TOOL("run", "--shuf", "-k", "echo", ":::", "a", "b", "c", "d", NULL);
    ck_assert_int_eq(r.status, 0);
    for (const char *v = "abcd"; *v; v++) {
        char want[4] = { *v, '\n', 0 };
        ck_assert_ptr_nonnull(strstr(r.out, want));
    }
    ck_assert_int_eq(strlen(r.out), 8);
    tr_free(&r);
}
END_TEST

START_TEST(options_from_environment_and_profiles)
{
    char dir[64], prof[128];
    tmpdir_make(dir, sizeof dir);
    put_file(prof, sizeof prof, dir, "prof", "-k\n# a comment\n--tag\n");
    setenv("PARALLEL", "-k --tag", 1);
    tool_result r = TOOL("run", "echo", ":::", "a", "b", NULL);
    ck_assert_str_eq(r.out, "a\ta\nb\tb\n");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(NULL, "echo", ":::", "a", "b");
        /* Words that are no options go before the command. */
        setenv("PARALLEL", "-k 'nice' -n 3", 1);
        GNU_SAME(NULL, "echo", ":::", "a", "b");
        unsetenv("PARALLEL");
        GNU_SAME(NULL, "-J", prof, "echo", ":::", "a", "b");
        GNU_SAME(NULL, "--profile", prof, "-j1", "echo", ":::", "a", "b");
        /* Profiles stack, each one's options read in turn (the
           tutorial's dry run with a niced one; --tag shows the second). */
        char prof2[128];
        put_file(prof2, sizeof prof2, dir, "prof2", "-vv --dry-run\n");
        put_file(prof, sizeof prof, dir, "prof", "--nice 17\n--tag\n");
        GNU_SAME(NULL, "-k", "--profile", prof2, "--profile", prof, "echo", ":::", "A", "B", "C");
    }
    /* ~/.parallel/config when no -J is given. */
    unsetenv("PARALLEL");
    char cfg[160];
    setenv("HOME", dir, 1);
    snprintf(cfg, sizeof cfg, "%s/.parallel", dir);
    ck_assert_int_eq(mkdir(cfg, 0700), 0);
    put_file(prof, sizeof prof, cfg, "config", "--tag -k\n");
    r = TOOL("run", "echo", ":::", "a", "b", NULL);
    ck_assert_str_eq(r.out, "a\ta\nb\tb\n");
    tr_free(&r);
    put_file(prof, sizeof prof, cfg, "other", "-k\n");
    r = TOOL("run", "-J", "other", "echo", ":::", "a", "b", NULL);
    ck_assert_str_eq(r.out, "a\nb\n");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "input", 120);
    tcase_add_test(tc, linked_sources);
    tcase_add_test(tc, arg_files_and_separators);
    tcase_add_test(tc, delimiters_and_end_of_file);
    tcase_add_test(tc, trim_and_empty_values);
    tcase_add_test(tc, columns_and_headers);
    tcase_add_test(tc, values_are_the_commands);
    tcase_add_test(tc, shuffled_jobs);
    tcase_add_test(tc, options_from_environment_and_profiles);
}
