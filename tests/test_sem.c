/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_sem.c: `mproc sem`, `sem` and `mproc run --semaphore` against GNU's
 * sem on the same command lines; a holder killed with SIGKILL; nothing
 * left in /dev/shm. */
#include "test_run_util.h"

#include <dirent.h>
#include <stdio.h>

/* A scratch HOME (GNU's sem keeps its locks there) holding bin/sem, a link
   to the tool, and a FIFO the scripts use to hold a command on cue. */
typedef struct {
    char dir[128];
    char path_mproc[4096 + 256]; /* PATH with our sem first */
    char path_gnu[4096];
} scratch;

static void scratch_make(scratch *s)
{
    tmpdir_make(s->dir, sizeof s->dir);
    char p[256];
    snprintf(p, sizeof p, "%s/bin", s->dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/bin/sem", s->dir);
    ck_assert_int_eq(symlink(MPROC_TOOL, p), 0);
    snprintf(p, sizeof p, "%s/.parallel", s->dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/.parallel/will-cite", s->dir);
    FILE *f = fopen(p, "we");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    const char *path = getenv("PATH");
    snprintf(s->path_gnu, sizeof s->path_gnu, "%s", path ? path : "/usr/bin:/bin");
    snprintf(s->path_mproc, sizeof s->path_mproc, "%s/bin:%s", s->dir, s->path_gnu);
    ck_assert_int_eq(setenv("HOME", s->dir, 1), 0);
    ck_assert_int_eq(setenv("MPROC_TOOL", MPROC_TOOL, 1), 0);
}

/* Run script by /bin/sh in the scratch folder, with `sem` and $RUN being
   ours (gnu false) or GNU's. */
static tool_result script(const scratch *s, bool gnu, const char *body)
{
    char *full = NULL;
    ck_assert_int_ge(asprintf(&full, "cd '%s' && { [ -p fifo ] || mkfifo fifo; } && { [ -p fifo2 ] || mkfifo fifo2; } && %s", s->dir, body),
                     0);
    ck_assert_int_eq(setenv("PATH", gnu ? s->path_gnu : s->path_mproc, 1), 0);
    ck_assert_int_eq(setenv("RUN", gnu ? "parallel --will-cite --semaphore"
                                       : MPROC_TOOL " run --semaphore", 1), 0);
    char *argv[] = { "/bin/sh", "-c", full, NULL };
    tool_result r = tr_exec("/bin/sh", argv, "", 0);
    ck_assert_int_eq(setenv("PATH", s->path_gnu, 1), 0);
    free(full);
    return r;
}

static bool have_gnu_sem(void)
{
    return access("/usr/bin/sem", X_OK) == 0 && access("/usr/bin/parallel", X_OK) == 0;
}

static bool sem_name_exists(const char *id)
{
    char p[256];
    snprintf(p, sizeof p, "/dev/shm/mproc-sem-%s", id);
    return access(p, F_OK) == 0;
}

/* Whether the id's name goes within 10 s: --wait returns once the last
   holder has given its unit back, a moment before that holder closes the
   semaphore and so removes the name. */
static bool sem_name_goes(const char *id)
{
    for (int i = 0; i < 5000; i++) {
        if (!sem_name_exists(id))
            return true;
        mproc_test_nap();
    }
    return false;
}

/* The script prints the same and ends with the same status under both;
   our side leaves nothing in /dev/shm under id. */
static void same_as_gnu(const scratch *s, const char *id, const char *body)
{
    tool_result a = script(s, false, body);
    ck_assert_msg(sem_name_goes(id), "/dev/shm/mproc-sem-%s left after: %s", id, body);
    if (!have_gnu_sem()) {
        tr_free(&a);
        return;
    }
    tool_result b = script(s, true, body);
    ck_assert_msg(!strcmp(a.out, b.out), "mproc printed '%s', GNU sem '%s' for: %s", a.out,
                  b.out, body);
    ck_assert_msg(a.status == b.status, "mproc exited %d, GNU sem %d for: %s", a.status,
                  b.status, body);
    tr_free(&a);
    tr_free(&b);
}

START_TEST(same_as_gnu_sem)
{
    scratch s;
    scratch_make(&s);
    /* With -j1 the commands run one at a time, in order, each one's
       output whole; --wait returns once the last has ended. */
    same_as_gnu(&s, "ord",
                "sem --id ord -j1 'echo 1; sleep 0.2; echo 1b'; sem --id ord -j1 'echo 2';"
                "sem --id ord 'echo 3'; sem --id ord --wait; echo done");
    /* --fg exits with the command's status (128 + N for a signal); the
       background form with 0 whatever the command does. */
    same_as_gnu(&s, "st",
                "sem --fg --id st 'exit 3'; echo $?; sem --fg --id st 'kill -9 $$'; echo $?;"
                "sem --fg --id st 'echo out; echo err >&2; exit 300' 2>/dev/null; echo $?;"
                "sem --id st 'exit 5'; echo $?; sem --id st --wait; echo $?");
    /* Words joined by spaces, run by the shell, stdin inherited. */
    same_as_gnu(&s, "w", "echo in | sem --fg --id w cat; sem --fg --id w echo a '$HOME' b"
                         " | sed \"s|$HOME|H|\"; sem --fg --id w -- echo dashdash; echo $?");
    /* A full semaphore: a negative --semaphore-timeout gives up with 1, a
       positive one runs the command anyway. */
    same_as_gnu(&s, "to",
                "sem --id to 'read x < fifo'; sem --fg --id to --st -1 'echo no'; echo $?;"
                "sem --fg --id to --st 1 'echo stolen'; echo $?;"
                "echo go > fifo; sem --id to --wait; echo $?");
    /* -j2: two run at once, a third waits. */
    same_as_gnu(&s, "j2",
                "sem -j2 --id j2 'read x < fifo'; sem -j 2 --id j2 'read x < fifo2';"
                "sem -j2 --id j2 --st -1 --fg 'echo three'; echo $?; echo go > fifo;"
                "sem -j2 --id j2 --st -30 --fg 'echo four'; echo $?; echo go > fifo2;"
                "sem --id j2 --wait; echo $?");
    /* mproc run --semaphore is the same command. */
    same_as_gnu(&s, "r", "$RUN --fg --id r 'echo via run; exit 4'; echo $?;"
                         "$RUN --id r 'echo bg'; $RUN --id r --wait; echo $?");
    /* Usage errors exit 255; --wait on an id nobody holds returns 0. */
    same_as_gnu(&s, "u", "sem --bogus x >/dev/null 2>&1; echo $?; sem -j abc x >/dev/null 2>&1;"
                         "echo $?; sem --id u --wait; echo $?");
    tmpdir_remove(s.dir);
}
END_TEST

START_TEST(timeout_messages)
{
    scratch s;
    scratch_make(&s);
    tool_result r = script(&s, false,
                           "sem --id m 'read x < fifo'; sem --fg --id m --st -0.2 'echo no';"
                           "echo $?; sem --fg --id m --st 0.2 'echo yes'; echo go > fifo;"
                           "sem --id m --wait");
    ck_assert_str_eq(r.out, "1\nyes\n");
    ck_assert_ptr_nonnull(strstr(r.err, "sem: Warning: Semaphore timed out. Exiting.\n"));
    ck_assert_ptr_nonnull(strstr(r.err, "Semaphore timed out. Stealing the semaphore.\n"));
    ck_assert(sem_name_goes("m"));
    tr_free(&r);
    tmpdir_remove(s.dir);
}
END_TEST

/* GNU's sem finds a killed holder's lock file only on a later poll; ours
   gets the unit back from the kernel as the holder dies, and the command
   the holder ran dies with it. */
START_TEST(killed_holder_gives_its_unit_back)
{
    scratch s;
    scratch_make(&s);
    for (int round = 0; round < 3; round++) {
        tool_result r = script(&s, false,
                               "rm -f pf; sem --id k 'echo $PPID $$ > pf.new; mv pf.new pf;"
                               " exec sleep 1000' >/dev/null 2>&1");
        ck_assert_int_eq(r.status, 0);
        tr_free(&r);
        char pf[256];
        snprintf(pf, sizeof pf, "%s/pf", s.dir);
        for (int i = 0; i < 5000 && access(pf, F_OK) != 0; i++)
            mproc_test_nap();
        char *ids = file_read(pf);
        int holder = 0, job = 0;
        ck_assert_int_eq(sscanf(ids, "%d %d", &holder, &job), 2);
        free(ids);
        ck_assert(sem_name_exists("k"));
        ck_assert_int_eq(kill(holder, SIGKILL), 0);
        /* The next caller gets the unit at once: well before its own
           timeout, which would make it give up with status 1. */
        r = script(&s, false, "sem --fg --id k --st -30 'echo next'; echo $?");
        ck_assert_str_eq(r.out, "next\n0\n");
        tr_free(&r);
        ck_assert(mproc_test_wait_gone(job, 10));
        ck_assert(sem_name_goes("k"));
    }
    tmpdir_remove(s.dir);
}
END_TEST

/* Whether some process's arguments hold needle. */
static bool some_process_runs(const char *needle)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        found = n > 0 && memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
    }
    closedir(d);
    return found;
}

