/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* sem.c: `mproc sem` (also `sem`, and `mproc run --semaphore`): GNU sem's
 * counting semaphore for command lines, on the library's robust semaphore.
 *
 * DESIGN. Each id is one mproc_rsem (named mproc-sem-ID in /dev/shm, with
 * the id's other bytes hex-escaped), with -j units. A command runs in a
 * process that holds one unit from before the command starts until after
 * it ends; a holder killed by any signal gives its unit back at once, and
 * its command is killed with it (PR_SET_PDEATHSIG), so no command runs
 * unaccounted for. In the background (the default), the holder is a child
 * that the foreground process waits for only until the unit is taken (a
 * byte over a pipe), so the caller returns as GNU's sem does, with the
 * command running and holding its unit. Output is grouped as GNU's: the
 * command's stdout and stderr go to two memfds, copied out whole at its
 * end, stdout first.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mproc.h"

#define SEM_PREFIX "mproc-sem-"

typedef struct sem_opts {
    const char *prog; /* "sem" or "mproc sem", for messages */
    const char *id;   /* NULL: the terminal's name, as GNU's */
    long jobs;        /* units; -1: 1 */
    bool fg, wait;
    double timeout; /* --semaphore-timeout: 0 none; > 0 take it anyway;
                       < 0 give up, status 1 */
} sem_opts;

/* What the holder tells the foreground process, once. */
enum { SAID_TAKEN = 'T', SAID_GAVE_UP = 'G' };

static void sem_usage(const char *prog, FILE *f)
{
    fprintf(f,
            "usage: %s [OPTIONS] COMMAND [ARG...]\n"
            "       %s [OPTIONS] --wait\n"
            "\n"
            "A counting semaphore for command lines, as GNU sem: wait until fewer than\n"
            "-j commands of the same id run, then run COMMAND by /bin/sh -c (its words\n"
            "joined by spaces) in the background, holding one unit until it ends. A\n"
            "holder killed by any signal gives its unit back at once.\n"
            "\n"
            "      --id NAME       the semaphore's name (default: the terminal's name);\n"
            "                      also --semaphorename, --semaphore-name\n"
            "  -j, --jobs N        N units (default 1); +N, -N: CPUs plus or minus N;\n"
            "                      N%%: percent of the CPUs; 0: %d; also -P, --max-procs\n"
            "      --fg            run COMMAND in the foreground; exit with its status\n"
            "      --bg            run COMMAND in the background (the default)\n"
            "      --wait          wait until no command of the id runs\n"
            "      --semaphore-timeout SECS, --st SECS\n"
            "                      SECS > 0: after SECS without a unit, run anyway;\n"
            "                      SECS < 0: after -SECS, give up with status 1\n"
            "                      (units s, m, h, d as in 1m30s)\n"
            "      --semaphore     accepted: this is the semaphore\n"
            "  -h, --help          this text\n"
            "\n"
            "Exit status: in the background 0 once the command started; with --fg the\n"
            "command's; 1 when --semaphore-timeout gave up; 255 a usage error.\n"
            "See mproc(1).\n",
            prog, prog, MPROC_RSEM_MAX);
}

static int sem_error(const sem_opts *o, const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\n", o->prog, what, arg ? " " : "", arg ? arg : "");
    return TOOL_EXIT_USAGE;
}

/* GNU's time units: a sum of numbers each optionally followed by s, m, h
   or d (1m30s), with one sign in front. */
static bool parse_secs(const char *s, double *out)
{
    double sign = 1, sum = 0;
    if (*s == '-' || *s == '+')
        sign = *s++ == '-' ? -1 : 1;
    if (!*s)
        return false;
    while (*s) {
        if (!((*s >= '0' && *s <= '9') || *s == '.'))
            return false;
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v))
            return false;
        s = end;
        double unit = 1;
        switch (*s) {
        case 's': case 'S': unit = 1; s++; break;
        case 'm': case 'M': unit = 60; s++; break;
        case 'h': case 'H': unit = 3600; s++; break;
        case 'd': case 'D': unit = 86400; s++; break;
        default:
            if (*s)
                return false;
        }
        sum += v * unit;
    }
    *out = sign * sum;
    return true;
}

/* The library's name for an id: bytes outside [A-Za-z0-9_-] as .XX, so
   that different ids never share a name. */
static bool sem_name(const char *id, char *buf, size_t cap)
{
    size_t n = strlen(SEM_PREFIX);
    memcpy(buf, SEM_PREFIX, n);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        if (n + 4 > cap || n + 3 > 200)
            return false;
        if (plain)
            buf[n++] = (char)*p;
        else
            n += (size_t)snprintf(buf + n, cap - n, ".%02x", *p);
    }
    buf[n] = '\0';
    return true;
}

/* The CPUs -j counts, as GNU's sem: threads. */
static long cpu_threads(void)
{
    long t, c, s;
    cpu_topology(&t, &c, &s);
    return t;
}

