/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_live.c: `mproc run`'s live control: --progress and --eta, -j FILE
 * read again while the jobs run, and fractional counts, compared with GNU
 * parallel. Nothing here waits on a clock: the jobs wait on FIFOs that the
 * test opens, and what can be compared is compared whole. */
#include "test_run_util.h"

#include <time.h>

/* ---- --progress and --eta ---------------------------------------------------- */

/* s without the lines that name /dev/tty (GNU parallel asks tput for the
   terminal's size and the shell complains when there is none), in place. */
static char *drop_tty_noise(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        char *nl = strchr(r, '\n');
        size_t n = nl ? (size_t)(nl - r) + 1 : strlen(r);
        if (!memmem(r, n, "/dev/tty", 8)) {
            memmove(w, r, n);
            w += n;
        }
        r += n;
    }
    *w = '\0';
    return s;
}

/* The last status line (after the last carriage return) with the times
   (which depend on the clock) made "T": a new string. */
static char *last_status(const char *err)
{
    const char *cr = strrchr(err, '\r');
    ck_assert_msg(cr != NULL, "no status line in '%s'", err);
    char *out = calloc(1, strlen(cr) + 1), *w = out;
    for (const char *p = cr + 1; *p;) {
        /* "AVG: 0.50s" and "%/1.0s": the number goes. */
        size_t k = !strncmp(p, "AVG: ", 5) ? 5 : !strncmp(p, "%/", 2) ? 2 : 0;
        if (k) {
            memcpy(w, p, k);
            w += k;
            p += k;
            while ((*p >= '0' && *p <= '9') || *p == '.')
                p++;
            *w++ = 'T';
            continue;
        }
        *w++ = *p++;
    }
    *w = '\0';
    return out;
}

/* Run args through both with stderr kept; compare stdout, the status, the
   list of computers and the last status line (times aside). */
static void progress_same(char **args)
{
    char *m[32] = { "mproc", "run" }, *p[32] = { "parallel", "--will-cite" };
    int n = 0;
    for (; args[n]; n++) {
        m[n + 2] = args[n];
        p[n + 2] = args[n];
    }
    m[n + 2] = p[n + 2] = NULL;
    tool_result a = tr_exec(MPROC_TOOL, m, "", 0);
    tool_result b = tr_exec("/usr/bin/parallel", p, "", 0);
    drop_tty_noise(b.err);
    ck_assert_msg(!strcmp(a.out, b.out), "mproc printed '%s', GNU parallel '%s' (%s)", a.out, b.out,
                  args[0]);
    ck_assert_int_eq(a.status, b.status);
    const char *key = "\nComputers / CPU cores / Max jobs to run\n";
    const char *ka = strstr(a.err, key), *kb = strstr(b.err, key);
    ck_assert_msg(ka && kb, "mproc said '%s', GNU parallel '%s'", a.err, b.err);
    ka += strlen(key);
    kb += strlen(key);
    ck_assert_msg(!strncmp(ka, kb, strcspn(kb, "\n") + 1), "computers: '%s' and '%s'", ka, kb);
    char *la = last_status(a.err), *lb = last_status(b.err);
    ck_assert_msg(!strcmp(la, lb), "mproc ended with '%s', GNU parallel '%s' (%s)", la, lb,
                  args[0]);
    free(la);
    free(lb);
    tr_free(&a);
    tr_free(&b);
}
#define PROGRESS_SAME(...) progress_same((char *[]){ __VA_ARGS__, NULL })

