/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_opts.c: how `mproc run` reads its options: abbreviations, bundled
 * short options, --name=value, where options end, the refusal of what is
 * not supported, and the --help generated from the option table; compared
 * with GNU parallel where it is installed. */
#include "test_run_util.h"

/* A usage error: exit 255, nothing on stdout, lines lines on stderr, the
   first one holding want. */
static void expect_refusal(tool_result *r, const char *want, size_t lines)
{
    ck_assert_int_eq(r->status, 255);
    ck_assert_str_eq(r->out, "");
    ck_assert_msg(count_char(r->err, '\n') == lines, "got '%s'", r->err);
    ck_assert_msg(strstr(r->err, want) != NULL, "'%s' does not say '%s'", r->err, want);
    tr_free(r);
}

START_TEST(abbreviations_as_gnu)
{
    tool_result r = TOOL("run", "--kee", "--jobs=1", "echo", ":::", "b", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "b\na\n");
    tr_free(&r);
    /* A prefix of several options is refused, naming them. */
    r = TOOL("run", "--ta", "echo", ":::", "a", NULL);
    expect_refusal(&r, "'--ta' is ambiguous (--tag, --tag-string, --tagstring)", 2);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "--kee", "--jobs", "1", "echo", ":::", "b", "a");
    GNU_SAME_STATUS(NULL, "--jo", "1", "echo", ":::", "b", "a");
    GNU_SAME(NULL, "--keep", "--dry", "echo", ":::", "b", "a");
    GNU_SAME_STATUS(NULL, "--ta", "echo", ":::", "a");
    GNU_SAME(NULL, "--halt-on", "now,fail=1", "-j1", "exit", ":::", "0", "3", "4");
    GNU_SAME(NULL, "--lineb", "-k", "echo", ":::", "x");
}
END_TEST

START_TEST(bundled_short_options)
{
    tool_result r = TOOL("run", "-kj1", "echo", ":::", "b", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "b\na\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-kj1", "echo", ":::", "b", "a");
    /* -j1k: the j takes "1k", which is no number: refused by both. */
    r = TOOL("run", "-j1k", "echo", ":::", "a", NULL);
    expect_refusal(&r, "-j: not a number of jobs: '1k'", 1);
    GNU_SAME("x\0y\0", "-k0", "echo");
    GNU_SAME(NULL, "-k", "-j", "1", "echo", ":::", "b", "a");
}
END_TEST

START_TEST(values_with_equals)
{
    tool_result r = TOOL("run", "--jobs=1", "--halt=now,fail=1", "exit", ":::", "0", "7", "0",
                         NULL);
    ck_assert_int_eq(r.status, 7);
    tr_free(&r);
    /* A flag given a value, an option missing its value. */
    r = TOOL("run", "--tag=x", "echo", ":::", "a", NULL);
    expect_refusal(&r, "option '--tag' takes no value", 1);
    r = TOOL("run", "--joblog", NULL);
    expect_refusal(&r, "option '--joblog' needs a value", 1);
    r = TOOL("run", "-j", NULL);
    expect_refusal(&r, "option '--jobs' needs a value", 1);
}
END_TEST

