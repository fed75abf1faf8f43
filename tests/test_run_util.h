/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_run_util.h: running the built mproc tool as a child in tests, with its
 * stdin from a string and its stdout, stderr and status captured.
 * Header-only, shared by tests/test_run*.c and tests/test_tree.c. */
#ifndef MPROC_TEST_RUN_UTIL_H
#define MPROC_TEST_RUN_UTIL_H

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MPROC_TOOL
#define MPROC_TOOL "mproc"
#endif

extern char **environ;

typedef struct tool_result {
    int status;    /* exit status, or 128 + N for signal N */
    char *out;     /* NUL-terminated */
    size_t outlen;
    char *err;
    size_t errlen;
} tool_result;

static inline void tr_free(tool_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Start prog with argv; its stdin holds the len bytes of in (memfd, so no
   writer can block or take SIGPIPE), stdout and stderr are pipes returned in
   *out_fd, *err_fd. */
static inline pid_t tr_start(const char *prog, char *const argv[], const char *in, size_t len,
                      int *out_fd, int *err_fd)
{
    int mfd = memfd_create("stdin", MFD_CLOEXEC);
    ck_assert_int_ge(mfd, 0);
    if (len)
        ck_assert_int_eq(write(mfd, in, len), (ssize_t)len);
    ck_assert_int_eq(lseek(mfd, 0, SEEK_SET), 0);
    int po[2], pe[2];
    ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, mfd, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    int err = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(mfd);
    close(po[1]);
    close(pe[1]);
    ck_assert_int_eq(err, 0);
    *out_fd = po[0];
    *err_fd = pe[0];
    return pid;
}

static inline void tr_slurp(int fds[2], char **bufs, size_t *lens)
{
    size_t caps[2] = { 0, 0 };
    int open_ = (fds[0] >= 0) + (fds[1] >= 0);
    while (open_ > 0) {
        struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_int_ge(n, 0);
        for (int k = 0; k < 2; k++) {
            if (fds[k] < 0 || !p[k].revents)
                continue;
            if (lens[k] + 4097 > caps[k]) {
                caps[k] = caps[k] ? caps[k] * 2 : 65536;
                bufs[k] = realloc(bufs[k], caps[k]);
                ck_assert_ptr_nonnull(bufs[k]);
            }
            ssize_t r = read(fds[k], bufs[k] + lens[k], caps[k] - lens[k] - 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(fds[k]);
                fds[k] = -1;
                open_--;
                continue;
            }
            lens[k] += (size_t)r;
        }
    }
    for (int k = 0; k < 2; k++) {
        if (!bufs[k])
            bufs[k] = calloc(1, 1);
        bufs[k][lens[k]] = '\0';
    }
}

static inline int tr_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run prog (argv[0] is its name) to the end. */
static inline tool_result tr_exec(const char *prog, char *const argv[], const char *in, size_t len)
{
    tool_result r = { 0 };
    int fds[2];
    pid_t pid = tr_start(prog, argv, in, len, &fds[0], &fds[1]);
    char *bufs[2] = { NULL, NULL };
    size_t lens[2] = { 0, 0 };
    tr_slurp(fds, bufs, lens);
    r.status = tr_wait(pid);
    r.out = bufs[0];
    r.outlen = lens[0];
    r.err = bufs[1];
    r.errlen = lens[1];
    return r;
}

/* Run the tool: TOOL("run", "-k", "echo", ":::", "a", NULL), with stdin
   in (may be NULL). */
#define TOOL_IN(in, ...)                                                              \
    ({                                                                               \
        char *argv_[] = { "mproc", __VA_ARGS__ };                                    \
        const char *in_ = (in);                                                      \
        tr_exec(MPROC_TOOL, argv_, in_ ? in_ : "", in_ ? strlen(in_) : 0);             \
    })
#define TOOL(...) TOOL_IN(NULL, __VA_ARGS__)

/* A fresh temporary folder, and its removal with everything in it. */
static inline void tmpdir_make(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/mproc-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline void tmpdir_remove(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    tool_result r = tr_exec("/bin/sh", argv, "", 0);
    ck_assert_int_eq(r.status, 0);
    tr_free(&r);
}

static inline bool file_exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static inline char *file_read(const char *path)
{
    FILE *f = fopen(path, "re");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Count occurrences of c in s. */
static inline size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* ---- against GNU parallel ---------------------------------------------------- */

static inline bool have_parallel(void)
{
    return access("/usr/bin/parallel", X_OK) == 0;
}

/* s with each line's "mproc run: ", "mproc: " or "parallel: " taken out, in
   place. */
static inline char *strip_tool_names(char *s)
{
    static const char *const names[] = { "mproc run: ", "mproc: ", "parallel: " };
    char *w = s;
    for (char *r = s; *r;) {
        for (size_t k = 0; k < 3; k++)
            if (!strncmp(r, names[k], strlen(names[k]))) {
                r += strlen(names[k]);
                break;
            }
        while (*r && *r != '\n')
            *w++ = *r++;
        if (*r)
            *w++ = *r++;
    }
    *w = '\0';
    return s;
}

/* What to compare besides stdout and the exit status. */
enum { GNU_STDERR = 1, GNU_STATUS_ONLY = 2 };

/* Run the same command line (args, NULL-terminated, after "run" and after
   "parallel --will-cite") through both with stdin in, and compare stdout
   and the exit status, and stderr with GNU_STDERR once each tool's name is
   taken out ("mproc run: " and "parallel: " become ""). The shell that
   runs them is sh unless set otherwise in the environment. */
static inline void gnu_compare_flags(const char *in, char **args, int flags)
{
    char *m[64] = { "mproc", "run" }, *p[64] = { "parallel", "--will-cite" };
    int n = 0;
    for (; args[n]; n++) {
        ck_assert_int_lt(n, 60);
        m[n + 2] = args[n];
        p[n + 2] = args[n];
    }
    m[n + 2] = p[n + 2] = NULL;
    size_t len = in ? strlen(in) : 0;
    tool_result a = tr_exec(MPROC_TOOL, m, in ? in : "", len);
    tool_result b = tr_exec("/usr/bin/parallel", p, in ? in : "", len);
    ck_assert_msg((flags & GNU_STATUS_ONLY) || !strcmp(a.out, b.out), "mproc printed '%s', GNU parallel '%s' (%s %s ...)",
                  a.out, b.out, args[0] ? args[0] : "", args[0] && args[1] ? args[1] : "");
    ck_assert_msg(a.status == b.status, "mproc exited %d, GNU parallel %d (%s %s ...)", a.status,
                  b.status, args[0] ? args[0] : "", args[0] && args[1] ? args[1] : "");
    if (flags & GNU_STDERR)
        ck_assert_msg(!strcmp(strip_tool_names(a.err), strip_tool_names(b.err)), "mproc said '%s', GNU parallel '%s' (%s ...)", a.err,
                      b.err, args[0]);
    tr_free(&a);
    tr_free(&b);
}

static inline void same_as_parallel(const char *in, char **args)
{
    gnu_compare_flags(in, args, 0);
}

/* Run script with the shell sh ("sh", "bash"), once with each @P@ in it
   made the path of mproc plus " run", once made "parallel --will-cite";
   compare stdout and status, and stderr with GNU_STDERR. */
static inline char *script_for(const char *script, const char *tool)
{
    size_t n = strlen(script) + 1, tl = strlen(tool);
    for (const char *p = script; (p = strstr(p, "@P@")); p += 3)
        n += tl;
    char *out = malloc(n), *w = out;
    ck_assert_ptr_nonnull(out);
    for (const char *p = script; *p;) {
        if (!strncmp(p, "@P@", 3)) {
            memcpy(w, tool, tl);
            w += tl;
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

static inline void gnu_script_flags(const char *sh, const char *script, int flags)
{
    char *m = script_for(script, MPROC_TOOL " run");
    char *p = script_for(script, "parallel --will-cite");
    char *am[] = { (char *)sh, "-c", m, NULL }, *ap[] = { (char *)sh, "-c", p, NULL };
    char path[64];
    snprintf(path, sizeof path, "/bin/%s", sh);
    tool_result a = tr_exec(path, am, "", 0);
    tool_result b = tr_exec(path, ap, "", 0);
    ck_assert_msg((flags & GNU_STATUS_ONLY) || !strcmp(a.out, b.out),
                  "%s: mproc printed '%s', GNU parallel '%s' (%s)", sh, a.out, b.out, script);
    ck_assert_msg(a.status == b.status, "%s: mproc exited %d, GNU parallel %d (%s)", sh,
                  a.status, b.status, script);
    if (flags & GNU_STDERR)
        ck_assert_msg(!strcmp(strip_tool_names(a.err), strip_tool_names(b.err)),
                      "%s: mproc said '%s', GNU parallel '%s' (%s)", sh, a.err, b.err, script);
    tr_free(&a);
    tr_free(&b);
    free(m);
    free(p);
}

/* Run steps (a sh script using $T for the tool) in a fresh folder with T
   set to tool; its stdout, a new string. */
static inline char *session_in_tmp(const char *tool, const char *steps)
{
    char dir[64];
    tmpdir_make(dir, sizeof dir);
    size_t n = strlen(steps) + strlen(dir) + strlen(tool) + 32;
    char *script = malloc(n);
    ck_assert_ptr_nonnull(script);
    snprintf(script, n, "cd %s && T='%s'; %s", dir, tool, steps);
    char *argv[] = { "sh", "-c", script, NULL };
    tool_result r = tr_exec("/bin/sh", argv, "", 0);
    char *out = r.out;
    r.out = NULL;
    tr_free(&r);
    free(script);
    tmpdir_remove(dir);
    return out;
}

/* The same steps by mproc and GNU parallel print the same; mproc's
   output holds want. */
static inline void gnu_session(const char *steps, const char *want)
{
    char *m = session_in_tmp(MPROC_TOOL " run", steps);
    ck_assert_msg(strstr(m, want) != NULL, "'%s' lacks '%s'", m, want);
    if (have_parallel()) {
        char *p = session_in_tmp("parallel --will-cite", steps);
        ck_assert_msg(!strcmp(m, p), "mproc:\n%s\nGNU parallel:\n%s", m, p);
        free(p);
    }
    free(m);
}

/* The same script from bash and from sh. */
static inline void gnu_script_both(const char *script, int flags)
{
    gnu_script_flags("bash", script, flags);
    gnu_script_flags("sh", script, flags);
}

/* GNU_SAME(stdin, args...): the same stdout and status as GNU parallel. */
#define GNU_SAME(in, ...) same_as_parallel((in), (char *[]){ __VA_ARGS__, NULL })
/* A usage error in both: GNU parallel prints its usage on stdout, mproc
   nothing, so only the status is compared. */
#define GNU_SAME_STATUS(in, ...)                                                   \
    gnu_compare_flags((in), (char *[]){ __VA_ARGS__, NULL }, GNU_STATUS_ONLY)
#define GNU_SAME_ERR(in, ...) gnu_compare_flags((in), (char *[]){ __VA_ARGS__, NULL }, GNU_STDERR)

#endif