START_TEST(progress_lines_as_gnu)
{
    /* What mproc prints, whole. */
    tool_result r = TOOL("run", "--progress", "-j1", "-k", "echo", ":::", "a", "b", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\nb\n");
    char want[256];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(want, sizeof want, "\nComputers / CPU cores / Max jobs to run\n1:local / %ld / 1\n\n"
             "Computer:jobs running/jobs completed/%%of started jobs/Average seconds to complete\n"
             "\rlocal:1/0/100%%/0.0s ", cpus);
    ck_assert_msg(!strncmp(r.err, want, strlen(want)), "got '%s'", r.err);
    /* Every status line in one of GNU's forms, the last one ended. */
    size_t lines = 0;
    for (const char *p = strchr(r.err, '\r'); p; p = strchr(p + 1, '\r')) {
        unsigned run_n, done, pct;
        double secs;
        char end;
        ck_assert_msg(sscanf(p + 1, "local:%u/%u/%u%%/%lfs%c", &run_n, &done, &pct, &secs, &end) == 5 &&
                      end == ' ', "not a status line: '%s'", p + 1);
        ck_assert_uint_le(run_n, 1);
        lines++;
    }
    ck_assert_uint_ge(lines, 3);
    ck_assert_msg(r.err[r.errlen - 1] == '\n', "the last line is not ended: '%s'", r.err);
    tr_free(&r);

    r = TOOL("run", "--eta", "-j1", "true", ":::", "a", "b", "c", NULL);
    ck_assert_str_eq(r.out, "");
    for (const char *p = strchr(r.err, '\r'); p; p = strchr(p + 1, '\r')) {
        long eta;
        unsigned left;
        double avg;
        ck_assert_msg(sscanf(p + 1, "ETA: %lds Left: %u AVG: %lfs  local:", &eta, &left, &avg) == 3,
                      "not an --eta line: '%s'", p + 1);
    }
    ck_assert_msg(strstr(r.err, "\rETA: 0s Left: 0 AVG: ") != NULL, "got '%s'", r.err);
    tr_free(&r);

    if (!have_parallel())
        return;
    /* stdout untouched. */
    GNU_SAME(NULL, "--progress", "-k", "echo", ":::", "a", "b", "c");
    GNU_SAME(NULL, "--eta", "-k", "echo", ":::", "a", "b", "c");
    PROGRESS_SAME("--progress", "-j2", "-k", "echo", ":::", "a", "b", "c");
    PROGRESS_SAME("--progress", "-j8", "-k", "echo", ":::", "a", "b");
    PROGRESS_SAME("--eta", "-j1", "-k", "echo", ":::", "a", "b", "c");
    PROGRESS_SAME("--eta", "-j1", "false", ":::", "a", "b");
    /* Retries count as started jobs: 2 of 6 tries, 33%. */
    PROGRESS_SAME("--eta", "--retries", "3", "-j1", "false", ":::", "a", "b");
    /* GNU's count of jobs with -n 1.5: one more than run, so one is left. */
    PROGRESS_SAME("--eta", "-n1.5", "-j1", "echo", ":::", "1", "2", "3", "4", "5", "6", "7");
    PROGRESS_SAME("--eta", "-N1.5", "-j1", "echo", ":::", "1", "2", "3", "4", "5");
    PROGRESS_SAME("--eta", "-X", "-j1", "echo", ":::", "a", "b", "c");
    /* No job: the list, then "0" where the computer's numbers would be. */
    char *none[] = { "parallel", "--will-cite", "--eta", "-j2", "echo", ":::", NULL };
    tool_result b = tr_exec("/usr/bin/parallel", none, "", 0);
    r = TOOL("run", "--eta", "-j2", "echo", ":::", NULL);
    ck_assert_str_eq(r.err, drop_tty_noise(b.err));
    ck_assert_int_eq(r.status, b.status);
    tr_free(&r);
    tr_free(&b);
    none[2] = "--progress";
    b = tr_exec("/usr/bin/parallel", none, "", 0);
    r = TOOL("run", "--progress", "-j2", "echo", ":::", NULL);
    ck_assert_str_eq(r.err, drop_tty_noise(b.err));
    tr_free(&r);
    tr_free(&b);
    /* --eta needs the count of jobs, which --pipe cannot know. */
    GNU_SAME_STATUS(NULL, "--pipe", "--eta", "cat");
}
END_TEST

/* ---- -j FILE -------------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256], tmp[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.new", dir, name);
    FILE *f = fopen(tmp, "we");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, path), 0);
}

START_TEST(jobs_file_forms_as_gnu)
{
    if (!have_parallel())
        return;
    char dir[64], jf[128], jf2[128];
    tmpdir_make(dir, sizeof dir);
    snprintf(jf, sizeof jf, "%s/procs", dir);
    snprintf(jf2, sizeof jf2, "%s/other", dir);
    static const char *const good[] = { "1", "1\n", "2", "+0", "-1", "50%\n", "0", "12.5%" };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        write_file(dir, "procs", good[k]);
        GNU_SAME(NULL, "-j", jf, "-k", "echo", ":::", "a", "b", "c");
        GNU_SAME(NULL, "-P", jf, "-k", "echo", ":::", "a", "b", "c");
    }
    /* One slot: every job in slot 1. */
    write_file(dir, "procs", "1\n");
    GNU_SAME(NULL, "--jobs", jf, "-k", "echo {%} {}", ":::", "a", "b", "c");
    /* A file that names another one. */
    write_file(dir, "other", jf);
    GNU_SAME(NULL, "-j", jf2, "-k", "echo {%} {}", ":::", "a", "b", "c");
    /* Not a count: refused, as GNU parallel refuses it. */
    static const char *const bad[] = { " 3", "3\n\n", "", "1.5", "x", "-1000" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_file(dir, "procs", bad[k]);
        GNU_SAME_STATUS(NULL, "-j", jf, "echo", ":::", "a");
    }
    tool_result r = TOOL("run", "-j", jf, "echo", ":::", "a", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, "mproc run: Cannot run any jobs.\n");
    tr_free(&r);
    tmpdir_remove(dir);
}
END_TEST

