/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_repl.c: `mproc run`'s replacement strings (-I and its kin,
 * --plus, {= perl =}, --rpl, --parens, -q, --shellquote) against GNU
 * parallel on the same command lines, and the perl coprocess: started only
 * when needed, framed so that no value desynchronises it, reaped. */
#include "test_run_util.h"

#include <dirent.h>

/* Values that need quoting in every way. */
#define ODD_VALUES "a b", "it's", "$HOME", "\"q\"", "", "é ü", "x;y", "*", "a\\b"

/* A file of NUL-terminated records, for -0 (values with newlines). */
static void write_records(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Both tools' stdout, byte for byte (NULs included), and status. */
static void gnu_same_bytes(char **args)
{
    char *m[64] = { "mproc", "run" }, *p[64] = { "parallel", "--will-cite" };
    int n = 0;
    for (; args[n]; n++) {
        ck_assert_int_lt(n, 60);
        m[n + 2] = p[n + 2] = args[n];
    }
    m[n + 2] = p[n + 2] = NULL;
    tool_result a = tr_exec(MPROC_TOOL, m, "", 0);
    tool_result b = tr_exec("/usr/bin/parallel", p, "", 0);
    ck_assert_uint_eq(a.outlen, b.outlen);
    ck_assert(!memcmp(a.out, b.out, a.outlen));
    ck_assert_int_eq(a.status, b.status);
    tr_free(&a);
    tr_free(&b);
}

/* ---- GNU's defaults, renamed, positional ----------------------------------- */

START_TEST(renamed_replacement_strings)
{
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "-I", "XX", "echo", "XX", "{}", ":::", ODD_VALUES);
    GNU_SAME(NULL, "-k", "-IXX", "echo", "<XX>", ":::", "a", "b c");
    GNU_SAME(NULL, "-k", "-I", "{x}", "echo", "{1x}", "{x}", "{-1x}", ":::", "a", ":::", "b c");
    GNU_SAME(NULL, "-k", "-i", "echo", "{}", ":::", "a b");
    GNU_SAME(NULL, "-k", "-iZZ", "echo", "ZZ", "{}", ":::", "a");
    GNU_SAME(NULL, "-k", "--replace", "ZZ", "echo", "ZZ", ":::", "a");
    GNU_SAME(NULL, "-k", "--replace=ZZ", "echo", "ZZ", ":::", "a");
    GNU_SAME(NULL, "-k", "--er", "EE", "echo", "EE", "{.}", ":::", "d.x/a.b", "a");
    GNU_SAME(NULL, "-k", "--extensionreplace", "EE", "echo", "EE", ":::", "a.b.c");
    GNU_SAME(NULL, "-k", "--bnr", "BB", "echo", "BB", "{/}", ":::", "d/a.b", "/");
    GNU_SAME(NULL, "-k", "--basenamereplace=BB", "echo", "BB", ":::", "d/a.b");
    GNU_SAME(NULL, "-k", "--dnr", "DD", "echo", "DD", "{//}", ":::", "d/e/a.b", "a");
    GNU_SAME(NULL, "-k", "--dirnamereplace", "DD", "echo", "DD", ":::", "d/");
    GNU_SAME(NULL, "-k", "--bner", "XX", "echo", "XX", ":::", "d/a.b", ".h");
    GNU_SAME(NULL, "-k", "--basenameextensionreplace", "XX", "echo", "XX", ":::", "d/a.b");
    GNU_SAME(NULL, "-k", "--seqreplace", "SS", "echo", "SS", "{#}", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "-j1", "--slotreplace", "SL", "echo", "SL", "{%}", ":::", "a", "b");
    /* A renamed string's positional form, and the old name now plain text. */
    GNU_SAME(NULL, "-k", "--er", "{x}", "echo", "{2x}", "{.}", ":::", "a.b", ":::", "c.d");
}
END_TEST

