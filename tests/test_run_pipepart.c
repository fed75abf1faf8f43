/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_pipepart.c: `mproc run --pipe-part`, --round-robin, --cat and
 * --fifo, and --pipe from a pipe, compared with GNU parallel on the same
 * command lines. */
#include "test_run_util.h"

#include <dirent.h>
#include <sched.h>

/* head (if any) then "1\n2\n...n\n"; the caller frees it. */
static char *seq_text(int n, const char *head)
{
    size_t cap = (size_t)n * 8 + (head ? strlen(head) : 0) + 1, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    s[0] = '\0';
    if (head)
        len = (size_t)snprintf(s, cap, "%s", head);
    for (int i = 1; i <= n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%d\n", i);
    return s;
}

/* dir/name holding seq_text(n, head); its path, which the caller frees. */
static char *seq_file(const char *dir, const char *name, int n, const char *head)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    char *text = seq_text(n, head);
    fputs(text, f);
    free(text);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* The number of entries of dir, . and .. aside. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

START_TEST(part_blocks_as_gnu)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char *f = seq_file(dir, "f", 1000, NULL), *g = seq_file(dir, "g", 30000, NULL);
    char *h = seq_file(dir, "h", 3000, "h1\nh2\n");
    /* Each block ends at the first newline from every 1000th byte on. */
    tool_result r = TOOL("run", "--pipe-part", "-a", f, "-k", "--block", "1k", "wc -l", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "278\n251\n251\n220\n");
    tr_free(&r);
    /* The header goes before every block. */
    r = TOOL("run", "--pipe-part", "-a", h, "-k", "--header", "2", "--block", "10k", "head -3",
             NULL);
    ck_assert_str_eq(r.out, "h1\nh2\n1\nh1\nh2\n2223\n");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "1k", "wc -lc");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "wc -l");
        GNU_SAME("", "--pipe-part", "-a", g, "-k", "-j3", "wc -l");
        GNU_SAME("", "--pipe-part", "-a", g, "-k", "-j2", "--block", "-3", "wc -l");
        GNU_SAME("", "--pipe-part", "-a", f, "-a", g, "-k", "--block", "20k", "wc -lc");
        GNU_SAME("", "--pipe-part", "-a", h, "-k", "--header", ":", "--block", "2k",
                 "head -2; wc -c");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "500", "--recstart", "1",
                 "head -2; wc -c");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "500", "--recend", "5",
                 "--recstart", "1", "head -2; wc -c");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "500", "--regexp", "--recstart",
                 "[24]", "head -2; wc -c");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "500", "--regexp", "--recend",
                 "7\n", "head -2; wc -c");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "500", "--recend", "", "wc -c");
        GNU_SAME("", "--pipe-part", "-a", g, "-k", "--round-robin", "-j3", "--block", "1k",
                 "wc -l");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--rrs", "--block", "1k", "tail -c 5");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--tag", "--block", "1k", "wc -l");
        /* A job that stops reading early is no failure here. */
        GNU_SAME("", "--pipe-part", "-a", g, "-k", "-j2", "--block", "100k",
                 "head -c 10 >/dev/null");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "-j1", "--block", "1k", "echo {#} {%} [{}]");
    }
    free(f);
    free(g);
    free(h);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(part_errors)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char *f = seq_file(dir, "f", 10, NULL);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none", dir);
    tool_result r = TOOL("run", "--pipe-part", "-a", missing, "wc -l", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "No such file"));
    ck_assert_str_eq(r.out, "");
    tr_free(&r);
    r = TOOL("run", "--pipe-part", "-a", "/dev/null", "wc -l", NULL);
    ck_assert_int_eq(r.status, 255);
    ck_assert_ptr_nonnull(strstr(r.err, "seekable"));
    tr_free(&r);
    r = TOOL("run", "--pipe-part", "wc -l", NULL);
    ck_assert_int_eq(r.status, 255);
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME_STATUS("", "--pipe-part", "-a", f, "-L", "2", "wc -l");
        GNU_SAME_STATUS("", "--pipe-part", "-a", missing, "wc -l");
        GNU_SAME_STATUS("", "--pipe", "--cat", "--fifo", "wc -l");
        GNU_SAME_STATUS("", "--pipe", "--round-robin", "--retries", "2", "wc -l");
        GNU_SAME_STATUS("", "--pipe", "--round-robin", "--retries", "1", "wc -l");
    }
    free(f);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(cat_and_fifo)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char *in = seq_file(dir, "f", 1000, NULL);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/t", dir);
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    char *text = seq_text(1000, NULL);
    /* {} names a file in --tmpdir holding the block; it is gone after. */
    tool_result r = TOOL_IN(text, "run", "--pipe", "--cat", "--tmpdir", tmp, "-k", "--block", "1k",
                            "wc -l < {}; case {} in $PARALLEL_TMPDIR/par*) echo ok;; esac", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "277\nok\n250\nok\n250\nok\n223\nok\n");
    ck_assert_int_eq(entries(tmp), 0);
    tr_free(&r);
    /* {} is appended when the command has none. */
    r = TOOL_IN(text, "run", "--pipe", "--cat", "--tmpdir", tmp, "-j1", "--block", "2k", "echo",
                NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_char(r.out, '\n'), 2);
    ck_assert_ptr_nonnull(strstr(r.out, "/t/par"));
    tr_free(&r);
    /* A FIFO the job never opens neither blocks mproc nor stays. */
    r = TOOL_IN(text, "run", "--pipe", "--fifo", "--tmpdir", tmp, "--block", "1k", "true", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(entries(tmp), 0);
    tr_free(&r);
    r = TOOL("run", "--pipe-part", "-a", in, "--fifo", "--tmpdir", tmp, "-k", "--block", "1k",
             "test -p {} && wc -l < {}", NULL);
    ck_assert_str_eq(r.out, "278\n251\n251\n220\n");
    ck_assert_int_eq(entries(tmp), 0);
    tr_free(&r);
    /* Failed jobs' files go too; each try has one. */
    r = TOOL_IN(text, "run", "--pipe", "--cat", "--tmpdir", tmp, "--retries", "2", "--block",
                "2k", "cat {} >/dev/null; exit 3", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_int_eq(entries(tmp), 0);
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(text, "--pipe", "-k", "--cat", "--block", "1k", "wc -c < {}; cat");
        GNU_SAME(text, "--pipe", "-k", "--cat", "--header", ":", "--block", "1k", "head -2 {}");
        GNU_SAME(text, "--pipe", "-k", "--cat", "-N", "7", "--block", "1k", "wc -l < {}");
        GNU_SAME(text, "--pipe", "-k", "--fifo", "--block", "1k", "cat {} | wc -c");
        GNU_SAME("", "--pipe-part", "-a", in, "-k", "--cat", "--block", "1k", "wc -l < {}");
        GNU_SAME("", "--pipe-part", "-a", in, "-k", "--fifo", "--block", "1k", "wc -l < {}");
    }
    free(text);
    free(in);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(round_robin)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char *in = seq_file(dir, "f", 30000, "h\n");
    char *text = seq_text(30000, "h\n");
    /* One job per slot, every block to one of them. */
    tool_result r = TOOL_IN(text, "run", "--pipe", "--round-robin", "-j1", "--block", "1k",
                            "wc -l", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "30001\n");
    tr_free(&r);
    r = TOOL_IN(text, "run", "--pipe", "--round-robin", "-j3", "--block", "1k",
                "--joblog", "-", "wc -l > /dev/null", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_le(count_char(r.out, '\n'), 4); /* the joblog's header and 3 jobs */
    tr_free(&r);
    /* The header once to each job. */
    r = TOOL_IN(text, "run", "--pipe", "--round-robin", "-j2", "-k", "--header", ":", "--block",
                "1k", "grep -c h", NULL);
    ck_assert_str_eq(r.out, "1\n1\n");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(text, "--pipe", "-k", "--round-robin", "-j1", "--block", "10k", "wc -l");
        GNU_SAME(text, "--pipe", "-k", "--round-robin", "-j20", "--block", "100k", "wc -l");
        GNU_SAME(text, "--pipe", "-k", "--round-robin", "-j3", "--block", "10k",
                 "echo {#} {%} $PARALLEL_SEQ; wc -l >/dev/null");
    }
    free(text);
    free(in);
    tmpdir_remove(dir);
}
END_TEST

