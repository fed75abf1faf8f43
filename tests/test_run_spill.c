/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_spill.c: grouped output held past the limit (-k) goes to an
 * unlinked temporary file: the same bytes as GNU parallel, and nothing left
 * in the temporary folder, even after SIGKILL. */
#include "test_run_util.h"

#include <dirent.h>
#include <signal.h>

/* Entries of dir besides . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Whether process pid holds a file of dir that no name reaches. */
static bool holds_unlinked(pid_t pid, const char *dir)
{
    char path[64], link[512];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char fdpath[384];
        snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
        ssize_t n = readlink(fdpath, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        found = strncmp(link, dir, strlen(dir)) == 0 && strstr(link, "(deleted)");
    }
    closedir(d);
    return found;
}

START_TEST(spilled_output_in_order)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    ck_assert_int_eq(setenv("MPROC_TEST_SPILL_LIMIT", "100", 1), 0);
    ck_assert_int_eq(setenv("TMPDIR", dir, 1), 0);
    char job[] = "seq {} 20000; echo e{} >&2";
    tool_result r = TOOL("run", "-k", "-j3", job, ":::", "3", "1", "2", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(count_char(r.out, '\n'), 19998 + 20000 + 19999);
    ck_assert(strncmp(r.out, "3\n4\n", 4) == 0);
    ck_assert_str_eq(r.err, "e3\ne1\ne2\n");
    tr_free(&r);
    ck_assert_int_eq(dir_entries(dir), 0);
    /* --tag's lines and --tmpdir's folder too. */
    r = TOOL("run", "-k", "--tag", "--tmpdir", dir, "seq 3; true", ":::", "b", "a", NULL);
    ck_assert_str_eq(r.out, "b\t1\nb\t2\nb\t3\na\t1\na\t2\na\t3\n");
    tr_free(&r);
    ck_assert_int_eq(dir_entries(dir), 0);
    if (have_parallel()) {
        GNU_SAME(NULL, "-k", "-j3", job, ":::", "3", "1", "2");
        GNU_SAME_ERR(NULL, "-k", "-j3", job, ":::", "3", "1", "2");
        GNU_SAME(NULL, "-k", "--tag", "-j2", "seq {} 3000", ":::", "2", "1");
    }
    tmpdir_remove(dir);
}
END_TEST

START_TEST(nothing_left_after_sigkill)
{
    /* Job 1 waits, so job 2's output is held: once it is in the unlinked
       file, SIGKILL leaves nothing in the folder. */
    char dir[64], tmp[128], job1[512];
    tmpdir_make(dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s/t", dir);
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    ck_assert_int_eq(setenv("MPROC_TEST_SPILL_LIMIT", "100", 1), 0);
    snprintf(job1, sizeof job1,
             "while [ ! -e %s/go ]; do sleep 0.05; done; touch %s/done; echo one", dir, dir);
    char *argv[] = { "mproc", "run", "-k", "-j2", "--tmpdir", tmp, "{}",
                     ":::", job1, "seq 50000", NULL };
    int fds[2];
    pid_t pid = tr_start(MPROC_TOOL, argv, "", 0, &fds[0], &fds[1]);
    while (!holds_unlinked(pid, tmp))
        usleep(10000);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(tr_wait(pid), 128 + SIGKILL);
    ck_assert_int_eq(dir_entries(tmp), 0);
    /* Let the orphaned job 1 end before the folder goes. */
    char go[128];
    snprintf(go, sizeof go, "%s/go", dir);
    close(open(go, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    while (!file_exists(dir, "done"))
        usleep(10000);
    close(fds[0]);
    close(fds[1]);
    tmpdir_remove(dir);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "spill", 60);
    tcase_add_test(tc, spilled_output_in_order);
    tcase_add_test(tc, nothing_left_after_sigkill);
}
