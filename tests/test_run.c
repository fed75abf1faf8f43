/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run.c: `mproc run`: inputs, replacement strings, quoting, output,
 * exit statuses and usage errors, each checked by running the built tool,
 * and against GNU parallel where it is installed. */
#include "test_run_util.h"

#include <sched.h>

#define OUT_EQ(r, want) ck_assert_str_eq((r).out, (want))

/* ---- inputs ---------------------------------------------------------------- */

START_TEST(values_from_triple_colon)
{
    tool_result r = TOOL("run", "-k", "echo", ":::", "a", "b", "c", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "a\nb\nc\n");
    ck_assert_str_eq(r.err, "");
    tr_free(&r);
}
END_TEST

START_TEST(values_from_stdin)
{
    /* An empty line is a job with an empty value; a last line without its
       newline still counts. */
    tool_result r = TOOL_IN("a\n\nb", "run", "-k", "-j1", "echo", "x{}", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "xa\nx\nxb\n");
    tr_free(&r);
    r = TOOL_IN("", "run", "echo", "never", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "");
    tr_free(&r);
}
END_TEST

START_TEST(stdin_values_start_jobs_before_its_end)
{
    /* The first line's job runs, and its output comes out, while stdin is
       still open. */
    int in[2], out[2];
    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = { "mproc", "run", "echo", "got", NULL };
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, MPROC_TOOL, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    ck_assert_int_eq(write(in[1], "a\n", 2), 2);
    char buf[16] = { 0 };
    size_t n = 0;
    while (n < 6) {
        ssize_t k = read(out[0], buf + n, 6 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    ck_assert_str_eq(buf, "got a\n");
    ck_assert_int_eq(write(in[1], "b", 1), 1); /* a last line without newline */
    close(in[1]);
    n = 0;
    memset(buf, 0, sizeof buf);
    for (ssize_t k; (k = read(out[0], buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)k;
    ck_assert_str_eq(buf, "got b\n");
    close(out[0]);
    ck_assert_int_eq(tr_wait(pid), 0);
}
END_TEST

START_TEST(null_separated_values)
{
    /* With -0, a newline is part of a value: one argument, never a second
       command. */
    static const char in[] = "a\nb\0c d\0\0";
    tool_result r = ({
        char *argv_[] = { "mproc", "run", "-k", "-0", "printf", "'<%s>'", NULL };
        tr_exec(MPROC_TOOL, argv_, in, sizeof in - 1);
    });
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "<a\nb><c d><>");
    tr_free(&r);
    /* -0 applies to :::: files too. */
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/in", dir);
    FILE *f = fopen(path, "we");
    fwrite("x\ny\0z", 1, 5, f);
    fclose(f);
    r = TOOL("run", "-k", "-0", "printf", "'<%s>'", "::::", path, NULL);
    OUT_EQ(r, "<x\ny><z>");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(sources_combine_last_fastest)
{
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/in", dir);
    FILE *f = fopen(path, "we");
    fputs("x\ny", f);
    fclose(f);
    tool_result r = TOOL("run", "-k", "echo", ":::", "a", "b", ":::", "1", "2", NULL);
    OUT_EQ(r, "a 1\na 2\nb 1\nb 2\n");
    tr_free(&r);
    r = TOOL("run", "-k", "echo", "{2}-{1}", "::::", path, ":::", "1", "2", NULL);
    OUT_EQ(r, "1-x\n2-x\n1-y\n2-y\n");
    tr_free(&r);
    /* Among several sources an empty one is one empty value (GNU parallel
       runs "echo a ''"); a single empty source runs nothing. */
    r = TOOL("run", "echo", ":::", "a", ":::", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "a \n");
    tr_free(&r);
    snprintf(path, sizeof path, "%s/empty", dir);
    f = fopen(path, "we");
    fclose(f);
    r = TOOL("run", "-k", "echo", "{1}-{2}", ":::", "a", "b", "::::", path, NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "a-\nb-\n");
    tr_free(&r);
    r = TOOL("run", "echo", "::::", path, NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

/* ---- quoting ---------------------------------------------------------------- */

START_TEST(values_stay_one_argument_never_code)
{
    char dir[64], bad1[160], bad2[160], bad3[160];
    tmpdir_make(dir, sizeof dir);
    snprintf(bad1, sizeof bad1, "x;touch %s/semi", dir);
    snprintf(bad2, sizeof bad2, "$(touch %s/subst)", dir);
    snprintf(bad3, sizeof bad3, "`touch %s/tick`", dir);
    tool_result r = TOOL("run", "-k", "-j1", "printf", "'<%s>\\n'", ":::", "a b", "it's", "$HOME",
                         bad1, bad2, bad3, "*", "\"q\"", "", "a\\b", NULL);
    ck_assert_int_eq(r.status, 0);
    char want[1024];
    snprintf(want, sizeof want, "<a b>\n<it's>\n<$HOME>\n<%s>\n<%s>\n<%s>\n<*>\n<\"q\">\n<>\n<a\\b>\n",
             bad1, bad2, bad3);
    OUT_EQ(r, want);
    ck_assert(!file_exists(dir, "semi"));
    ck_assert(!file_exists(dir, "subst"));
    ck_assert(!file_exists(dir, "tick"));
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(quoting_as_gnu_parallel)
{
    tool_result r = TOOL("run", "--dry-run", "-k", "echo", ":::", "a b", "it's", "x$y", "",
                         "plain-1.2/x", "'", "a,b", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "echo 'a b'\necho 'it'\"'\"'s'\necho 'x$y'\necho ''\necho plain-1.2/x\n"
              "echo \"'\"\necho 'a,b'\n");
    tr_free(&r);
}
END_TEST

START_TEST(command_words_joined_unquoted)
{
    /* A quoted ';' separates commands, as in GNU parallel. */
    tool_result r = TOOL("run", "-k", "echo", "{}", ";", "echo", "again", ":::", "a", NULL);
    OUT_EQ(r, "a\nagain\n");
    tr_free(&r);
}
END_TEST

/* ---- replacement strings ------------------------------------------------------ */

START_TEST(replacement_strings_corner_cases)
{
    /* Each value's {.} {/} {//} {/.}, as GNU parallel 20221122 prints them. */
    tool_result r = TOOL("run", "-k", "--dry-run", "echo", "{.}", "{/}", "{//}", "{/.}", ":::",
                         ".hidden", "a.b.c", "dir.x/file", "dir/.x", "a.", "dir/", "/", "a", "/a",
                         "dir/sub/", "./a.b", "../x", "a//b", "//a", "", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "echo '' .hidden . ''\n"
              "echo a.b a.b.c . a.b\n"
              "echo dir.x/file file dir.x file\n"
              "echo dir/ .x dir ''\n"
              "echo a a. . a\n"
              "echo dir/ '' . ''\n"
              "echo / '' / ''\n"
              "echo a a . a\n"
              "echo /a a / a\n"
              "echo dir/sub/ '' dir ''\n"
              "echo ./a a.b . a\n"
              "echo ../x x .. x\n"
              "echo a//b b a b\n"
              "echo //a a / a\n"
              "echo '' '' . ''\n");
    tr_free(&r);
}
END_TEST

START_TEST(positional_and_sequence)
{
    tool_result r = TOOL("run", "-k", "echo", "{2}", "{1}", "{}", "{#}", "{1.}", "{2/}", "{1//}",
                         "{2/.}", "{3}", ":::", "d/a.x", ":::", "e/b.y", NULL);
    OUT_EQ(r, "e/b.y d/a.x d/a.x e/b.y 1 d/a b.y d b\n");
    tr_free(&r);
    /* {#} counts jobs; with any replacement string nothing is appended. */
    r = TOOL("run", "-k", "echo", "{#}", ":::", "a", "b", "c", NULL);
    OUT_EQ(r, "1\n2\n3\n");
    tr_free(&r);
}
END_TEST

START_TEST(slot_numbers)
{
    tool_result r = TOOL("run", "-j1", "echo", "{%}", ":::", "a", "b", "c", NULL);
    OUT_EQ(r, "1\n1\n1\n");
    tr_free(&r);
    r = TOOL("run", "-j2", "echo", "{%}", ":::", "a", "b", "c", "d", "e", "f", NULL);
    for (const char *p = r.out; *p; p += 2)
        ck_assert_msg((p[0] == '1' || p[0] == '2') && p[1] == '\n', "slot line: %s", r.out);
    ck_assert_uint_eq(r.outlen, 12);
    tr_free(&r);
}
END_TEST

/* ---- output ------------------------------------------------------------------- */

START_TEST(keep_order)
{
    /* The first job ends last; -k prints in input order anyway. */
    tool_result r = TOOL("run", "-k", "-j3", "sleep {}; echo {}", ":::", "0.4", "0.2", "0", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "0.4\n0.2\n0\n");
    tr_free(&r);
}
END_TEST

/* Whether s is n lines of a then n lines of b, or the other way round. */
static bool two_blocks(const char *s, const char *a, const char *b, int n)
{
    char *want1 = calloc(1, 2 * (size_t)n * (strlen(a) + 2) + 1);
    char *want2 = calloc(1, 2 * (size_t)n * (strlen(a) + 2) + 1);
    for (int i = 0; i < n; i++)
        strcat(strcat(want1, a), "\n");
    for (int i = 0; i < n; i++)
        strcat(strcat(want1, b), "\n");
    for (int i = 0; i < n; i++)
        strcat(strcat(want2, b), "\n");
    for (int i = 0; i < n; i++)
        strcat(strcat(want2, a), "\n");
    bool ok = !strcmp(s, want1) || !strcmp(s, want2);
    free(want1);
    free(want2);
    return ok;
}

START_TEST(grouped_output_never_interleaves)
{
    /* Two jobs each write 3000 lines, one write per line, at once. */
    char *h = (char *)mproc_test_helper();
    tool_result r = TOOL("run", "-j2", h, "print", "3000", ":::", "AAAAAAAA", "BBBBBBBB", NULL);
    ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
    ck_assert_msg(two_blocks(r.out, "AAAAAAAA", "BBBBBBBB", 3000), "output interleaved");
    tr_free(&r);
}
END_TEST

START_TEST(stdout_then_stderr_per_job)
{
    tool_result r = TOOL("run", "-k", "-j2", "echo out{}; echo err{} >&2", ":::", "1", "2", NULL);
    OUT_EQ(r, "out1\nout2\n");
    ck_assert_str_eq(r.err, "err1\nerr2\n");
    tr_free(&r);
}
END_TEST

START_TEST(line_buffer_keeps_lines_whole)
{
    char *h = (char *)mproc_test_helper();
    tool_result r = TOOL("run", "--line-buffer", "-j2", h, "print", "2000", ":::", "AAAAAAAA",
                         "BBBBBBBB", NULL);
    ck_assert_int_eq(r.status, 0);
    size_t na = 0, nb = 0;
    for (char *line = r.out; *line;) {
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        if (!strcmp(line, "AAAAAAAA"))
            na++;
        else if (!strcmp(line, "BBBBBBBB"))
            nb++;
        else
            ck_abort_msg("broken line '%s'", line);
        line = nl + 1;
    }
    ck_assert_uint_eq(na, 2000);
    ck_assert_uint_eq(nb, 2000);
    tr_free(&r);
    /* A last line without its newline comes out at the end. */
    r = TOOL("run", "--line-buffer", "printf", "'x\\ny'", ":::", "1", NULL);
    OUT_EQ(r, "x\ny"); /* printf ignores the extra argument */
    tr_free(&r);
}
END_TEST

START_TEST(line_buffer_passes_lines_at_once)
{
    /* The job waits for its own first line to come out of mproc before it
       ends: that only happens if lines pass through as they come. */
    char dir[64], cmd[512];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "mkfifo %s/f && exec 3<>%s/f && ("
                              "echo first; read x <&3; echo got $x {})", dir, dir);
    int fds[2];
    char *argv[] = { "mproc", "run", "--line-buffer", cmd, ":::", "1", NULL };
    pid_t pid = tr_start(MPROC_TOOL, argv, "", 0, &fds[0], &fds[1]);
    char buf[64] = { 0 };
    ssize_t n = 0;
    while (n < 6) {
        ssize_t k = read(fds[0], buf + n, 6 - (size_t)n);
        ck_assert_int_gt(k, 0);
        n += k;
    }
    ck_assert_str_eq(buf, "first\n");
    char path[128];
    snprintf(path, sizeof path, "%s/f", dir);
    int f = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(f, 0);
    ck_assert_int_eq(write(f, "go\n", 3), 3);
    close(f);
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    tr_slurp(fds, bufs, lens);
    ck_assert_str_eq(bufs[0], "got go 1\n");
    ck_assert_int_eq(tr_wait(pid), 0);
    free(bufs[0]);
    free(bufs[1]);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(tag_prefixes_every_line)
{
    tool_result r = TOOL("run", "-k", "--tag", "echo {1}; echo e >&2; printf last", ":::", "a",
                         ":::", "b c", NULL);
    OUT_EQ(r, "a b c\ta\na b c\tlast");
    ck_assert_str_eq(r.err, "a b c\te\n");
    tr_free(&r);
}
END_TEST

START_TEST(dry_run_runs_nothing)
{
    char dir[64], cmd[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "touch %s/{}", dir);
    tool_result r = TOOL("run", "--dry-run", cmd, ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert(!file_exists(dir, "a") && !file_exists(dir, "b"));
    char want[256];
    snprintf(want, sizeof want, "touch %s/a\ntouch %s/b\n", dir, dir);
    OUT_EQ(r, want);
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(without_shell_same_result)
{
    /* Plain word lists may skip the shell; what the shell would do must not
       change: its echo's options, its "not found" and 127. */
    setenv("PARALLEL_SHELL", "/bin/sh", 1);
    tool_result r = TOOL("run", "-k", "echo", "-e", "x", ":::", "a", NULL);
    OUT_EQ(r, "-e x a\n");
    tr_free(&r);
    setenv("PARALLEL_SHELL", "/bin/bash", 1);
    r = TOOL("run", "-k", "echo", "-e", "x", ":::", "a", NULL);
    OUT_EQ(r, "x a\n");
    tr_free(&r);
    setenv("PARALLEL_SHELL", "/bin/sh", 1);
    r = TOOL("run", "no-such-command-mproc", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not found"));
    tr_free(&r);
    /* An executable without #! fails to exec (ENOEXEC); the shell runs it
       as a script. */
    char dir[64], script[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(script, sizeof script, "%s/script", dir);
    FILE *f = fopen(script, "we");
    fputs("echo from-script \"$1\"\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(script, 0755), 0);
    r = TOOL("run", script, ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "from-script a\n");
    tr_free(&r);
    tmpdir_remove(dir);
    r = TOOL("run", "-k", "FOO=bar", "env", ":::", "a", NULL);
    ck_assert_int_ne(r.status, 0); /* env: 'a': not found, with FOO set */
    tr_free(&r);
    r = TOOL("run", "-k", "true", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    r = TOOL("run", "-k", "false", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 2);
    tr_free(&r);
}
END_TEST

START_TEST(without_shell_same_pwd)
{
    /* dash sets PWD to the working directory when it is stale or unset; a
       job run directly must see the same. The case runs in its own
       process, so its environment is its own. */
    char cwd[4096], want[4200];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_str_ne(cwd, "/");
    snprintf(want, sizeof want, "%s\n", cwd);
    ck_assert_int_eq(setenv("PWD", "/", 1), 0);
    tool_result r = TOOL("run", "printenv", ":::", "PWD", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, want);
    tr_free(&r);
    ck_assert_int_eq(unsetenv("PWD"), 0);
    r = TOOL("run", "printenv", ":::", "PWD", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, want);
    tr_free(&r);
}
END_TEST

/* While the jobs fill the CPUs, mproc is held to one CPU at a time; each
   job, direct or by the shell, still gets every CPU mproc was given. */
START_TEST(jobs_get_every_cpu)
{
    FILE *f = fopen("/proc/self/status", "re");
    ck_assert_ptr_nonnull(f);
    char line[4096], want[4096] = "";
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Cpus_allowed_list:", 18))
            snprintf(want, sizeof want, "%s", line);
    fclose(f);
    ck_assert_str_ne(want, "");
    char jobs[16];
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    snprintf(jobs, sizeof jobs, "%d", CPU_COUNT(&set));
    const char *cmds[] = { "grep", "sh" };
    for (size_t k = 0; k < 2; k++) {
        tool_result r = k == 0 ? TOOL("run", "-j", jobs, "grep", "-h", "^Cpus_allowed_list:",
                                      "/proc/self/status", "{}", ":::", "/dev/null",
                                      "/dev/null", "/dev/null", "/dev/null", "/dev/null", NULL)
                               : TOOL("run", "-j", jobs,
                                      "grep -h ^Cpus_allowed_list: /proc/self/status {}", ":::",
                                      "/dev/null", "/dev/null", "/dev/null", "/dev/null",
                                      "/dev/null", NULL);
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(r.outlen, 5 * strlen(want));
        for (const char *p = r.out; *p; p += strlen(want))
            ck_assert_msg(!strncmp(p, want, strlen(want)), "%s: %s, not %s", cmds[k], r.out, want);
        tr_free(&r);
    }
}
END_TEST

START_TEST(closed_stdin_is_empty)
{
    /* GNU parallel reads a closed stdin as empty: no job, status 0. */
    const char *modes[][2] = { { "-j0", "echo" }, { "--dry-run", "echo" }, { "-j1", "echo" } };
    for (size_t k = 0; k < 3; k++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "exec %s run %s %s <&-", MPROC_TOOL, modes[k][0], modes[k][1]);
        char *argv[] = { "/bin/sh", "-c", cmd, NULL };
        tool_result r = tr_exec("/bin/sh", argv, "", 0);
        ck_assert_msg(r.status == 0, "%s: status %d: %s", modes[k][0], r.status, r.err);
        OUT_EQ(r, "");
        tr_free(&r);
    }
}
END_TEST

/* ---- exit statuses and -j ---------------------------------------------------------- */

START_TEST(exit_status_counts_failures)
{
    tool_result r = TOOL("run", "exit {}", ":::", "0", "0", NULL);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    r = TOOL("run", "exit {}", ":::", "0", "3", "4", "5", "0", NULL);
    ck_assert_int_eq(r.status, 3);
    tr_free(&r);
    char in[1024] = "";
    for (int i = 0; i < 150; i++)
        strcat(in, "1\n");
    r = TOOL_IN(in, "run", "exit", NULL);
    ck_assert_int_eq(r.status, 101);
    tr_free(&r);
    /* A job killed by a signal failed. */
    r = TOOL("run", "kill -9 $$", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 1);
    tr_free(&r);
}
END_TEST

START_TEST(jobs_zero_runs_all_at_once)
{
    /* Each job waits until all five have started: only -j 0 (or -j 5) can
       finish it. */
    char dir[64], cmd[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd,
             "touch %s/{}; while [ $(ls %s | wc -l) -lt 5 ]; do sleep 0.01; done; echo {}", dir,
             dir);
    tool_result r = TOOL("run", "-j", "0", "-k", cmd, ":::", "1", "2", "3", "4", "5", NULL);
    ck_assert_int_eq(r.status, 0);
    OUT_EQ(r, "1\n2\n3\n4\n5\n");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(jobs_limit_concurrency)
{
    /* With -j2 no more than two jobs run at once: each job records itself
       in a folder while it runs and reports how many it saw. */
    char dir[64], cmd[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "touch %s/{}; sleep 0.05; ls %s | wc -l; rm %s/{}", dir, dir, dir);
    tool_result r = TOOL("run", "-j2", cmd, ":::", "1", "2", "3", "4", "5", "6", NULL);
    ck_assert_int_eq(r.status, 0);
    for (const char *p = r.out; *p; p++)
        ck_assert_msg(*p == '\n' || *p == ' ' || *p == '1' || *p == '2', "saw more: %s", r.out);
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

/* ---- usage errors ----------------------------------------------------------------- */

static void expect_usage_error_lines(tool_result *r, const char *dir, size_t lines)
{
    ck_assert_int_eq(r->status, 255);
    ck_assert_str_eq(r->out, "");
    ck_assert_msg(r->errlen > 0 && count_char(r->err, '\n') == lines &&
                      r->err[r->errlen - 1] == '\n',
                  "expected one line on stderr, got '%s'", r->err);
    ck_assert(!file_exists(dir, "ran"));
    tr_free(r);
}

static void expect_usage_error(tool_result *r, const char *dir)
{
    expect_usage_error_lines(r, dir, 1);
}

START_TEST(usage_errors)
{
    char dir[64], cmd[128], missing[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "touch %s/ran", dir);
    snprintf(missing, sizeof missing, "%s/no-such-file", dir);
    /* An unknown option adds a line pointing at --help. */
    tool_result r = TOOL("run", "--no-such-option", cmd, ":::", "a", NULL);
    ck_assert_ptr_nonnull(strstr(r.err, "'--no-such-option'\nsee mproc run --help\n"));
    expect_usage_error_lines(&r, dir, 2);
    r = TOOL("run", cmd, "::::", missing, NULL);
    expect_usage_error(&r, dir);
    r = TOOL("run", "-j", "many", cmd, ":::", "a", NULL);
    expect_usage_error(&r, dir);
    r = TOOL("run", "--timeout", "soon", cmd, ":::", "a", NULL);
    expect_usage_error(&r, dir);
    r = TOOL("run", "--halt", "later", cmd, ":::", "a", NULL);
    expect_usage_error(&r, dir);
    r = TOOL("run", "--retries", "x", cmd, ":::", "a", NULL);
    expect_usage_error(&r, dir);
    r = TOOL("run", "-j", NULL);
    expect_usage_error(&r, dir);
    r = TOOL("nonsense", NULL);
    expect_usage_error(&r, dir);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(help_texts)
{
    tool_result r = TOOL("--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "run"));
    ck_assert_ptr_nonnull(strstr(r.out, "tree"));
    tr_free(&r);
    r = TOOL("run", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--halt"));
    ck_assert_ptr_nonnull(strstr(r.out, "--joblog"));
    tr_free(&r);
}
END_TEST

/* ---- against GNU parallel ------------------------------------------------------------ */

START_TEST(same_as_gnu_parallel)
{
    if (!have_parallel())
        return;
    char *cases[][16] = {
        { "-k", "echo", ":::", "a b", "c'd", "$x", "", "e;f", NULL },
        { "-k", "--dry-run", "echo", "{.}", "{/}", "{//}", "{/.}", ":::", ".h", "d/", "a/b.c",
          "x.tar.gz", NULL },
        { "-k", "--tag", "echo", ":::", "a", "b", ":::", "c d", NULL },
        { "-k", "echo", "{2}", "{1}", "{#}", ":::", "a", "b", ":::", "c", "d", NULL },
        { "-k", "exit {}", ":::", "0", "3", "0", "4", NULL },
        { "-j1", "--halt", "soon,fail=1", "echo {}; exit {}", ":::", "0", "5", "0", NULL },
        { "-j1", "--halt", "now,fail=2", "exit {}", ":::", "0", "3", "4", "5", NULL },
        { "-j1", "--halt", "now,success=2", "echo {}; exit {}", ":::", "1", "0", "2", "0", "5",
          NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_as_parallel(NULL, cases[i]);
    same_as_parallel("a\n\nb c\n", (char *[]){ "-k", "echo", "x{}", NULL });
    same_as_parallel("1\n2\n", (char *[]){ "-k", "--dry-run", "echo", "{#}:{}", NULL });
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "inputs", 30);
    tcase_add_test(tc, values_from_triple_colon);
    tcase_add_test(tc, values_from_stdin);
    tcase_add_test(tc, stdin_values_start_jobs_before_its_end);
    tcase_add_test(tc, null_separated_values);
    tcase_add_test(tc, sources_combine_last_fastest);
    tc = mproc_tcase(s, "quoting", 30);
    tcase_add_test(tc, values_stay_one_argument_never_code);
    tcase_add_test(tc, quoting_as_gnu_parallel);
    tcase_add_test(tc, command_words_joined_unquoted);
    tc = mproc_tcase(s, "replacement", 30);
    tcase_add_test(tc, replacement_strings_corner_cases);
    tcase_add_test(tc, positional_and_sequence);
    tcase_add_test(tc, slot_numbers);
    tc = mproc_tcase(s, "output", 60);
    tcase_add_test(tc, keep_order);
    tcase_add_test(tc, grouped_output_never_interleaves);
    tcase_add_test(tc, stdout_then_stderr_per_job);
    tcase_add_test(tc, line_buffer_keeps_lines_whole);
    tcase_add_test(tc, line_buffer_passes_lines_at_once);
    tcase_add_test(tc, tag_prefixes_every_line);
    tcase_add_test(tc, dry_run_runs_nothing);
    tcase_add_test(tc, without_shell_same_result);
    tcase_add_test(tc, without_shell_same_pwd);
    tcase_add_test(tc, closed_stdin_is_empty);
    tcase_add_test(tc, jobs_get_every_cpu);
    tc = mproc_tcase(s, "status", 60);
    tcase_add_test(tc, exit_status_counts_failures);
    tcase_add_test(tc, jobs_zero_runs_all_at_once);
    tcase_add_test(tc, jobs_limit_concurrency);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, help_texts);
    tc = mproc_tcase(s, "gnu-parallel", 120);
    tcase_add_test(tc, same_as_gnu_parallel);
}