/* stdin a pipe, not a file: the blocks are read, not cut in place. */
START_TEST(pipe_from_a_pipe)
{
    if (!have_parallel())
        return;
    gnu_script_both("seq 3000 | @P@ --pipe -k --block 2k wc -c", 0);
    gnu_script_both("seq 3000 | @P@ --pipe -k --block 1.5k --recstart 1 'wc -c'", 0);
    gnu_script_both("seq 100 | @P@ --pipe -k --block 2 'cat; echo =' 2>/dev/null", 0);
    gnu_script_both("seq 300000 | @P@ --pipe -k --block 1M -j2 'wc -l'", 0);
    gnu_script_both("seq 300000 | @P@ --pipe -k --block 100k --round-robin -j1 'wc -l'", 0);
    gnu_script_both("seq 3000 | @P@ --pipe -k --cat --block 2k 'wc -l {} | cut -c1-4'", 0);
}
END_TEST

/* A job leaving more of a large block unread than a pipe holds is killed
   by SIGPIPE in GNU parallel's joblog; less is no failure. (GNU parallel
   itself may then end early when run by the tests: only what it does from
   a shell is asserted for head -n1.) */
START_TEST(early_exit_as_gnu)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char *in = seq_file(dir, "f", 300000, NULL);
    char *text = seq_text(300000, NULL);
    tool_result r = TOOL_IN(text, "run", "--pipe", "-k", "--block", "1M", "head -n1", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "1\n165669\n");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME(text, "--pipe", "-k", "--block", "200k", "true");
        GNU_SAME(text, "--pipe", "-k", "--block", "100k", "cat >/dev/null");
    }
    free(text);
    free(in);
    tmpdir_remove(dir);
}
END_TEST