START_TEST(positions_from_either_end)
{
    if (!have_parallel())
        return;
    /* {-N} from the end; past the values nothing (and Perl's second wrap
       for -N just past the start); {2#} is position 21 of the seq code. */
    GNU_SAME(NULL, "-k", "--dry-run", "echo", "{-1}", "{-2}", "{-3}", "{-5}", "{1}", "{3}",
             ":::", "a", ":::", "b");
    GNU_SAME(NULL, "-k", "--dry-run", "echo", "{2#}", "{1#}", "{#}", "{1%}", ":::", "a", ":::",
             "b");
    GNU_SAME(NULL, "-k", "echo", "{1/}", "{2.}", "{-1//}", "{1/.}", "{ 2}", "{02}", ":::",
             "d/a.b", ":::", "e/f.g h");
    GNU_SAME(NULL, "-k", "echo", "{}", "{1}", ":::", ODD_VALUES, ":::", "1");
}
END_TEST

START_TEST(values_with_newlines)
{
    if (!have_parallel())
        return;
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/in", dir);
    static const char recs[] = "a/b\nc/d.e\0x.y\nz\0dir/\n\0\n\0a b\n'$\0";
    write_records(path, recs, sizeof recs - 1);
    /* {/} is s:.*[/]:: ('.' stops at a newline), {.} s:\.[^/.]*$:: */
    GNU_SAME(NULL, "-k", "-0", "echo", "{/}", "{/.}", "{.}", "{//}", "{}", "::::", path);
    GNU_SAME(NULL, "-k", "-0", "--plus", "echo", "{+/}", "{+.}", "{..}", "{/..}", "::::", path);
    GNU_SAME(NULL, "-k", "-0", "echo", "{= s/\\n/N/g =}", "{= $_ .= \"\\n\" =}", "::::", path);
    GNU_SAME(NULL, "-k", "-0", "-q", "printf", "<%s>", "{}", "::::", path);
    tmpdir_remove(dir);
}
END_TEST

/* ---- --plus -------------------------------------------------------------------- */

START_TEST(plus_strings)
{
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "--plus", "echo", "{..}", "{...}", "{/..}", "{/...}", "{+/}", "{+.}",
             "{+..}", "{+...}", ":::", "dir/a.b.c.d", "a", ".h", "d.x/a");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{##}", "{0#}", ":::", "a", "b", "c", "d", "e", "f",
             "g", "h", "i", "j", "k");
    GNU_SAME(NULL, "-k", "--plus", "-j1", "echo", "{0%}", "{slot}", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{:-dflt}", "{:2}", "{:1:2}", ":::", "", "abcdef");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{#z.*z.}", "{##z.*z.}", "{%.z.*z}", "{%%.z.*z}",
             ":::", "z.z.z.foo", "foo.z.z.z");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{/a/X}", "{//a/X}", "{/#a/X}", "{/%a/X}", ":::",
             "banana", "aba");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{^a}", "{^^a}", "{,A}", "{,,A}", ":::", "abca",
             "ABCA");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{1:-x}", "{2%.c}", "{-1/.c/.d}", ":::", "", ":::",
             "a.b.c");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{choose_k}", ":::", "a", "b", "c", ":::", "a", "b",
             "c");
    GNU_SAME(NULL, "-k", "--plus", "echo", "{uniq}", ":::", "a", "b", ":::", "a", "b");
    /* Without --plus they are text. */
    GNU_SAME(NULL, "-k", "echo", "{..}", "{##}", "{:-x}", ":::", "a.b.c");
}
END_TEST

/* ---- perl expressions ------------------------------------------------------------- */