/* A run whose jobs each log "start SEQ SLOT" and wait until the test opens
   their FIFO, then log "end SEQ". */
typedef struct live {
    char dir[64];
    pid_t pid;
    int fds[2];
} live;

/* njobs jobs, from ::: values; or, with stdin, from the FIFO "in" in the
   folder, which the test writes as it goes (the run reads it as jobs
   run). */
static void live_start_from(live *l, const char *procs, int njobs, bool stdin_fifo)
{
    tmpdir_make(l->dir, sizeof l->dir);
    write_file(l->dir, "procs", procs);
    for (int k = 1; k <= njobs; k++) {
        char path[128];
        snprintf(path, sizeof path, "%s/go.%d", l->dir, k);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
    }
    char cmd[512], jf[128], jl[128];
    snprintf(cmd, sizeof cmd,
             "echo start {} {%%} >> %s/log; cat %s/go.{} > /dev/null; echo end {} >> %s/log",
             l->dir, l->dir, l->dir);
    snprintf(jf, sizeof jf, "%s/procs", l->dir);
    snprintf(jl, sizeof jl, "%s/joblog", l->dir);
    if (stdin_fifo) {
        char in[128], sh[1024];
        snprintf(in, sizeof in, "%s/in", l->dir);
        ck_assert_int_eq(mkfifo(in, 0600), 0);
        snprintf(sh, sizeof sh, "exec '%s' run -j %s --joblog %s '%s' < %s", MPROC_TOOL, jf, jl,
                 cmd, in);
        char *argv[] = { "sh", "-c", sh, NULL };
        l->pid = tr_start("/bin/sh", argv, "", 0, &l->fds[0], &l->fds[1]);
        return;
    }
    char *argv[40] = { "mproc", "run", "-j", jf, "--joblog", jl };
    int n = 6;
    argv[n++] = cmd;
    argv[n++] = ":::";
    static char nums[20][12];
    for (int k = 1; k <= njobs; k++) {
        snprintf(nums[k], sizeof nums[k], "%d", k);
        argv[n++] = nums[k];
    }
    argv[n] = NULL;
    l->pid = tr_start(MPROC_TOOL, argv, "", 0, &l->fds[0], &l->fds[1]);
}

static void live_start(live *l, const char *procs, int njobs)
{
    live_start_from(l, procs, njobs, false);
}