/* Options come before the command, as GNU's; -1 after a usage error or
   --help (*rc set), else the index of the command's first word. */
static int sem_parse(sem_opts *o, int argc, char **argv, int *rc)
{
    enum { O_ID = 256, O_FG, O_BG, O_WAIT, O_ST, O_SEM, O_CITE };
    static const struct option longs[] = {
        { "id", required_argument, NULL, O_ID },
        { "semaphorename", required_argument, NULL, O_ID },
        { "semaphore-name", required_argument, NULL, O_ID },
        { "jobs", required_argument, NULL, 'j' },
        { "max-procs", required_argument, NULL, 'j' },
        { "fg", no_argument, NULL, O_FG },
        { "bg", no_argument, NULL, O_BG },
        { "wait", no_argument, NULL, O_WAIT },
        { "semaphore-timeout", required_argument, NULL, O_ST },
        { "semaphoretimeout", required_argument, NULL, O_ST },
        { "st", required_argument, NULL, O_ST },
        { "semaphore", no_argument, NULL, O_SEM },
        { "will-cite", no_argument, NULL, O_CITE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    optind = 1;
    for (;;) {
        int prev = optind;
        int c = getopt_long(argc, argv, "+:j:P:h", longs, NULL);
        if (c == -1)
            break;
        switch (c) {
        case O_ID:
            o->id = optarg;
            break;
        case 'j':
        case 'P':
            if (!parse_jobs(optarg, cpu_threads(), &o->jobs)) {
                *rc = sem_error(o, "-j: not a number of jobs:", optarg);
                return -1;
            }
            break;
        case O_FG:
            o->fg = true;
            break;
        case O_BG:
            o->fg = false;
            break;
        case O_WAIT:
            o->wait = true;
            break;
        case O_ST:
            if (!parse_secs(optarg, &o->timeout)) {
                *rc = sem_error(o, "--semaphore-timeout: not a number of seconds:", optarg);
                return -1;
            }
            break;
        case O_SEM:
        case O_CITE:
            break;
        case 'h':
            sem_usage(o->prog, stdout);
            *rc = 0;
            return -1;
        case ':':
            *rc = sem_error(o, "an option needs a value:", argv[prev]);
            return -1;
        default:
            *rc = sem_error(o, "unknown option", argv[prev]);
            fprintf(stderr, "see %s --help\n", o->prog);
            return -1;
        }
    }
    return optind;
}

/* ---- the command ------------------------------------------------------------- */

static void copy_out(int from, int to)
{
    char buf[65536];
    if (lseek(from, 0, SEEK_SET) < 0)
        return;
    for (;;) {
        ssize_t n = read(from, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || write_all(to, buf, (size_t)n) < 0)
            return;
    }
}

/* Run cmd by /bin/sh -c, dying with us, its output grouped; its exit
   status (128 + N for signal N, as GNU's), or 255 when it cannot start. */
static int run_command(const sem_opts *o, const char *cmd)
{
    int rc = 255, out = -1, err = -1;
    out = memfd_create("mproc-sem-out", MFD_CLOEXEC);
    err = memfd_create("mproc-sem-err", MFD_CLOEXEC);
    if (out < 0 || err < 0) {
        fprintf(stderr, "%s: cannot hold the output: %s\n", o->prog, strerror(errno));
        goto out;
    }
    char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: cannot start the command: %s\n", o->prog, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to the exec. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(255);
        if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(255);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            st = 255 << 8;
            break;
        }
    }
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    copy_out(out, 1);
    copy_out(err, 2);
out:
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    return rc;
}

/* ---- taking a unit ------------------------------------------------------------- */

/* Open the id's semaphore and take a unit, as --semaphore-timeout says.
   Returns 0 holding a unit, 1 running without one (the timeout was
   positive), 2 given up (negative), or 255 after a message. */
static int take_unit(const sem_opts *o, const char *name, mproc_rsem **s)
{
    long units = o->jobs < 0 ? 1 : o->jobs == 0 ? MPROC_RSEM_MAX : o->jobs;
    if (units > MPROC_RSEM_MAX) {
        char n[32];
        snprintf(n, sizeof n, "%ld", units);
        fprintf(stderr, "%s: -j %s: at most %d units\n", o->prog, n, MPROC_RSEM_MAX);
        return 255;
    }
    int r = mproc_rsem_open(s, name, (unsigned)units);
    if (r < 0) {
        fprintf(stderr, "%s: cannot open the semaphore %s: %s\n", o->prog, name, strerror(-r));
        return 255;
    }
    r = mproc_rsem_acquire(*s, o->timeout == 0 ? -1 : fabs(o->timeout));
    if (r == 0)
        return 0;
    if (r == -ETIMEDOUT && o->timeout > 0) {
        fprintf(stderr, "%s: Warning: Semaphore timed out. Stealing the semaphore.\n", o->prog);
        return 1;
    }
    if (r == -ETIMEDOUT) {
        fprintf(stderr, "%s: Warning: Semaphore timed out. Exiting.\n", o->prog);
        return 2;
    }
    fprintf(stderr, "%s: cannot take the semaphore %s: %s\n", o->prog, name, strerror(-r));
    return 255;
}