/* Blocks larger than a job's pipe go in by many refills (pipepump.c):
   each whole and in order, whatever the job does meanwhile. */
START_TEST(big_blocks)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    char *f = seq_file(dir, "f", 1200000, NULL); /* 8.3 MB: 3 MiB blocks, 3 pipes each */
    char *text = seq_text(1200000, NULL);
    /* Every byte once, in order. */
    tool_result r = TOOL("run", "--pipe-part", "-a", f, "-k", "-j2", "--block", "3M", "cat", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.outlen, strlen(text));
    ck_assert(memcmp(r.out, text, r.outlen) == 0);
    tr_free(&r);
    r = TOOL_IN(text, "run", "--pipe", "-k", "-j3", "--block", "3M", "cat", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.outlen, strlen(text));
    ck_assert(memcmp(r.out, text, r.outlen) == 0);
    tr_free(&r);
    /* A retry gets its block again from the start, after a try that read
       part of it. */
    tool_result once = TOOL("run", "--pipe-part", "-a", f, "-k", "--block", "3M", "cksum", NULL);
    ck_assert_int_eq(once.status, 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "if mkdir %s/m{#} 2>/dev/null; then head -c 1500000 >/dev/null; exit 1; fi; cksum",
             dir);
    r = TOOL("run", "--pipe-part", "-a", f, "-k", "--block", "3M", "--retries", "2", cmd, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, once.out);
    tr_free(&r);
    tr_free(&once);
    /* --pipe: a job leaving most of its block unread failed (SIGPIPE, as
       GNU's), each of the three. */
    r = TOOL_IN(text, "run", "--pipe", "-k", "--block", "3M", "head -n1", NULL);
    ck_assert_int_eq(r.status, 3);
    ck_assert_uint_eq(count_char(r.out, '\n'), 3);
    ck_assert_str_eq(strtok(r.out, "\n"), "1");
    tr_free(&r);
    if (have_parallel()) {
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "--block", "3M", "cksum");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "-j3", "--block", "2M", "--header", "2",
                 "cksum");
        GNU_SAME(text, "--pipe", "-k", "-j2", "--block", "3M", "cksum");
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "-j2", "--block", "3M",
                 "head -c 10 >/dev/null; echo x");
        /* A job that pauses, then reads fast. */
        GNU_SAME("", "--pipe-part", "-a", f, "-k", "-j2", "--block", "3M",
                 "(head -c 100000; sleep 0.2; cat) | cksum");
    }
    free(text);
    free(f);
    tmpdir_remove(dir);
}
END_TEST