static char *live_log(const live *l)
{
    char path[128];
    snprintf(path, sizeof path, "%s/log", l->dir);
    if (access(path, F_OK) != 0)
        return calloc(1, 1);
    return file_read(path);
}

/* Wait (for what the jobs do, not for a time: the limit is only there so
   that a failure ends) until the file name in l's folder holds key. */
static void live_wait_in(const live *l, const char *name, const char *key)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", l->dir, name);
    for (int i = 0; i < 12000; i++) {
        char *text = access(path, F_OK) == 0 ? file_read(path) : calloc(1, 1);
        bool there = strstr(text, key) != NULL;
        free(text);
        if (there)
            return;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("%s never held '%s'", name, key);
}

static void live_wait(const live *l, const char *line)
{
    live_wait_in(l, "log", line);
}

/* The slot job seq was started in. */
static int live_slot(const live *l, int seq)
{
    char *log = live_log(l), key[32];
    snprintf(key, sizeof key, "start %d ", seq);
    char *p = strstr(log, key);
    ck_assert_ptr_nonnull(p);
    int slot = atoi(p + strlen(key));
    free(log);
    return slot;
}

static bool live_started(const live *l, int seq)
{
    char *log = live_log(l), key[32];
    snprintf(key, sizeof key, "start %d ", seq);
    bool there = strstr(log, key) != NULL;
    free(log);
    return there;
}

/* Let job seq end. */
static void live_release(const live *l, int seq)
{
    char path[128];
    snprintf(path, sizeof path, "%s/go.%d", l->dir, seq);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* Wait until the joblog has job seq's line: mproc has reaped it. */
static void live_reaped(const live *l, int seq)
{
    char key[32];
    snprintf(key, sizeof key, "\n%d\t", seq);
    live_wait_in(l, "joblog", key);
}

static tool_result live_end(live *l)
{
    tool_result r = { 0 };
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    tr_slurp(l->fds, bufs, lens);
    r.status = tr_wait(l->pid);
    r.out = bufs[0];
    r.outlen = lens[0];
    r.err = bufs[1];
    r.errlen = lens[1];
    tmpdir_remove(l->dir);
    return r;
}

START_TEST(jobs_file_shrinks_the_run)
{
    live l;
    live_start(&l, "3\n", 6);
    live_wait(&l, "start 1 ");
    live_wait(&l, "start 2 ");
    live_wait(&l, "start 3 ");
    write_file(l.dir, "procs", "1\n");
    /* Job 2 ends first: with three slots still, job 4 would take its slot,
       2, at once. With one, no job starts until all three have ended. */
    live_release(&l, 2);
    live_reaped(&l, 2);
    live_release(&l, 3);
    live_reaped(&l, 3);
    ck_assert(!live_started(&l, 4));
    live_release(&l, 1);
    for (int k = 4; k <= 6; k++) {
        char key[32];
        snprintf(key, sizeof key, "start %d ", k);
        live_wait(&l, key);
        ck_assert_int_eq(live_slot(&l, k), 1);
        /* One at a time: the next waits for this one. */
        ck_assert(k == 6 || !live_started(&l, k + 1));
        live_release(&l, k);
    }
    tool_result r = live_end(&l);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");
    tr_free(&r);
}
END_TEST

START_TEST(jobs_file_grows_the_run)
{
    live l;
    live_start(&l, "1", 5);
    live_wait(&l, "start 1 ");
    ck_assert(!live_started(&l, 2));
    write_file(l.dir, "procs", "3");
    live_release(&l, 1);
    /* Three at once now: 2, 3 and 4 all wait, in slots 1 to 3. */
    live_wait(&l, "start 2 ");
    live_wait(&l, "start 3 ");
    live_wait(&l, "start 4 ");
    int slots = live_slot(&l, 2) | live_slot(&l, 3) << 4 | live_slot(&l, 4) << 8;
    ck_assert_msg(slots == 0x321 || slots == 0x312 || slots == 0x231 || slots == 0x213 ||
                      slots == 0x132 || slots == 0x123,
                  "slots %x", slots);
    ck_assert(!live_started(&l, 5));
    for (int k = 2; k <= 4; k++)
        live_release(&l, k);
    live_wait(&l, "start 5 ");
    live_release(&l, 5);
    tool_result r = live_end(&l);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
}
END_TEST

START_TEST(jobs_file_read_while_no_job_ends)
{
    /* GNU parallel reads the file again every second as well: a run can
       grow while every job waits, and pause at no slot at all. */
    live l;
    live_start(&l, "1", 3);
    live_wait(&l, "start 1 ");
    write_file(l.dir, "procs", "2");
    live_wait(&l, "start 2 ");
    write_file(l.dir, "procs", "-1000");
    live_release(&l, 1);
    live_release(&l, 2);
    live_reaped(&l, 1);
    live_reaped(&l, 2);
    ck_assert(!live_started(&l, 3));
    write_file(l.dir, "procs", "1");
    live_wait(&l, "start 3 ");
    live_release(&l, 3);
    tool_result r = live_end(&l);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.err, "There are no job slots available. Increase --jobs.") != NULL,
                  "got '%s'", r.err);
    tr_free(&r);
}
END_TEST

