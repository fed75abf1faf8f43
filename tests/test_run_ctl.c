/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_ctl.c: `mproc run` ending jobs: --timeout, --retries, --halt,
 * interrupts; and what it records: --joblog, --bar. */
#include "test_run_util.h"

#include <stdlib.h>
#include <sys/ioctl.h>

/* The numbers in a file of "PID PID ..." lines: up to cap of them. */
static int read_pids(const char *text, pid_t *pids, int cap)
{
    int n = 0;
    for (const char *p = text; *p && n < cap;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        pids[n++] = (pid_t)v;
        p = end;
    }
    return n;
}

/* ---- --timeout ------------------------------------------------------------------- */

START_TEST(timeout_kills_the_job_and_its_children)
{
    /* The job forks a sleeping child and waits: both must be gone, the
       output so far kept (a second is time enough to print it, even on a
       loaded machine), the job failed with Exitval -1, Signal 15. */
    char dir[64], log[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/log", dir);
    tool_result r = TOOL("run", "--timeout", "1", "--joblog", log,
                         "sleep 60 & echo $$ $! {}; wait", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 1);
    pid_t pids[2];
    ck_assert_int_eq(read_pids(r.out, pids, 2), 2);
    ck_assert(mproc_test_wait_gone(pids[0], 5));
    ck_assert(mproc_test_wait_gone(pids[1], 5));
    char *text = file_read(log);
    char *line = strchr(text, '\n') + 1;
    char *f[9];
    for (int i = 0; i < 9; i++)
        f[i] = strsep(&line, "\t\n");
    ck_assert_str_eq(f[6], "-1");
    ck_assert_str_eq(f[7], "15");
    free(text);
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(timeout_kills_a_job_that_ignores_sigterm)
{
    tool_result r = TOOL("run", "--timeout", "1", "trap '' TERM; sleep 60 & echo $! {}; wait",
                         ":::", "a", NULL);
    ck_assert_int_eq(r.status, 1);
    pid_t pid;
    ck_assert_int_eq(read_pids(r.out, &pid, 1), 1);
    ck_assert(mproc_test_wait_gone(pid, 5));
    tr_free(&r);
}
END_TEST

START_TEST(timeout_spares_quick_jobs)
{
    tool_result r = TOOL("run", "-k", "--timeout", "30", "echo", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\nb\n");
    tr_free(&r);
}
END_TEST

/* ---- --retries ----------------------------------------------------------------- */

START_TEST(retries_until_success)
{
    /* The job fails until its third try; a counter file tells the tries. */
    char dir[64], cmd[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd,
             "n=$(cat %s/{} 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/{}; "
             "echo try$n; [ $n -ge 3 ]",
             dir, dir);
    tool_result r = TOOL("run", "--retries", "3", cmd, ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "try3\n"); /* only the last try's output */
    tr_free(&r);
    r = TOOL("run", "--retries", "2", cmd, ":::", "b", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "try2\n");
    tr_free(&r);
    r = TOOL("run", cmd, ":::", "c", NULL); /* one try by default */
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "try1\n");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(retries_line_buffer_prints_the_last_try)
{
    /* --line-buffer holds a try that may be retried: only the last try's
       lines are printed, with and without -k. */
    char dir[64], cmd[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(cmd, sizeof cmd,
             "n=$(cat %s/{} 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/{}; "
             "echo try$n; echo err$n >&2; [ $n -ge 3 ]",
             dir, dir);
    tool_result r = TOOL("run", "--line-buffer", "--retries", "3", cmd, ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "try3\n");
    ck_assert_str_eq(r.err, "err3\n");
    tr_free(&r);
    r = TOOL("run", "-k", "--line-buffer", "--retries", "2", cmd, ":::", "b", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "try2\n");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

/* ---- --halt ----------------------------------------------------------------------- */

START_TEST(halt_now_kills_running_jobs)
{
    /* Job 2 sleeps; job 1 fails once job 2 has written its PID. */
    char dir[64], cmd[512], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pid", dir);
    snprintf(cmd, sizeof cmd,
             "if [ {} = fail ]; then while [ ! -s %s ]; do sleep 0.01; done; exit 7; "
             "else echo $$ > %s; exec sleep 60; fi",
             path, path);
    tool_result r = TOOL("run", "-j2", "--halt", "now,fail=1", cmd, ":::", "fail", "sleep", NULL);
    ck_assert_int_eq(r.status, 7); /* the failing job's own status */
    char *text = file_read(path);
    pid_t pid;
    ck_assert_int_eq(read_pids(text, &pid, 1), 1);
    ck_assert(mproc_test_wait_gone(pid, 5));
    free(text);
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(halt_soon_starts_no_more)
{
    tool_result r = TOOL("run", "-j1", "--halt", "soon,fail=1", "echo {}; exit {}", ":::", "0",
                         "2", "0", "0", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "0\n2\n");
    tr_free(&r);
    /* fail=N, N > 1: the number failed. */
    r = TOOL("run", "-j1", "--halt", "soon,fail=2", "echo {}; exit {}", ":::", "3", "0", "4",
             "5", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "3\n0\n4\n");
    tr_free(&r);
    /* success=N: 0 once N succeeded. */
    r = TOOL("run", "-j1", "--halt", "now,success=1", "echo {}; exit {}", ":::", "1", "0", "1",
             NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "1\n0\n");
    tr_free(&r);
    /* The old numeric form: 1 is soon,fail=1. */
    r = TOOL("run", "-j1", "--halt", "1", "echo {}; exit {}", ":::", "0", "9", "0", NULL);
    ck_assert_int_eq(r.status, 9);
    ck_assert_str_eq(r.out, "0\n9\n");
    tr_free(&r);
}
END_TEST

START_TEST(halt_percent_of_all_jobs)
{
    /* fail=X% counts against all the jobs, and the status is the rounded-up
       percentage that failed, as GNU parallel's. */
    tool_result r = TOOL("run", "-j1", "--halt", "now,fail=30%", "echo {}; exit {}", ":::", "0",
                         "0", "1", "1", "1", "0", "0", "0", "0", "0", NULL);
    ck_assert_int_eq(r.status, 30);
    ck_assert_str_eq(r.out, "0\n0\n1\n1\n1\n");
    tr_free(&r);
    r = TOOL("run", "-j1", "--halt", "soon,fail=20%", "exit {}", ":::", "0", "1", "1", "0", "0",
             "0", "0", NULL);
    ck_assert_int_eq(r.status, 29); /* 2 of 7 */
    tr_free(&r);
    r = TOOL("run", "-j1", "--halt", "now,fail=30%", "exit {}", ":::", "1", "0", "0", "0", "0",
             "0", "0", "0", "0", "0", NULL);
    ck_assert_int_eq(r.status, 10); /* no halt: 1 of 10 */
    tr_free(&r);
    r = TOOL("run", "-j1", "--halt", "now,success=50%", "echo {}; exit {}", ":::", "0", "1", "0",
             "1", "0", "1", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "0\n1\n0\n1\n0\n");
    tr_free(&r);
}
END_TEST

START_TEST(halt_on_a_timed_out_job_is_255)
{
    /* A timed-out job's Exitval is -1: GNU parallel leaves with 255. */
    tool_result r = TOOL("run", "--timeout", "0.2", "--halt", "now,fail=1", "sleep {}", ":::",
                         "60", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
}
END_TEST

START_TEST(halt_now_drops_held_output)
{
    /* -k holds job 2's output behind job 1; job 3 starts only once job 2
       has ended (-j2), fails and halts now: nothing held is printed. */
    tool_result r = TOOL("run", "-k", "-j2", "--halt", "now,fail=1",
                         "case {} in 1) exec sleep 60;; 2) echo held;; 3) exit 3;; esac", ":::",
                         "1", "2", "3", NULL);
    ck_assert_int_eq(r.status, 3);
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
}
END_TEST

START_TEST(halt_names_every_failed_job)
{
    tool_result r = TOOL("run", "-j1", "--halt", "soon,fail=3", "exit {}", ":::", "1", "2", "0",
                         NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "This job failed:\nexit 1\n"));
    ck_assert_ptr_nonnull(strstr(r.err, "This job failed:\nexit 2\n"));
    ck_assert_ptr_null(strstr(r.err, "exit 0"));
    tr_free(&r);
}
END_TEST

/* ---- --joblog ------------------------------------------------------------------- */

START_TEST(joblog_columns)
{
    char dir[64], log[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/log", dir);
    FILE *f = fopen(log, "we");
    fputs("old content that must go\n", f);
    fclose(f);
    tool_result r = TOOL("run", "-j1", "--joblog", log, "printf {}; exit {}", ":::", "0", "12",
                         NULL);
    ck_assert_int_eq(r.status, 1);
    tr_free(&r);
    r = TOOL("run", "--joblog", log, "-j1", "-k", "printf {}; exit {}", ":::", "0", "12", NULL);
    tr_free(&r);
    char *text = file_read(log);
    char *rest = text;
    char *header = strsep(&rest, "\n");
    ck_assert_str_eq(header, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\t"
                             "Command");
    const char *want_cmd[] = { "printf 0; exit 0", "printf 12; exit 12" };
    const char *want_exit[] = { "0", "12" };
    const char *want_recv[] = { "1", "2" };
    for (int i = 0; i < 2; i++) {
        char *line = strsep(&rest, "\n");
        ck_assert_ptr_nonnull(line);
        ck_assert_uint_eq(count_char(line, '\t'), 8);
        char *f9[9];
        for (int k = 0; k < 9; k++)
            f9[k] = strsep(&line, "\t");
        char seq[8];
        snprintf(seq, sizeof seq, "%d", i + 1);
        ck_assert_str_eq(f9[0], seq);
        ck_assert_str_eq(f9[1], ":");
        double start = strtod(f9[2], NULL);
        ck_assert(start > 1e9 && strchr(f9[2], '.') && strlen(strchr(f9[2], '.')) == 4);
        ck_assert_uint_eq(strlen(f9[3]), 10); /* %10.3f */
        ck_assert(strtod(f9[3], NULL) >= 0);
        ck_assert_str_eq(f9[4], "0");
        ck_assert_str_eq(f9[5], want_recv[i]);
        ck_assert_str_eq(f9[6], want_exit[i]);
        ck_assert_str_eq(f9[7], "0");
        ck_assert_str_eq(f9[8], want_cmd[i]);
    }
    ck_assert_str_eq(rest, "");
    free(text);

    /* Killed by signal 9: Exitval 0, Signal 9. */
    r = TOOL("run", "--joblog", log, "kill -9 $$", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 1);
    tr_free(&r);
    text = file_read(log);
    ck_assert_ptr_nonnull(strstr(text, "\t0\t0\t9\tkill -9 $$ a\n"));
    free(text);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(joblog_newline_in_command_is_nul)
{
    char dir[64], in[128], log[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    FILE *f = fopen(in, "we");
    fwrite("c\nd", 1, 4, f);
    fclose(f);
    tool_result r = TOOL("run", "-0", "--joblog", log, "echo", "::::", in, NULL);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    f = fopen(log, "re");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* Two lines: the header and the job, whose command has a NUL. */
    size_t lines = 0;
    for (size_t k = 0; k < n; k++)
        lines += buf[k] == '\n';
    ck_assert_uint_eq(lines, 2);
    const char want[] = "\techo 'c\0d'\n";
    ck_assert_uint_ge(n, sizeof want - 1);
    ck_assert(!memcmp(buf + n - (sizeof want - 1), want, sizeof want - 1));
    tmpdir_remove(dir);
}
END_TEST

START_TEST(joblog_stdout_and_append)
{
    /* - is stdout, after the job's output; no file named - is made (in a
       fresh folder, so none was there before). */
    char dir[64], log[128], plus[130], here[4096];
    tmpdir_make(dir, sizeof dir);
    ck_assert_ptr_nonnull(getcwd(here, sizeof here));
    ck_assert_int_eq(chdir(dir), 0);
    tool_result r = TOOL("run", "--joblog", "-", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(!strncmp(r.out, "Seq\tHost\t", 9), "%s", r.out);
    char *job = strchr(r.out, '\n') + 1;
    ck_assert(!strncmp(job, "a\n1\t:\t", 6));
    ck_assert_int_eq(strcmp(r.out + r.outlen - 8, "\techo a\n"), 0);
    ck_assert_int_eq(access("-", F_OK), -1);
    ck_assert_int_eq(chdir(here), 0);
    tr_free(&r);
    /* +FILE appends, with no header. */
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(plus, sizeof plus, "+%s", log);
    FILE *f = fopen(log, "we");
    fputs("old\n", f);
    fclose(f);
    r = TOOL("run", "--joblog", plus, "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    r = TOOL("run", "--joblog", plus, "echo", ":::", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    char *text = file_read(log);
    ck_assert(!strncmp(text, "old\n1\t:\t", 8));
    ck_assert_ptr_null(strstr(text, "Seq"));
    ck_assert_uint_eq(count_char(text, '\n'), 3);
    ck_assert_ptr_nonnull(strstr(text, "\techo a\n1\t:\t"));
    ck_assert_int_eq(strcmp(text + strlen(text) - 8, "\techo b\n"), 0);
    free(text);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(joblog_unwritable_is_usage_error)
{
    tool_result r = TOOL("run", "--joblog", "/nonexistent-dir/log", "true", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_uint_eq(count_char(r.err, '\n'), 1);
    tr_free(&r);
}
END_TEST

/* ---- interrupts -------------------------------------------------------------------- */

/* Start two jobs that each fork a sleeper and wait; read their "sh sleeper"
   PIDs from the passed-through output; send sig to mproc; every process
   must be gone and mproc must end by that signal. */
static void interrupt_leaves_nothing(int sig)
{
    int fds[2];
    char *argv[] = { "mproc", "run", "--line-buffer", "-j2", "sleep 60 & echo $$ $! {}; wait",
                     ":::", "a", "b", NULL };
    pid_t tool = tr_start(MPROC_TOOL, argv, "", 0, &fds[0], &fds[1]);
    char buf[256] = { 0 };
    size_t n = 0;
    while (count_char(buf, '\n') < 2) {
        ssize_t k = read(fds[0], buf + n, sizeof buf - 1 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    pid_t pids[4];
    ck_assert_int_eq(read_pids(buf, pids, 4), 4);
    for (int i = 0; i < 4; i++)
        ck_assert(mproc_test_alive(pids[i]));
    ck_assert_int_eq(kill(tool, sig), 0);
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    tr_slurp(fds, bufs, lens);
    ck_assert_int_eq(tr_wait(tool), 128 + sig);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(mproc_test_wait_gone(pids[i], 5), "pid %d left behind", (int)pids[i]);
    free(bufs[0]);
    free(bufs[1]);
}

START_TEST(sigterm_leaves_nothing)
{
    interrupt_leaves_nothing(SIGTERM);
}
END_TEST

START_TEST(sigint_leaves_nothing)
{
    interrupt_leaves_nothing(SIGINT);
}
END_TEST

START_TEST(ignored_interrupts_do_not_stop_the_run)
{
    /* nohup: an interrupt the caller ignores lets the job finish, status 0.
       The job waits for a file that is made only after the signal was
       sent. */
    static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
    char dir[64], go[128], cmd[512], script[256];
    tmpdir_make(dir, sizeof dir);
    for (size_t k = 0; k < 3; k++) {
        snprintf(go, sizeof go, "%s/go%zu", dir, k);
        snprintf(script, sizeof script,
                 "echo started; while [ ! -e %s ]; do sleep 0.01; done; echo done", go);
        snprintf(cmd, sizeof cmd, "trap '' %d; exec %s run --line-buffer \"$0\" ::: a", sigs[k],
                 MPROC_TOOL);
        char *argv[] = { "/bin/sh", "-c", cmd, script, NULL };
        int fds[2];
        pid_t tool = tr_start("/bin/sh", argv, "", 0, &fds[0], &fds[1]);
        char buf[64] = { 0 };
        size_t n = 0;
        while (!strchr(buf, '\n')) {
            ssize_t got = read(fds[0], buf + n, sizeof buf - 1 - n);
            ck_assert_int_gt(got, 0);
            n += (size_t)got;
        }
        ck_assert_int_eq(kill(tool, sigs[k]), 0);
        FILE *f = fopen(go, "we");
        fclose(f);
        char *bufs[2] = { NULL, NULL };
        size_t lens[2] = { 0, 0 };
        tr_slurp(fds, bufs, lens);
        ck_assert_int_eq(tr_wait(tool), 0);
        ck_assert_str_eq(bufs[0], "done a\n");
        free(bufs[0]);
        free(bufs[1]);
    }
    tmpdir_remove(dir);
}
END_TEST

START_TEST(closed_stdout_ends_the_jobs)
{
    /* The reader goes away after the first line: mproc ends the jobs and
       leaves by SIGPIPE, as a filter would. */
    int fds[2];
    char *argv[] = { "mproc", "run", "--line-buffer",
                     "echo $$; while :; do echo {}; sleep 0.01; done", ":::", "a", NULL };
    pid_t tool = tr_start(MPROC_TOOL, argv, "", 0, &fds[0], &fds[1]);
    char buf[64] = { 0 };
    size_t n = 0;
    while (!strchr(buf, '\n')) {
        ssize_t k = read(fds[0], buf + n, sizeof buf - 1 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    pid_t job = (pid_t)atoi(buf);
    close(fds[0]);
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    int errfd[2] = { -1, fds[1] };
    tr_slurp(errfd, bufs, lens);
    ck_assert_int_eq(tr_wait(tool), 128 + SIGPIPE);
    ck_assert(mproc_test_wait_gone(job, 5));
    free(bufs[0]);
    free(bufs[1]);
}
END_TEST

/* ---- --bar ------------------------------------------------------------------------- */

START_TEST(bar_only_on_a_terminal)
{
    tool_result r = TOOL("run", "--bar", "true", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, ""); /* stderr is a pipe here */
    tr_free(&r);

    /* On a terminal: done/total, percent, rate, time left. */
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    ck_assert_int_ge(slave, 0);
    int po[2];
    ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, slave, 2);
    char *argv[] = { "mproc", "run", "--bar", "-j2", "true", ":::", "a", "b", "c", NULL };
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, MPROC_TOOL, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(slave);
    char out[16];
    ck_assert_int_eq(read(po[0], out, sizeof out), 0); /* the tool has ended */
    close(po[0]);
    ck_assert_int_eq(tr_wait(pid), 0);
    char bar[4096] = { 0 };
    size_t n = 0;
    struct pollfd p = { master, POLLIN, 0 };
    while (n < sizeof bar - 1 && poll(&p, 1, 0) > 0) {
        ssize_t k = read(master, bar + n, sizeof bar - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(master);
    ck_assert_msg(strstr(bar, "3/3") && strstr(bar, "100%") && strstr(bar, "/s") &&
                      strstr(bar, "left"),
                  "bar: '%s'", bar);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "timeout", 30);
    tcase_add_test(tc, timeout_kills_the_job_and_its_children);
    tcase_add_test(tc, timeout_kills_a_job_that_ignores_sigterm);
    tcase_add_test(tc, timeout_spares_quick_jobs);
    tc = mproc_tcase(s, "retries", 30);
    tcase_add_test(tc, retries_until_success);
    tcase_add_test(tc, retries_line_buffer_prints_the_last_try);
    tc = mproc_tcase(s, "halt", 30);
    tcase_add_test(tc, halt_now_kills_running_jobs);
    tcase_add_test(tc, halt_soon_starts_no_more);
    tcase_add_test(tc, halt_percent_of_all_jobs);
    tcase_add_test(tc, halt_on_a_timed_out_job_is_255);
    tcase_add_test(tc, halt_now_drops_held_output);
    tcase_add_test(tc, halt_names_every_failed_job);
    tc = mproc_tcase(s, "joblog", 30);
    tcase_add_test(tc, joblog_columns);
    tcase_add_test(tc, joblog_newline_in_command_is_nul);
    tcase_add_test(tc, joblog_stdout_and_append);
    tcase_add_test(tc, joblog_unwritable_is_usage_error);
    tc = mproc_tcase(s, "interrupt", 30);
    tcase_add_test(tc, sigterm_leaves_nothing);
    tcase_add_test(tc, sigint_leaves_nothing);
    tcase_add_test(tc, ignored_interrupts_do_not_stop_the_run);
    tcase_add_test(tc, closed_stdout_ends_the_jobs);
    tc = mproc_tcase(s, "bar", 30);
    tcase_add_test(tc, bar_only_on_a_terminal);
}