/* A caller killed while it waits for a unit takes its command with it, as
   GNU's, whose caller forks only once it has the unit. */
START_TEST(killed_caller_runs_nothing)
{
    scratch s;
    scratch_make(&s);
    /* The command's words are put together by the shell, so that only
       the sem processes carry them whole. */
    tool_result r = script(&s, false,
                           "sem --id c 'read x < fifo' >/dev/null 2>&1; C=\"echo r\"\"an > ran\";"
                           "sem --id c \"$C\" >/dev/null 2>&1 & kill -9 $!; wait");
    tr_free(&r);
    bool gone = false;
    for (int i = 0; i < 5000 && !(gone = !some_process_runs("echo ran > ran")); i++)
        mproc_test_nap();
    ck_assert_msg(gone, "the killed caller's waiter lives on");
    r = script(&s, false, "echo go > fifo; sem --id c --wait; test -e ran; echo $?");
    ck_assert_str_eq(r.out, "1\n");
    ck_assert(sem_name_goes("c"));
    tr_free(&r);
    tmpdir_remove(s.dir);
}
END_TEST

START_TEST(ids_and_errors)
{
    scratch s;
    scratch_make(&s);
    /* Ids with any bytes are kept apart; an id too long is refused. */
    tool_result r = script(&s, false,
                           "sem --id 'a/b' 'read x < fifo'; sem --fg --id a.2fb --st -5 'echo"
                           " other'; echo go > fifo; sem --id a/b --wait; echo $?");
    ck_assert_str_eq(r.out, "other\n0\n");
    tr_free(&r);
    char longid[300];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    r = TOOL("sem", "--id", longid, "true", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "--id: too long"));
    tr_free(&r);
    r = TOOL("sem", "-j", "5000", "--fg", "--id", "big", "true", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "at most"));
    tr_free(&r);
    r = TOOL("sem", "--st", "1x", "true", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    r = TOOL("sem", "--id", NULL);
    ck_assert_msg(r.status == 255, "status %d, err '%s', out '%s'", r.status, r.err, r.out);
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
    r = TOOL("sem", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--semaphore-timeout"));
    tr_free(&r);
    /* Time units as GNU's, and -j 0 for as many as the library allows. */
    r = TOOL("sem", "--fg", "--id", "units", "--st", "-1m30s", "-j", "0", "echo", "ok", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "ok\n");
    tr_free(&r);
    ck_assert(sem_name_goes("units"));
    tmpdir_remove(s.dir);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "gnu-sem", 300);
    tcase_add_test(tc, same_as_gnu_sem);
    tc = mproc_tcase(s, "sem", 120);
    tcase_add_test(tc, timeout_messages);
    tcase_add_test(tc, killed_holder_gives_its_unit_back);
    tcase_add_test(tc, killed_caller_runs_nothing);
    tcase_add_test(tc, ids_and_errors);
}
