/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_output.c: `mproc run`'s output options (-u, -v, -t, --tagstring, --files), compared
 * with GNU parallel. */
#include "test_run_util.h"

START_TEST(ungroup_passes_output_at_once)
{
    /* The job's first line comes out while the job still runs. */
    char dir[64], job[256];
    tmpdir_make(dir, sizeof dir);
    snprintf(job, sizeof job,
             "printf first; while [ ! -e %s/go ]; do sleep 0.05; done; echo ' second' # {}", dir);
    char *argv[] = { "mproc", "run", "-u", job, ":::", "a", NULL };
    int fds[2];
    pid_t pid = tr_start(MPROC_TOOL, argv, "", 0, &fds[0], &fds[1]);
    char buf[64] = { 0 };
    size_t n = 0;
    while (n < 5) {
        ssize_t k = read(fds[0], buf + n, 5 - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
    }
    ck_assert_str_eq(buf, "first");
    char go[128];
    snprintf(go, sizeof go, "%s/go", dir);
    close(open(go, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    for (ssize_t k; (k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)k;
    ck_assert_str_eq(buf, "first second\n");
    close(fds[0]);
    close(fds[1]);
    ck_assert_int_eq(tr_wait(pid), 0);
    tmpdir_remove(dir);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-u", "-j1", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "--ungroup", "-j1", "-v", "echo", ":::", "a", "b");
}
END_TEST

START_TEST(verbose_commands)
{
    tool_result r = TOOL("run", "-v", "-k", "echo", ":::", "a", "b", NULL);
    ck_assert_str_eq(r.out, "echo a\na\necho b\nb\n");
    tr_free(&r);
    r = TOOL("run", "-t", "-j1", "-k", "echo", ":::", "a", "b", NULL);
    ck_assert_str_eq(r.out, "a\nb\n");
    ck_assert_str_eq(r.err, "echo a\necho b\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-v", "-k", "echo", ":::", "a", "b c");
    GNU_SAME(NULL, "-v", "--tag", "-k", "echo", ":::", "a", "b");
    GNU_SAME_ERR(NULL, "-t", "-j1", "-k", "echo", ":::", "a", "b c");
    GNU_SAME_ERR(NULL, "--verbose", "--tag", "-j1", "-k", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "-kv", "--lb", "echo", ":::", "a", "b");
}
END_TEST

START_TEST(tagstring_as_gnu)
{
    tool_result r = TOOL("run", "-k", "--tagstring", "x{}y", "echo", ":::", "a b", NULL);
    ck_assert_str_eq(r.out, "xa by\ta b\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "--tagstring", "T{#}-{.}", "echo", ":::", "a.x", "b.y");
    GNU_SAME(NULL, "-k", "--tagstring", "const", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "--header", ":", "--tagstring", "{h}!", "echo", ":::", "h", "1", "2");
    GNU_SAME(NULL, "-k", "--tagstring", "{=$_=uc($_)=}", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "--dry-run", "--tag-string", "<{}>", "echo", ":::", "a");
    GNU_SAME(NULL, "-k", "--tagstring", "{%}", "-j1", "sh -c 'echo out; echo err >&2'", ":::", "a");
    /* GNU's escapes in a --tagstring: \t \n \r \NNN (colours). */
    GNU_SAME(NULL, "-k", "--tagstring", "\\033[3{#}m{}\\t\\n\\101\\\\t", "echo", ":::", "a", "b");
}
END_TEST

START_TEST(files_as_gnu)
{
    /* Each job's stdout in a file of --tmpdir, its name printed, stderr
       dropped. */
    gnu_session("mkdir t; $T -k --tmpdir t --files 'echo o{}; echo e{} >&2' ::: a b 2>&1 | "
                "while read -r f; do case $f in t/par*.par) cat \"$f\";; *) echo \"bad $f\";; "
                "esac; done; ls t | wc -l",
                "oa\nob\n2\n");
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "output", 60);
    tcase_add_test(tc, ungroup_passes_output_at_once);
    tcase_add_test(tc, verbose_commands);
    tcase_add_test(tc, tagstring_as_gnu);
    tcase_add_test(tc, files_as_gnu);
}
