/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_pipe.c: `mproc run --pipe`: stdin cut into blocks of whole
 * records, compared with GNU parallel on the same command lines. */
#include "test_run_util.h"

/* "1\n2\n...n\n", as seq prints it; the caller frees it. */
static char *seq_text(int n)
{
    size_t cap = (size_t)n * 8 + 1, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    for (int i = 1; i <= n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%d\n", i);
    return s;
}

START_TEST(blocks_end_at_records)
{
    char *in = seq_text(3000); /* 13893 bytes */
    /* Each 2k block ends at the last newline within its first 2000 bytes. */
    tool_result r = TOOL_IN(in, "run", "--pipe", "-k", "--block", "2k", "wc -c", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "2000\n1998\n2000\n2000\n2000\n2000\n1895\n");
    tr_free(&r);
    r = TOOL_IN(in, "run", "--pipe", "-k", "-j1", "--block", "5k", "echo {#} {%}; tail -n1", NULL);
    ck_assert_str_eq(r.out, "1 1\n1221\n2 1\n2221\n3 1\n3000\n");
    tr_free(&r);
    r = TOOL_IN("", "run", "--pipe", "wc -c", NULL);
    ck_assert_str_eq(r.out, "");
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(in, "--pipe", "-k", "--block", "2k", "wc -c");
        GNU_SAME(in, "--pipe", "-k", "--block", "1Ki", "wc -lc");
        GNU_SAME(in, "--pipe", "-k", "--block", "1.5k", "wc -lc");
        GNU_SAME(in, "--spreadstdin", "-k", "-j3", "--block-size", "3K", "wc -lc");
        GNU_SAME(in, "--pipe", "-k", "-j1", "--block", "1000", "echo {#} {%}; wc -c");
        GNU_SAME(in, "--pipe", "--block", "100k", "wc -l");
        GNU_SAME(in, "--pipe", "-k", "--tag", "--block", "4k", "wc -c");
        GNU_SAME("", "--pipe", "wc -c");
        GNU_SAME("a\nb", "--pipe", "-k", "--block", "1", "cat; echo ==");
    }
    free(in);
}
END_TEST

START_TEST(block_grows_past_long_records)
{
    tool_result r = TOOL_IN("abcdef\ngh\n", "run", "--pipe", "-k", "--block", "2", "cat; echo =", NULL);
    ck_assert_str_eq(r.out, "abcdef\n=\ngh\n=\n");
    ck_assert_ptr_nonnull(strstr(r.err, "A record was longer than 2. Increasing to --blocksize 4."));
    tr_free(&r);
    if (have_parallel())
        GNU_SAME("abcdef\ngh\n", "--pipe", "-k", "--block", "2", "cat; echo =");
}
END_TEST

START_TEST(recstart_recend_rrs)
{
    char *in = seq_text(300);
    tool_result r = TOOL_IN(">a\n1\n>b\n2\n", "run", "--pipe", "-k", "--block", "4", "--recstart",
                            ">", "--rrs", "cat; echo =", NULL);
    ck_assert_str_eq(r.out, "a\n1\n=\nb\n2\n=\n");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(in, "--pipe", "-k", "--block", "10", "--recend", "5", "--recstart", "1",
                 "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--block", "10", "--rrs", "--recend", "5\\n", "--recstart",
                 "1", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--block", "50", "--recstart", "2", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--block", "50", "--recend", "0\\n", "--rrs", "cat; echo ==");
        GNU_SAME(">a\n1\n>b\n2\n", "--pipe", "-k", "--block", "4", "--recstart", ">", "--rrs",
                 "cat; echo =");
    }
    free(in);
}
END_TEST

START_TEST(regexp_records)
{
    char *in = seq_text(300);
    const char *fasta = ">a\nAC\n>b\nGT\n>c\nAA\n";
    tool_result r = TOOL_IN(fasta, "run", "--pipe", "-k", "--regexp", "--block", "5",
                            "--recstart", "^>", "--rrs", "cat; echo =", NULL);
    ck_assert_str_eq(r.out, "a\nAC\n=\nb\nGT\n=\nc\nAA\n=\n");
    tr_free(&r);
    r = TOOL("run", "--pipe", "--regexp", "--recend", "(", "cat", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(fasta, "--pipe", "-k", "--regexp", "--block", "5", "--recstart", "^>", "--rrs",
                 "cat; echo =");
        GNU_SAME(in, "--pipe", "-k", "--regexp", "--block", "50", "--recstart", "[24]",
                 "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--regexp", "--rrs", "--block", "50", "--recend", "[05]\n",
                 "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--regexp", "--block", "50", "--recend", "", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--regexp", "--block", "50", "--recend", "5|7",
                 "cat; echo ==");
    }
    free(in);
}
END_TEST

/* -N with --regexp: N records a block, what comes before the first record
   start a block of its own, as GNU parallel cuts them. */