START_TEST(jobs_file_pauses_reading_stdin)
{
    /* Values from stdin are read as slots free: a pause at no slot waits
       for the file, not for the end of the input. */
    live l;
    live_start_from(&l, "1", 3, true);
    char in[128];
    snprintf(in, sizeof in, "%s/in", l.dir);
    int fd = open(in, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "1\n", 2), 2);
    live_wait(&l, "start 1 ");
    write_file(l.dir, "procs", "-1000");
    live_release(&l, 1);
    live_reaped(&l, 1);
    ck_assert_int_eq(write(fd, "2\n3\n", 4), 4);
    write_file(l.dir, "procs", "2");
    live_wait(&l, "start 2 ");
    live_wait(&l, "start 3 ");
    close(fd);
    live_release(&l, 2);
    live_release(&l, 3);
    tool_result r = live_end(&l);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
}
END_TEST

START_TEST(jobs_file_gone_ends_the_run)
{
    live l;
    live_start(&l, "2", 3);
    live_wait(&l, "start 1 ");
    live_wait(&l, "start 2 ");
    write_file(l.dir, "procs", "many");
    live_release(&l, 1);
    /* Not a count any more: what runs is ended and the run fails, as GNU
       parallel's. */
    tool_result r = live_end(&l);
    ck_assert_int_eq(r.status, 255);
    ck_assert_msg(strstr(r.err, "not a number of jobs") != NULL, "got '%s'", r.err);
    tr_free(&r);
}
END_TEST

/* ---- fractional counts ------------------------------------------------------------ */