/* Our CPU list as /proc/self/status gives it ("Cpus_allowed_list:\t0-1\n"). */
static void own_cpus(char *buf, size_t n)
{
    FILE *f = fopen("/proc/self/status", "re");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    buf[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Cpus_allowed_list:", 18))
            snprintf(buf, n, "%s", line);
    fclose(f);
    ck_assert_str_ne(buf, "");
}

/* Check the CPUs that each job of r printed (part_holds_the_runner_only):
   njobs jobs, each with every one of ours (want), the runner's main thread
   held to one, the pump's lanes with every one. */
static void check_held(tool_result *r, const char *want, int ncpu, int njobs)
{
    ck_assert_int_eq(r->status, 0);
    size_t wlen = strlen(want) - 1; /* no newline */
    /* Held: to one CPU, unless we have only one (or the sanitizers'
       posix_spawn starts the jobs, which cannot give them back our CPUs:
       nobody is held). */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    bool held = ncpu > 1;
#else
    bool held = false;
    (void)ncpu;
#endif
    int njob = 0, nrunner = 0, npump = 0;
    for (char *save, *l = strtok_r(r->out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(l, "Cpus_allowed_list:", 18)) {
            ck_assert_msg(strlen(l) == wlen && !strncmp(l, want, wlen), "job: %s", l);
            njob++;
        } else if (!strncmp(l, "mproc-pump ", 11)) {
            ck_assert_msg(strlen(l + 11) == wlen && !strncmp(l + 11, want, wlen), "pump: %s", l);
            npump++;
        } else if (!strncmp(l, "mproc ", 6)) {
            const char *list = strchr(l, '\t');
            ck_assert_ptr_nonnull(list);
            if (held)
                ck_assert_msg(!strpbrk(list, ",-"), "runner: %s", l);
            nrunner++;
        } else {
            ck_abort_msg("unexpected line: %s", l);
        }
    }
    ck_assert_int_eq(njob, njobs);
    ck_assert_int_eq(nrunner, njobs);
    ck_assert_int_ge(npump, njobs);
}

/* Each job prints its own CPUs, then those of each of the runner's
   threads (its main thread is named mproc, the pump's lanes mproc-pump). */
#define PRINT_CPUS                                                                  \
    "cat >/dev/null; grep -h ^Cpus_allowed_list: /proc/self/status; "              \
    "for t in /proc/$PPID/task/*; do "                                              \
    "echo \"$(cat $t/comm) $(grep ^Cpus_allowed_list: $t/status)\"; done"

/* With a job per CPU the runner waits held to one CPU (spawncpu.c), also
   when the pump feeds every job (--pipe-part, --pipe over a regular
   file): the jobs and the pump's threads keep all of ours. */
START_TEST(part_holds_the_runner_only)
{
    char dir[64], want[4096], jobs[16];
    tmpdir_make(dir, sizeof dir);
    char *f = seq_file(dir, "f", 3000, NULL); /* 13.9 kB: 14 blocks */
    own_cpus(want, sizeof want);
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int ncpu = CPU_COUNT(&set);
    snprintf(jobs, sizeof jobs, "%d", ncpu);
    tool_result r = TOOL("run", "--pipe-part", "-a", f, "--block", "1k", "-j", jobs,
                         PRINT_CPUS, NULL);
    check_held(&r, want, ncpu, 14);
    tr_free(&r);
    /* --pipe with stdin the file itself: its blocks are its ranges. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "exec %s run --pipe --block 1k -j %s '%s' < %s", MPROC_TOOL,
             jobs, PRINT_CPUS, f);
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    r = tr_exec("/bin/sh", argv, "", 0);
    check_held(&r, want, ncpu, 14);
    tr_free(&r);
    free(f);
    tmpdir_remove(dir);
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "pipepart", 600);
    tcase_add_test(tc, part_blocks_as_gnu);
    tcase_add_test(tc, part_errors);
    tcase_add_test(tc, cat_and_fifo);
    tcase_add_test(tc, round_robin);
    tcase_add_test(tc, pipe_from_a_pipe);
    tcase_add_test(tc, early_exit_as_gnu);
    tcase_add_test(tc, big_blocks);
    tcase_add_test(tc, part_holds_the_runner_only);
}