START_TEST(options_end_at_the_command)
{
    /* The command's own options are its own; -- ends ours. */
    tool_result r = TOOL("run", "-k", "echo", "-k", "-j2", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "-k -j2 a\n");
    tr_free(&r);
    r = TOOL("run", "-k", "--", "echo", "--tag", ":::", "a", NULL);
    ck_assert_str_eq(r.out, "--tag a\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "echo", "-k", "-j2", ":::", "a");
    GNU_SAME(NULL, "-k", "--", "echo", "--tag", ":::", "a");
    GNU_SAME(NULL, "-k", "printf", "%s-%s\\n", "::: ", "a");
}
END_TEST

START_TEST(unknown_options_point_at_help)
{
    tool_result r = TOOL("run", "--frobnicate", "echo", ":::", "a", NULL);
    expect_refusal(&r, "unknown option '--frobnicate'\nsee mproc run --help\n", 2);
    r = TOOL("run", "-kZ", "echo", ":::", "a", NULL);
    expect_refusal(&r, "unknown option '-Z'\nsee mproc run --help\n", 2);
}
END_TEST

START_TEST(unsupported_gnu_options_refused)
{
    /* Every option GNU parallel has and mproc does not: one line naming it,
       exit 255, nothing run; abbreviated too. */
    char dir[64], cmd[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "touch %s/ran", dir);
    static const char *const cases[][3] = {
        { "-S", "host", "'--sshlogin'" },      { "--sshlogin", "host", "'--sshlogin'" },
        { "--onall", NULL, "'--onall'" },       { "--nonall", NULL, "'--nonall'" },
        { "--transferfile", "f", "'--transfer-file'" }, { "--return", "f", "'--return'" },
        { "--cleanup", NULL, "'--cleanup'" },   { "--basefile", "f", "'--basefile'" },
        { "--tmux", NULL, "'--tmux'" },         { "--csv", NULL, "'--csv'" },
        { "--tollef", NULL, "'--tollef'" },     { "-g", NULL, "'-g'" },
        { "--sqlmaster", "x", "'--sql-master'" }, { "--latest-line", NULL, "'--latest-line'" },
        { "--filter", "x", "'--filter'" },      { "--tee", NULL, "'--tee'" },
        { "--nona", NULL, "'--nonall'" }, { "--interactive", NULL, "'--interactive'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tool_result r = cases[i][1]
                            ? TOOL("run", (char *)cases[i][0], (char *)cases[i][1], cmd, ":::", "a",
                                   NULL)
                            : TOOL("run", (char *)cases[i][0], cmd, ":::", "a", NULL);
        expect_refusal(&r, cases[i][2], 1);
        ck_assert(!file_exists(dir, "ran"));
    }
    tmpdir_remove(dir);
}
END_TEST

START_TEST(help_is_short_and_grouped)
{
    tool_result r = TOOL("run", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");
    static const char *const want[] = { "Output:\n", "Jobs and control:\n", "-k, --keep-order",
                                        "-j, --jobs N", "--halt", "--joblog FILE", "--tag",
                                        "--line-buffer", "-h, --help" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.out, want[i]), "--help lacks '%s'", want[i]);
    /* Refused options are not offered. */
    ck_assert_ptr_null(strstr(r.out, "--sshlogin"));
    ck_assert_int_lt(count_char(r.out, '\n'), 170);
    tr_free(&r);
    r = TOOL("run", "-h", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: mproc run"));
    tr_free(&r);
}
END_TEST

/* The man page names every option --help lists (groff writes - as \-). */
START_TEST(man_page_lists_every_option)
{
    char *man = file_read(MPROC_SOURCE_DIR "/docs/mproc.1");
    tool_result r = TOOL("run", "--help", NULL);
    size_t checked = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        char *o = strstr(line, "--");
        if (strncmp(line, "  ", 2) || !o)
            continue;
        char want[128] = "";
        size_t n = 0;
        for (const char *p = o;
             (*p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) &&
             n + 3 < sizeof want;
             p++) {
            if (*p == '-')
                want[n++] = '\\';
            want[n++] = *p;
        }
        want[n] = '\0';
        ck_assert_msg(strstr(man, want), "mproc(1) does not name %s", want);
        checked++;
    }
    ck_assert_int_gt(checked, 60);
    tr_free(&r);
    free(man);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "options", 60);
    tcase_add_test(tc, abbreviations_as_gnu);
    tcase_add_test(tc, bundled_short_options);
    tcase_add_test(tc, values_with_equals);
    tcase_add_test(tc, options_end_at_the_command);
    tcase_add_test(tc, unknown_options_point_at_help);
    tcase_add_test(tc, unsupported_gnu_options_refused);
    tcase_add_test(tc, help_is_short_and_grouped);
    tcase_add_test(tc, man_page_lists_every_option);
}