START_TEST(fractional_counts_as_gnu)
{
    tool_result r = TOOL("run", "-k", "-n", "1.5", "echo", ":::", "a", "b", "c", NULL);
    ck_assert_str_eq(r.out, "a b\nc\n");
    tr_free(&r);
    if (!have_parallel())
        return;
    static char *const counts[] = { "1.5", "0.5", "2.7", "1.2k", "0.3" };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        char *c = counts[k];
        GNU_SAME(NULL, "-k", "-n", c, "echo", ":::", "a", "b", "c", "d", "e", "f", "g");
        GNU_SAME(NULL, "-k", "-N", c, "echo", "{1}-{2}", ":::", "a", "b", "c", "d", "e");
        GNU_SAME("a\nb\nc\nd\ne\n", "-k", "-L", c, "echo");
        GNU_SAME("a\nb\nc\nd\ne\n", "-k", "-l", c, "echo");
        GNU_SAME(NULL, "-k", "-X", "-N", c, "echo", "x{}y", ":::", "a", "b", "c", "d", "e");
    }
    static char *const chars[] = { "10.5", "11", "10", "13.2", "12.9" };
    for (size_t k = 0; k < sizeof chars / sizeof chars[0]; k++)
        GNU_SAME(NULL, "-k", "-X", "-s", chars[k], "echo", ":::", "aa", "bb", "cc", "dd", "ee");
    /* {##} and total_jobs(): GNU's count, one past the jobs that run. */
    GNU_SAME(NULL, "-k", "--plus", "-n1.5", "echo", "{##}", ":::", "1", "2", "3", "4");
    GNU_SAME(NULL, "-k", "-N1.5", "echo", "{= $_=total_jobs() =}", ":::", "1", "2", "3", "4",
             "5", "6", "7");
    /* --pipe counts records and lines by whole numbers. */
    const char *in = "1\n2\n3\n4\n5\n6\n7\n";
    GNU_SAME(in, "--pipe", "-k", "-N1.5", "cat; echo =");
    GNU_SAME(in, "--pipe", "-k", "-N2.5", "cat; echo =");
    GNU_SAME(in, "--pipe", "-k", "-L1.5", "cat; echo =");
    GNU_SAME(in, "--pipe", "-k", "-L2.5", "--block", "4", "cat; echo =");
    r = TOOL_IN(in, "run", "--pipe", "-N0.5", "cat", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_str_eq(r.err, "mproc run: --pipe: -N and -n count whole records, not 0.5\n");
    tr_free(&r);
    r = TOOL_IN(in, "run", "--pipe", "-L0.5", "cat", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    /* -j N% with decimals, rounded up; a count below one refused. */
    GNU_SAME(NULL, "-j", "0.5%", "-k", "echo {%} {}", ":::", "a", "b");
    GNU_SAME(NULL, "-j", "50.5%", "-k", "echo", ":::", "a", "b");
    GNU_SAME_STATUS(NULL, "-j", "1.5", "echo", ":::", "a");
    GNU_SAME_STATUS(NULL, "-j", "+0.5", "echo", ":::", "a");
    GNU_SAME_STATUS(NULL, "-j", "0%", "echo", ":::", "a");
    GNU_SAME_STATUS(NULL, "-j", "-1000", "echo", ":::", "a");
    /* Times in fractions. */
    GNU_SAME(NULL, "-k", "--termseq", "TERM,200.5,KILL,25", "echo", ":::", "a");
    GNU_SAME(NULL, "-k", "--delay", "0.01", "echo", ":::", "a", "b");
    GNU_SAME(NULL, "-k", "--timeout", "100.5", "echo", ":::", "a");
    /* Refused by both. */
    GNU_SAME_STATUS(NULL, "--nice", "1.5", "echo", ":::", "a");
    GNU_SAME_STATUS(NULL, "--halt", "soon,fail=1.5", "echo", ":::", "a");
}
END_TEST

START_TEST(fractional_retries_as_gnu)
{
    /* GNU parallel stops retrying when the failures equal N: 2.0 is 2, and
       0 or 1.5 (which no count equals) retry until the job succeeds. Each
       job here fails until its fifth try. */
    const char *steps =
        "for r in 2.0 1.5 0; do $T -k --retries $r "
        "'n=$(cat c{} 2>/dev/null || echo 0); n=$((n+1)); echo $n > c{}; echo {}:$n; "
        "[ $n -ge 5 ]' ::: $r; echo status $?; done";
    gnu_session(steps, "0:5\nstatus 0");
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "live", 300);
    tcase_add_test(tc, progress_lines_as_gnu);
    tcase_add_test(tc, jobs_file_forms_as_gnu);
    tcase_add_test(tc, jobs_file_shrinks_the_run);
    tcase_add_test(tc, jobs_file_grows_the_run);
    tcase_add_test(tc, jobs_file_read_while_no_job_ends);
    tcase_add_test(tc, jobs_file_pauses_reading_stdin);
    tcase_add_test(tc, jobs_file_gone_ends_the_run);
    tcase_add_test(tc, fractional_counts_as_gnu);
    tcase_add_test(tc, fractional_retries_as_gnu);
}
