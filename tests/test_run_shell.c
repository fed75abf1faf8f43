/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_shell.c: the shell that runs `mproc run`'s jobs (GNU parallel's
 * choice: $PARALLEL_SHELL, the shell mproc was started from, $SHELL,
 * /bin/sh), exported bash functions, and the PARALLEL_* variables every job
 * sees; run from bash and from sh, and compared with GNU parallel. */
#include "test_run_util.h"

/* The shells' own words end each script so that neither execs the tool in
   its place: the tool's parent is then the shell. */
START_TEST(exported_functions_from_bash)
{
    if (!have_parallel())
        return;
    gnu_script_flags("bash", "f() { echo \"f:$1\"; }; export -f f; @P@ -k f ::: a 'b c'; true",
                     GNU_STDERR);
    /* A function shadowing a program is what the shell runs: the direct
       exec must not take the program instead. */
    gnu_script_flags("bash", "ls() { echo \"mine $1\"; }; export -f ls; @P@ -k ls ::: a; true",
                     GNU_STDERR);
}
END_TEST

START_TEST(the_invoking_shell_runs_jobs)
{
    if (!have_parallel())
        return;
    /* bash syntax and $BASH_VERSION from bash; not from sh. */
    gnu_script_both("@P@ -k 'echo ${BASH_VERSION:+bash} {}' ::: a; true", 0);
    gnu_script_flags("bash", "@P@ -k '[[ {} == a ]] && echo yes' ::: a b; true", 0);
    /* What each shell says about a missing command, in its own words. */
    gnu_script_both("@P@ -k nosuchcommand-xyz ::: a; true", GNU_STDERR);
    /* $PARALLEL_SHELL wins. */
    gnu_script_flags("sh", "PARALLEL_SHELL=/bin/bash @P@ 'echo ${BASH_VERSION:+bash} {}' ::: a; true",
                     0);
}
END_TEST

/* zsh, csh and rc run the jobs when mproc is started from them: zsh's =cmd
   and csh's syntax, as in GNU's tutorial, and each one's quoting (all three
   are in scripts/install-deps). */
START_TEST(zsh_csh_and_rc)
{
    if (!have_parallel())
        return;
    if (access("/bin/zsh", X_OK) == 0) {
        gnu_script_flags("zsh", "@P@ -k echo \\={} ::: ls sh; true", 0);
        gnu_script_flags("zsh", "@P@ -k echo x ={} ::: ls; true", 0);
    }
    if (access("/bin/csh", X_OK) == 0) {
        /* csh's quoting is GNU's backslashes, not '...'. */
        gnu_script_flags("csh", "@P@ -k 'set a=\"{}\"; echo \"<$a>\"' ::: 'x y'; true", 0);
        gnu_script_flags("csh", "@P@ -k echo ::: 'a$b' \"c'd\" 'e f*' '' '#x;y'; true", 0);
        gnu_script_flags("csh", "@P@ -k -X echo '<{}>' ::: 'p q' r; true", 0);
        /* Q() in {= =} quotes for csh too, and uq() leaves its result as
           the shell is to read it. */
        gnu_script_flags("csh", "@P@ -k echo '{= $_ = Q($_) =}' ::: 'a b' 'c$d' \"e'f\"; true", 0);
        gnu_script_flags("csh", "@P@ -k echo '{= $_ = Q($_); uq() =}' ::: 'a b;c' 'x*'; true", 0);
    }
    if (access("/bin/rc", X_OK) == 0) {
        /* rc's quoting is '...' around each run of special bytes, with ''
           for a quote inside, in the command line and in Q(). */
        gnu_script_flags("rc", "@P@ -k echo ::: 'a b' 'c''d' 'x*' '' 'p$q' 'a;b''c d'; true", 0);
        gnu_script_flags("rc", "@P@ -k -X echo '<{}>' ::: 'p q' r; true", 0);
        gnu_script_flags("rc", "@P@ -k echo '{= $_ = Q($_) =}' ::: 'a b' 'c''d' 'e;f g'; true", 0);
        gnu_script_flags("rc", "@P@ -k echo '{= $_ = Q($_); uq() =}' ::: 'a b' 'e;f g'; true", 0);
    }
}
END_TEST

START_TEST(shell_not_found)
{
    tool_result r = ({
        char *argv_[] = { "env", "PARALLEL_SHELL=/no/such/shell", MPROC_TOOL, "run", "echo",
                          ":::", "a", NULL };
        tr_exec("/usr/bin/env", argv_, "", 0);
    });
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "Shell '/no/such/shell' not found."));
    tr_free(&r);
}
END_TEST

START_TEST(parallel_variables_in_every_job)
{
    tool_result r = TOOL("run", "-k", "-j2",
                         "echo $PARALLEL_SEQ $PARALLEL_JOBSLOT ${PARALLEL_PID:+pid} "
                         "${PARALLEL_TMPDIR:+tmp} ${PARALLEL_SHELL:+shell} {}",
                         ":::", "a", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "1 1 pid tmp shell a\n");
    tr_free(&r);
    /* PARALLEL_PID is the tool's own. */
    if (!have_parallel())
        return;
    GNU_SAME(NULL, "-k", "-j1", "echo $PARALLEL_SEQ $PARALLEL_JOBSLOT {}", ":::", "a", "b", "c");
    GNU_SAME(NULL, "-k", "-j3", "echo $PARALLEL_SEQ {}", ":::", "a", "b", "c");
    gnu_script_both("@P@ -k 'test $PARALLEL_PID = $PPID && echo same' ::: a; true", 0);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "shell", 60);
    tcase_add_test(tc, exported_functions_from_bash);
    tcase_add_test(tc, the_invoking_shell_runs_jobs);
    tcase_add_test(tc, zsh_csh_and_rc);
    tcase_add_test(tc, shell_not_found);
    tcase_add_test(tc, parallel_variables_in_every_job);
}
