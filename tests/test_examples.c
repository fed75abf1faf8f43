/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_examples.c: every program under examples/ runs and exits 0. */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_EXAMPLES 64
static char names[MAX_EXAMPLES][256];
static int count;

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void list_examples(void)
{
    DIR *d = opendir(MPROC_EXAMPLES_DIR);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && count < MAX_EXAMPLES) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", MPROC_EXAMPLES_DIR, e->d_name);
        if (e->d_name[0] != '.' && access(path, X_OK) == 0)
            snprintf(names[count++], sizeof names[0], "%.255s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], cmp);
}

START_TEST(example_runs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", MPROC_EXAMPLES_DIR, names[_i]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = { path, NULL };
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, path, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "example %s: expected exit 0, got %s %d",
                  names[_i], WIFEXITED(st) ? "status" : "signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}
END_TEST

START_TEST(examples_exist)
{
    ck_assert_int_ge(count, 7);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    list_examples();
    TCase *tc = mproc_tcase(s, "examples", 60);
    tcase_add_test(tc, examples_exist);
    tcase_add_loop_test(tc, example_runs, 0, count);
}