/* Hold a unit while cmd runs; the command's status, or take_unit's. In
   the background, tell is the pipe to the foreground process fore, which
   waits for us until we have the unit. */
static int hold_and_run(const sem_opts *o, const char *name, const char *cmd, int tell,
                        pid_t fore)
{
    mproc_rsem *s = NULL;
    /* A caller killed while we wait for a unit cancels us, as killing
       GNU's sem before it forks does. */
    if (tell >= 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != fore))
        return 255;
    int t = take_unit(o, name, &s);
    bool held = t == 0;
    if (tell >= 0) {
        /* From here on the command is ours to finish, caller or not; the
           death signal goes before we say so, or the caller's exit could
           kill us. */
        prctl(PR_SET_PDEATHSIG, 0);
        if (getppid() != fore)
            t = 255;
        char said = t <= 1 ? SAID_TAKEN : SAID_GAVE_UP;
        if (t <= 2)
            (void)write_all(tell, &said, 1);
        close(tell);
    }
    int rc = t == 2 ? 1 : t;
    if (t <= 1)
        rc = run_command(o, cmd);
    if (held)
        mproc_rsem_release(s);
    mproc_rsem_close(s);
    return rc;
}

/* The default: a child holds the unit and runs the command; we return as
   soon as it has the unit. */
static int run_background(const sem_opts *o, const char *name, const char *cmd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        fprintf(stderr, "%s: cannot make a pipe: %s\n", o->prog, strerror(errno));
        return 255;
    }
    fflush(NULL);
    pid_t fore = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: cannot fork: %s\n", o->prog, strerror(errno));
        close(p[0]);
        close(p[1]);
        return 255;
    }
    if (pid == 0) {
        /* The tool is single-threaded: the child may go on as a program. */
        close(p[0]);
        fflush(NULL);
        _exit(hold_and_run(o, name, cmd, p[1], fore));
    }
    close(p[1]);
    char said = 0;
    ssize_t n;
    while ((n = read(p[0], &said, 1)) < 0 && errno == EINTR) {
    }
    close(p[0]);
    if (n == 1 && said == SAID_TAKEN)
        return 0; /* the holder is on its own now */
    /* It gave up, or failed and said why: its status is ours. */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

/* --wait: until no unit of the id is held; --semaphore-timeout as for a
   command (positive: go on regardless, status 0). */
static int wait_idle(const sem_opts *o, const char *name)
{
    mproc_rsem *s = NULL;
    int r = mproc_rsem_open(&s, name, 0);
    if (r == -ENOENT)
        return 0; /* nothing of that id runs */
    if (r < 0) {
        fprintf(stderr, "%s: cannot open the semaphore %s: %s\n", o->prog, name, strerror(-r));
        return 255;
    }
    r = mproc_rsem_wait_idle(s, o->timeout == 0 ? -1 : fabs(o->timeout));
    mproc_rsem_close(s);
    if (r == -ETIMEDOUT && o->timeout < 0) {
        fprintf(stderr, "%s: Warning: Semaphore timed out. Exiting.\n", o->prog);
        return 1;
    }
    if (r == -ETIMEDOUT)
        fprintf(stderr, "%s: Warning: Semaphore timed out. Stealing the semaphore.\n", o->prog);
    return 0;
}

/* ---- entry points ------------------------------------------------------------ */

int tool_sem(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    sem_opts o = { .prog = !strcmp(base, "sem") ? "sem" : "mproc sem", .jobs = -1 };
    int rc = 0;
    tbuf cmd = { 0 };
    int i = sem_parse(&o, argc, argv, &rc);
    if (i < 0)
        return rc;
    const char *id = o.id;
    if (!id) {
        /* As GNU's, which asks tty(1) about stdin. */
        id = isatty(0) ? ttyname(0) : NULL;
        if (!id)
            id = "not a tty";
    }
    char name[256];
    if (!sem_name(id, name, sizeof name))
        return sem_error(&o, "--id: too long:", id);
    if (o.wait)
        return wait_idle(&o, name); /* GNU's runs no command with --wait */
    for (int k = i; k < argc; k++) {
        if (k > i)
            tbuf_addc(&cmd, ' ');
        tbuf_adds(&cmd, argv[k]);
    }
    const char *line = cmd.len ? tbuf_cstr(&cmd) : "";
    rc = o.fg ? hold_and_run(&o, name, line, -1, 0) : run_background(&o, name, line);
    tbuf_free(&cmd);
    return rc;
}