START_TEST(perl_expressions)
{
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "echo", "{= s/a/X/ =}", "{=2 s/b/Y/ =}", "{=-1 $_.=\"!\" =}", ":::",
             "a", "ab", ":::", "b");
    GNU_SAME(NULL, "-k", "echo", "{= s/a/X/g =}", ":::", ODD_VALUES);
    GNU_SAME(NULL, "-k", "echo", "{=", "s/a/b/", "=}", "{2= s/a/b/ =}", ":::", "a");
    GNU_SAME(NULL, "-k", "echo", "{= $_=$arg[1].$arg[2] =}", ":::", "a", "b", ":::", "c");
    GNU_SAME(NULL, "-k", "echo", "{= uq() =}", "{= $_=Q($_) =}", "{= $_=pQ($_) =}", ":::",
             "a b", "$HOME", "@x\"");
    GNU_SAME(NULL, "-k", "echo", "{= $_=total_jobs() =}", "{#}", ":::", "a", "b", "c");
    GNU_SAME("a\nb\n", "-k", "echo", "{= $_=total_jobs() =}");
    GNU_SAME(NULL, "-k", "-j1", "echo", "{= $_=seq().\" \".slot() =}",
             "{= $_=$job->seq().$job->slot() =}", ":::", "a", "b");
    /* The same expression on the same value: evaluated once per job. */
    GNU_SAME(NULL, "-k", "echo", "{= $_=++$::n =}", "{= $_=++$::n =}", ":::", "a", "b");
    /* Non-positional expressions run once per value. */
    GNU_SAME(NULL, "-k", "echo", "{= $_=seq() =}", ":::", "a", ":::", "b");
    GNU_SAME(NULL, "-k", "echo", "{= $_=\"\" =}x", "{= $_ = \"\xc3\xa9\" =}", ":::", "a");
    GNU_SAME(NULL, "-k", "--parens", "<<>>", "echo", "<< s/a/b/ >>", "{}", ":::", "a");
    GNU_SAME(NULL, "-k", "--parens", ",,,,", "echo", ",, s/a/b/ ,,", "{=x=}", ":::", "a");
    /* A replacement string in the command itself leaves values unquoted. */
    GNU_SAME(NULL, "-k", "{= s/^/echo / =}", ":::", "a b", "c");
}
END_TEST

START_TEST(rpl_definitions)
{
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "--rpl", "{..} s:\\.[^.]+$::;s:\\.[^.]+$::;", "echo", "{..}", "{2..}",
             ":::", "a.b.c", ":::", "d.e.f");
    GNU_SAME(NULL, "-k", "--rpl", "{(\\d+)} $_=$$1", "echo", "{1}", "{7}", "{}", ":::", "a");
    GNU_SAME(NULL, "-k", "--rpl", "{/(\\S+)/(\\S+)} s/$$1/$$2/g;", "echo", "{/.tar/.gz}", ":::",
             "UU.tar.gz");
    /* Longer tags first: %% is not two %. */
    GNU_SAME(NULL, "-k", "--rpl", "% s/a/b/", "--rpl", "%% s/b/a/", "echo", "%", "%%", ":::",
             "ab");
    GNU_SAME(NULL, "-k", "--rpl", "{} s/a/X/", "echo", "{}", "{1}", ":::", "a");
    GNU_SAME(NULL, "-k", "--rpl", "{#} 1 $_=\"n\".$job->seq()", "echo", "{#}", ":::", "a");
}
END_TEST

START_TEST(manual_examples)
{
    if (!have_parallel())
        return;
    /* The replacement-string examples of GNU parallel's man page. */
    GNU_SAME("1\n2\n3\n", "-k", "echo", "{}", "+", "1", "is", "{= $_++ =}");
    GNU_SAME("1\n2\n3\n", "-k", "echo", "job", "{#}", "of", "{= $_=total_jobs() =}");
    GNU_SAME(NULL, "-k", "echo", "{= $_= ++$wrong_counter =}", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "--parens", ",,,,", "echo", "foo", "is", ",,s/I/O/g,,", ":::", "FII");
    GNU_SAME(NULL, "-k", "--rpl", "{%(.*?)} s/$$1//", "echo", "{%.tar.gz}", ":::", "my.tar.gz");
    GNU_SAME(NULL, "-k", "--rpl", "{:%(.+?)} s:$$1(\\.[^/]+)*$::", "echo", "{:%_file}", ":::",
             "my_file.tar.gz");
    GNU_SAME(NULL, "-k", "--rpl", "{/(.+?)/(.*?)} s/$$1/$$2/;", "echo", "{/replacethis/withthis}",
             "{/b/C}", ":::", "a_replacethis_b");
    GNU_SAME(NULL, "-k", "--rpl", "{(.*?)/(.*?)} $_=\"$$2$_$$1\"", "echo", "{swap/these}", ":::",
             "-middle-");
    GNU_SAME(NULL, "-k", "--rpl", "{%1} $_ = slot() + 1", "-j1", "echo", "{%1}", ":::", "a");
    GNU_SAME(NULL, "-k", "--rpl", "{:} s:(\\.[^/]+)*$::", "echo", "{:}", ":::", "d.x/a.tar.gz");
    GNU_SAME("test\n", "-k", "-q", "echo", "{}", "$VAR");
}
END_TEST

