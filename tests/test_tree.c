/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_tree.c: `mproc tree [PID]`, run as a child of the test. */
#include "test_run_util.h"

/* The line of out that shows pid, or NULL. */
static char *line_of(char *out, pid_t pid)
{
    char key[32];
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n');
        char *p = line;
        while (*p == ' ' || *p == '|' || *p == '`' || *p == '-')
            p++;
        snprintf(key, sizeof key, "%d ", (int)pid);
        if (!strncmp(p, key, strlen(key))) {
            if (nl)
                *nl = '\0';
            return line;
        }
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

START_TEST(tree_shows_children_states_and_zombies)
{
    /* Our children: a sleeper (S) and one that has ended but is not yet
       reaped (Z). */
    const char *h = mproc_test_helper();
    char *sleep_argv[] = { "helper", "sleep", "30", NULL };
    char *exit_argv[] = { "helper", "exit", "0", NULL };
    pid_t sleeper, zombie;
    ck_assert_int_eq(posix_spawn(&sleeper, h, NULL, NULL, sleep_argv, environ), 0);
    ck_assert_int_eq(posix_spawn(&zombie, h, NULL, NULL, exit_argv, environ), 0);
    ck_assert(mproc_test_wait_gone(zombie, 5)); /* gone means a zombie here */
    /* The sleeper is asleep once /proc says so (it may still be starting). */
    mproc_procinfo info = { 0 };
    for (int i = 0; i < 5000 && info.state != 'S'; i++) {
        ck_assert_int_eq(mproc_procinfo_get(sleeper, &info), 0);
        if (info.state != 'S')
            usleep(1000);
    }
    ck_assert_int_eq(info.state, 'S');

    char me[32];
    snprintf(me, sizeof me, "%d", (int)getpid());
    tool_result r = TOOL("tree", me, NULL);
    ck_assert_int_eq(r.status, 0);
    char *copy = strdup(r.out);

    /* The first line is the root, unindented: "PID STATE NAME". */
    char root[64];
    snprintf(root, sizeof root, "%d ", (int)getpid());
    ck_assert_msg(!strncmp(r.out, root, strlen(root)), "tree: %s", copy);

    char *l = line_of(r.out, sleeper);
    ck_assert_msg(l != NULL, "no line for the sleeper in: %s", copy);
    ck_assert_msg(strstr(l, " S helper") && (strstr(l, "|-") || strstr(l, "`-")), "line: %s", l);

    free(r.out);
    r.out = strdup(copy);
    l = line_of(r.out, zombie);
    ck_assert_msg(l != NULL && strstr(l, " Z ") && strstr(l, "[zombie]"), "zombie line: %s",
                  l ? l : copy);

    /* The tool itself shows under us, in state R. */
    ck_assert_ptr_nonnull(strstr(copy, " R mproc"));
    free(copy);
    tr_free(&r);

    kill(sleeper, SIGKILL);
    ck_assert_int_eq(tr_wait(sleeper), 128 + SIGKILL);
    ck_assert_int_eq(tr_wait(zombie), 0);
}
END_TEST

START_TEST(tree_marks_adopted_orphans)
{
    /* As a subreaper, we adopt the sleeper of a shell that led its own
       process group and has ended: the sleeper stays in that dead group. */
    ASSERT_OK(mproc_subreaper(true));
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    int po[2];
    ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = { "sh", "-c", "sleep 30 >/dev/null & echo $!", NULL };
    pid_t sh;
    ck_assert_int_eq(posix_spawn(&sh, "/bin/sh", &fa, &at, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    char buf[32] = { 0 };
    size_t n = 0;
    for (ssize_t k; (k = read(po[0], buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)k;
    close(po[0]);
    pid_t orphan = (pid_t)atoi(buf);
    ck_assert_int_gt(orphan, 0);
    ck_assert_int_eq(tr_wait(sh), 0);

    char me[32];
    snprintf(me, sizeof me, "%d", (int)getpid());
    tool_result r = TOOL("tree", me, NULL);
    ck_assert_int_eq(r.status, 0);
    char *copy = strdup(r.out);
    char *l = line_of(r.out, orphan);
    ck_assert_msg(l && strstr(l, "[adopted]"), "tree: %s", copy);
    /* The tool, our own child in our group, is not. */
    char *tool_line = strstr(copy, " R mproc");
    ck_assert_ptr_nonnull(tool_line);
    ck_assert(strncmp(tool_line, " R mproc\n", 9) == 0);
    free(copy);
    tr_free(&r);

    kill(orphan, SIGKILL);
    ck_assert_int_eq(tr_wait(orphan), 128 + SIGKILL);
    ASSERT_OK(mproc_subreaper(false));
}
END_TEST

START_TEST(tree_of_init_by_default)
{
    tool_result r = TOOL("tree", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(!strncmp(r.out, "1 ", 2), "tree: %.200s", r.out);
    /* We are somewhere under it. */
    char key[32];
    snprintf(key, sizeof key, "-%d ", (int)getpid());
    ck_assert_ptr_nonnull(strstr(r.out, key));
    tr_free(&r);
}
END_TEST

START_TEST(tree_bad_arguments)
{
    tool_result r = TOOL("tree", "not-a-pid", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_uint_eq(count_char(r.err, '\n'), 1);
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
    r = TOOL("tree", "1", "2", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    r = TOOL("tree", "2147483647", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no process"));
    tr_free(&r);
    r = TOOL("tree", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "mproc tree"));
    tr_free(&r);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "tree", 30);
    tcase_add_test(tc, tree_shows_children_states_and_zombies);
    tcase_add_test(tc, tree_marks_adopted_orphans);
    tcase_add_test(tc, tree_of_init_by_default);
    tcase_add_test(tc, tree_bad_arguments);
}