START_TEST(regexp_records_per_block)
{
    const char *in = "foo,bar,_baz,__qux,xx\n";
    tool_result r = TOOL_IN(in, "run", "--pipe", "-kN1", "--regexp", "--recend", ",_+",
                            "echo JOB{#};cat;echo END", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "JOB1\nfoo,bar,_END\nJOB2\nbaz,__END\nJOB3\nqux,xx\nEND\n");
    tr_free(&r);
    if (have_parallel()) {
        char *seq = seq_text(2000);
        GNU_SAME(in, "--pipe", "-kN1", "--rrs", "--regexp", "--recend", ",_+",
                 "echo JOB{#};cat;echo END");
        GNU_SAME(in, "--pipe", "-kN2", "--regexp", "--recstart", "b", "--recend", ",",
                 "echo JOB{#};cat;echo END");
        GNU_SAME(seq, "--pipe", "-kN7", "--regexp", "--recstart", "[0-9]*5", "--block", "2k",
                 "echo J{#}; wc -c");
        GNU_SAME(seq, "--pipe", "-k", "-N5", "-L2", "--regexp", "--block", "1k",
                 "echo J{#}; wc -c");
        free(seq);
    }
}
END_TEST

START_TEST(records_per_block_and_header)
{
    char *in = seq_text(2000);
    tool_result r = TOOL_IN("1\n2\n3\n4\n5\n", "run", "--pipe", "-k", "-N2", "cat; echo =", NULL);
    ck_assert_str_eq(r.out, "1\n2\n=\n3\n4\n=\n5\n=\n");
    tr_free(&r);
    r = TOOL_IN("h\n1\n2\n3\n", "run", "--pipe", "-k", "--header", ":", "-N2", "cat; echo =",
                NULL);
    ck_assert_str_eq(r.out, "h\n1\n2\n=\nh\n3\n=\n");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(in, "--pipe", "-k", "-N300", "--block", "1k", "wc -l");
        GNU_SAME(in, "--pipe", "-k", "-N3", "--block", "5", "wc -l");
        GNU_SAME(in, "--pipe", "-k", "-L7", "--block", "1k", "wc -l");
        GNU_SAME(in, "--pipe", "-k", "-L2", "-N3", "--block", "1k", "wc -l");
        GNU_SAME(in, "--pipe", "-k", "-n", "7", "wc -l");
        GNU_SAME("\n\n1\n\n2\n", "--pipe", "-k", "-N1", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--header", ":", "--block", "10", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--header", "2", "--block", "100", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--header", "(.*\n){3}", "--block", "1k", "wc -l");
        GNU_SAME(in, "--pipe", "-k", "--header", ":", "-N4", "cat; echo ==");
        GNU_SAME(in, "--pipe", "-k", "--header", ":", "--retries", "2", "--block", "1k",
                 "wc -l; exit 1");
    }
    free(in);
}
END_TEST

START_TEST(failures_retries_joblog)
{
    char *in = seq_text(3000);
    /* Each failed job is counted; a retry gets its block again. */
    tool_result r = TOOL_IN(in, "run", "--pipe", "-k", "--block", "4k", "--retries", "2",
                            "wc -c; exit 1", NULL);
    ck_assert_int_eq(r.status, 4);
    ck_assert_str_eq(r.out, "3998\n4000\n4000\n1895\n");
    tr_free(&r);
    /* A job that stops reading before its block's end is killed by SIGPIPE
       in the joblog, as GNU parallel records it. */
    char *big = seq_text(600000);
    r = TOOL_IN(big, "run", "--pipe", "--block", "3M", "-j1", "--joblog", "-",
                "head -c 10 >/dev/null", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.out, "\t3145722\t0\t0\t13\thead -c 10 >/dev/null\n"));
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(in, "--pipe", "-k", "--block", "4k", "exit 1");
        GNU_SAME(in, "--pipe", "-k", "--block", "4k", "--retries", "3", "wc -c; exit 1");
        GNU_SAME(big, "--pipe", "--block", "1M", "-j2", "true");
        GNU_SAME(in, "--pipe", "-k", "--block", "1k", "head -n1");
    }
    free(big);
    free(in);
}
END_TEST

START_TEST(pipe_usage_errors)
{
    tool_result r = TOOL("run", "--pipe", "--block", "x", "cat", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    r = TOOL("run", "--pipe", "cat", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pipe", 600); /* GNU parallel is slow on a loaded machine */
    tcase_add_test(tc, blocks_end_at_records);
    tcase_add_test(tc, block_grows_past_long_records);
    tcase_add_test(tc, recstart_recend_rrs);
    tcase_add_test(tc, regexp_records);
    tcase_add_test(tc, regexp_records_per_block);
    tcase_add_test(tc, records_per_block_and_header);
    tcase_add_test(tc, failures_retries_joblog);
    tcase_add_test(tc, pipe_usage_errors);
}