START_TEST(skip_is_a_failed_job_not_run)
{
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "echo", "{#}{= skip() if $_ eq \"b\" =}", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "--dry-run", "echo", "{= skip() if $_ eq \"b\" =}", ":::", "a", "b");
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/log", dir);
    tool_result r = TOOL("run", "-k", "--joblog", path, "echo", "{= skip() if /b/ =}", ":::", "a",
                         "b", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "a\n");
    char *log = file_read(path);
    ck_assert_ptr_nonnull(strstr(log, "\t0\t0\t-2\t0\techo b\n"));
    free(log);
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(framing_survives_nul_and_newline)
{
    if (!have_parallel())
        return;
    /* Results with NULs and newlines, and a large one, then more jobs:
       nothing shifts. */
    char *a1[] = { "-k", "--dry-run", "echo",
                   "{= $_ = $_ eq \"b\" ? \"\\0\\n\\0\" . (\"z\" x 50000) : \"<$_>\" =}",
                   "{= $_ = \"\\n\" x 3 =}", ":::", "a", "b", "c", NULL };
    gnu_same_bytes(a1);
    char *a2[] = { "-k", "echo", "{= $_ = \"\\0\" =}x", "::: ", "a", NULL };
    gnu_same_bytes(a2);
    /* Past any socket buffer, both ways: a value of 1 MB, its double. */
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/in", dir);
    size_t n = 1 << 20;
    char *v = malloc(n + 4);
    memset(v, 'v', n);
    memcpy(v + n, "\0w\0", 3);
    write_records(path, v, n + 3);
    free(v);
    tool_result big = TOOL("run", "-k", "--dry-run", "-0", "echo", "{= $_ .= $_ =}", "::::", path, NULL);
    ck_assert_int_eq(big.status, 0);
    ck_assert_uint_eq(big.outlen, 5 + 2 * n + 1 + 8);
    ck_assert(!strcmp(big.out + 5 + 2 * n, "\necho ww\n"));
    tr_free(&big);
    tmpdir_remove(dir);
}
END_TEST

/* ---- quoting ------------------------------------------------------------------------ */

START_TEST(quote_words_and_shellquote)
{
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "-q", "echo", "a b", "{}x{}", ":::", "q r", ":::", "z");
    GNU_SAME(NULL, "-k", "-q", "--dry-run", "echo", "a b", "", "{}", ":::", ODD_VALUES);
    GNU_SAME(NULL, "-k", "-q", "perl", "-e", "print \"@ARGV\\n\"", ":::", "x y", "$z");
    GNU_SAME(NULL, "-kq", "printf", "%s\\n", "{= uq() =}", ":::", "a b");
    GNU_SAME(NULL, "-k", "--shellquote", "echo", "{}", ":::", ODD_VALUES);
    GNU_SAME(NULL, "-k", "--shellquote", "--shell-quote", "echo", "{}", ":::", "a b");
    GNU_SAME(NULL, "-k", "--dry-run", "--shellquote", "echo", "{}", ":::", "a b");
}
END_TEST

START_TEST(from_bash_and_from_sh)
{
    if (!have_parallel())
        return;
    /* The jobs' shell is the one mproc was started from; the quoting must
       hold in each. */
    gnu_script_both("@P@ -k echo {} '{= s/a/X/ =}' ::: 'a b' \"it's\" '$HOME' '`x`' 'é'; true", 0);
    gnu_script_both("@P@ -k -q printf '<%s>\\n' {} 'x y' ::: 'a b' \"c'd\"; true", 0);
    gnu_script_both("@P@ -k --plus echo '{%.c}' {..} {+.} ::: a.b.c; true", 0);
    gnu_script_both("@P@ -k --shellquote echo {} ::: \"a'b\" 'c d'; true", 0);
    gnu_script_both("@P@ -k -I @@ 'echo @@; echo {= $_=uc =}' ::: a; true", 0);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------- */

START_TEST(perl_errors_are_usage_errors)
{
    /* A syntax error: nothing runs, exit 255, as GNU parallel. */
    tool_result r = TOOL("run", "echo", "{= s/(/ =}", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "Cannot use s/(/"));
    ck_assert_int_eq((int)count_char(r.err, '\n'), 1);
    tr_free(&r);
    r = TOOL("run", "--dry-run", "echo", "{= s/(/ =}", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    /* A die: reported, 255. */
    r = TOOL("run", "echo", "{= die \"boom\\n\" =}", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "boom"));
    tr_free(&r);
    /* A --rpl tag that is no regular expression. */
    r = TOOL("run", "--rpl", "{([)} s/a/b/", "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
    /* No perl to run: said, 255, nothing run. */
    char *argv[] = { "env", "PATH=/nonexistent", MPROC_TOOL, "run", "echo", "{= s/a/b/ =}", ":::",
                     "a", NULL };
    r = tr_exec("/usr/bin/env", argv, "", 0);
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "cannot run perl: No such file or directory"));
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(NULL, "echo", "{= s/(/ =}", ":::", "a");
        GNU_SAME(NULL, "--rpl", "{([)} s/a/b/", "echo", ":::", "a");
        /* Never evaluated, never compiled. */
        GNU_SAME(NULL, "echo", "{=5 s/(/ =}", ":::", "a");
    }
}
END_TEST

