/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_control.c: `mproc run`'s job control and information options
 * (-P, --delay, --termseq, --timeout N%, --memfree, --load, --nice, --env,
 * --use-cores-instead-of-threads, --number-of-*, --version,
 * --min-version, --gnu, --citation), compared with GNU parallel. */
#include "test_run_util.h"

#include <math.h>

START_TEST(max_procs_is_jobs)
{
    tool_result r = TOOL("run", "-P1", "-k", "echo {%} {}", ":::", "a", "b", NULL);
    ck_assert_str_eq(r.out, "1 a\n1 b\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-P1", "-k", "echo {%} {}", ":::", "a", "b");
    GNU_SAME(NULL, "--max-procs", "2", "-k", "echo", ":::", "a", "b");
    /* With one socket, 100% of the sockets is one slot. */
    GNU_SAME(NULL, "--use-sockets-instead-of-threads", "-j100%", "-k", "echo {%}", ":::", "a",
             "b", "c");
    GNU_SAME(NULL, "--use-cores-instead-of-threads", "-k", "echo", ":::", "a", "b");
}
END_TEST

START_TEST(information_as_gnu)
{
    tool_result r = TOOL("run", "--version", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(!strncmp(r.out, "mproc ", 6), "got '%s'", r.out);
    tr_free(&r);
    r = TOOL("run", "-V", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(!strncmp(r.out, "mproc ", 6), "got '%s'", r.out);
    tr_free(&r);
    r = TOOL("run", "--citation", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "--number-of-cores");
    GNU_SAME(NULL, "--number-of-threads");
    GNU_SAME(NULL, "--number-of-sockets");
    GNU_SAME(NULL, "--number-of-cpus");
    GNU_SAME(NULL, "--min-version", "20130222");
    GNU_SAME(NULL, "--min-version", "20990101");
    GNU_SAME(NULL, "--gnu", "-k", "echo", ":::", "a");
    GNU_SAME(NULL, "--env", "HOME", "--env", "PATH", "-k", "echo", ":::", "a");
}
END_TEST

static double first_field(const char *s)
{
    return strtod(s, NULL);
}

START_TEST(delay_spaces_the_starts)
{
    /* Two jobs, two slots: the second starts no sooner than the delay after
       the first. The joblog's Starttime is the runner's own clock at each
       spawn, so the lower bound holds however loaded the machine is (a time
       the job itself printed would not: it may run late). */
    char dir[64], log[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/log", dir);
    tool_result r = TOOL("run", "-j2", "--joblog", log, "--delay", "0.4", "true", ":::", "a", "b",
                         NULL);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    FILE *f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    double start[3] = { 0 };
    int n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* the header */
    while (n < 3 && fgets(line, sizeof line, f)) {
        /* Seq Host Starttime ...: the third field, tab-separated. */
        char *t = strchr(line, '\t');
        ck_assert_ptr_nonnull(t);
        t = strchr(t + 1, '\t');
        ck_assert_ptr_nonnull(t);
        start[n++] = first_field(t + 1);
    }
    fclose(f);
    tmpdir_remove(dir);
    ck_assert_int_eq(n, 2);
    double gap = start[1] > start[0] ? start[1] - start[0] : start[0] - start[1];
    ck_assert_msg(gap >= 0.399, "started %.3f s apart", gap);
    r = TOOL("run", "--delay", "1m30", "echo", ":::", "a", NULL);
    /* Units as GNU parallel's: only the first job runs at once. */
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\n");
    tr_free(&r);
    r = TOOL("run", "--delay", "soon", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
}
END_TEST

START_TEST(termseq_chooses_the_signals)
{
    /* The job traps USR1: the first signal of the sequence reaches it. */
    char job[] = "trap 'echo got-usr1; exit 3' USR1; sleep 30 & wait # {}";
    tool_result r = TOOL("run", "--timeout", "0.5", "--termseq", "USR1,2000,KILL,25", job, ":::",
                         "a", NULL);
    ck_assert_str_eq(r.out, "got-usr1\n");
    ck_assert_int_eq(r.status, 1);
    tr_free(&r);
    r = TOOL("run", "--termseq", "NOSUCH,10", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "--timeout", "0.5", "--termseq", "USR1,2000,KILL,25", job, ":::", "a");
}
END_TEST

START_TEST(timeout_percent_of_the_median)
{
    /* Three one-second jobs set the median; the slow one is then far past
       300% of it. The quick jobs sleep a whole second so that a start
       delayed by a loaded machine (a sanitizer build, other tests beside
       this one) cannot put one of them past three times the median of the
       ones before it. */
    char *args[] = { "-j1", "-k", "--timeout", "300%", "sleep {}; echo {}", ":::", "1", "1", "1",
                     "30", NULL };
    tool_result r = TOOL("run", "-j1", "-k", "--timeout", "300%", "sleep {}; echo {}", ":::",
                         "1", "1", "1", "30", NULL);
    ck_assert_str_eq(r.out, "1\n1\n1\n");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "timed out"));
    tr_free(&r);
    if (have_parallel())
        same_as_parallel(NULL, args);
}
END_TEST

START_TEST(memfree_and_load_throttle)
{
    /* Plenty of memory and a load limit far above the machine's: the jobs
       run as without them; values that are no size or load are refused. */
    tool_result r = TOOL("run", "-k", "--memfree", "1k", "--load", "100000", "echo", ":::", "a",
                         "b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\nb\n");
    tr_free(&r);
    r = TOOL("run", "--memfree", "lots", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    r = TOOL("run", "--load", "high", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "--memfree", "1k", "--load", "100000", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "--load", "+100000", "echo", ":::", "a", "b");
}
END_TEST

START_TEST(nice_sets_the_jobs_niceness)
{
    tool_result r = TOOL("run", "--nice", "7", "nice #", ":::", "a", NULL);
    ck_assert_str_eq(r.out, "7\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "--nice", "7", "nice #", ":::", "a");
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "control", 120);
    tcase_add_test(tc, max_procs_is_jobs);
    tcase_add_test(tc, information_as_gnu);
    tcase_add_test(tc, delay_spaces_the_starts);
    tcase_add_test(tc, termseq_chooses_the_signals);
    tcase_add_test(tc, timeout_percent_of_the_median);
    tcase_add_test(tc, memfree_and_load_throttle);
    tcase_add_test(tc, nice_sets_the_jobs_niceness);
}