/* ---- the coprocess ------------------------------------------------------------------------ */

/* The job lists the names of mproc's children, itself included. */
#define LIST_SIBLINGS                                                                     \
    "for p in $(cat /proc/$PPID/task/*/children); do printf '%s ' $p; cat /proc/$p/comm; done"

START_TEST(perl_only_when_needed_and_reaped)
{
    tool_result r = TOOL("run", "-j1", LIST_SIBLINGS "; : {} {.} {#}", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_ge((int)count_char(r.out, '\n'), 1);
    ck_assert_ptr_null(strstr(r.out, "perl"));
    tr_free(&r);
    /* {= =} with nothing in it is {}: no perl either. */
    r = TOOL("run", "-j1", LIST_SIBLINGS "; : {= =}", ":::", "a", NULL);
    ck_assert_ptr_null(strstr(r.out, "perl"));
    tr_free(&r);
    r = TOOL("run", "-j1", LIST_SIBLINGS "; : {= s/a/b/ =}", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    /* One perl for both jobs. */
    char *first = strstr(r.out, " perl\n");
    ck_assert_ptr_nonnull(first);
    char *line = first;
    while (line > r.out && line[-1] != '\n')
        line--;
    long pid = strtol(line, NULL, 10);
    ck_assert_int_gt(pid, 0);
    char *again = strstr(first + 1, " perl\n");
    ck_assert_ptr_nonnull(again);
    char *line2 = again;
    while (line2 > r.out && line2[-1] != '\n')
        line2--;
    ck_assert_int_eq(strtol(line2, NULL, 10), pid);
    ck_assert_ptr_null(strstr(again + 1, " perl\n"));
    /* mproc reaped it before leaving: it is gone, not a zombie nor an
       orphan. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%ld", pid);
    ck_assert_int_ne(access(proc, F_OK), 0);
    tr_free(&r);
}
END_TEST

START_TEST(perl_descriptors_closed_in_jobs)
{
    /* The coprocess's socket is close-on-exec: no job holds a socket. */
    tool_result r = TOOL("run", "ls -l /proc/$$/fd | grep -c socket: ; : {= s/a/b/ =}", ":::",
                         "a", NULL);
    ck_assert_str_eq(r.out, "0\n");
    tr_free(&r);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "defaults", 120);
    tcase_add_test(tc, renamed_replacement_strings);
    tcase_add_test(tc, positions_from_either_end);
    tcase_add_test(tc, values_with_newlines);
    tc = mproc_tcase(s, "plus", 120);
    tcase_add_test(tc, plus_strings);
    tc = mproc_tcase(s, "perl", 120);
    tcase_add_test(tc, perl_expressions);
    tcase_add_test(tc, rpl_definitions);
    tcase_add_test(tc, manual_examples);
    tcase_add_test(tc, skip_is_a_failed_job_not_run);
    tcase_add_test(tc, framing_survives_nul_and_newline);
    tcase_add_test(tc, perl_errors_are_usage_errors);
    tc = mproc_tcase(s, "quoting", 120);
    tcase_add_test(tc, quote_words_and_shellquote);
    tcase_add_test(tc, from_bash_and_from_sh);
    tc = mproc_tcase(s, "coprocess", 60);
    tcase_add_test(tc, perl_only_when_needed_and_reaped);
    tcase_add_test(tc, perl_descriptors_closed_in_jobs);
}
