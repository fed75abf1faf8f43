/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runmain.c: `mproc run` from its command line to its exit status: the
 * options (with the profiles' and $PARALLEL's), the joblog to resume from,
 * the sources and the template, the slots, the signals, then the loop
 * (run.c), and the cleanup. */
#include "out.h"
#include "runloop.h"

#include "mproc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- setup ----------------------------------------------------------------------------- */

/* Whether a job run without the shell sees the environment the shell would
   give it: dash sets PWD to the working directory when PWD is unset or
   names another one, so only a PWD that names "." changes nothing. */
static bool pwd_is_cwd(void)
{
    const char *pwd = getenv("PWD");
    struct stat a, b;
    if (!pwd || pwd[0] != '/' || stat(pwd, &a) < 0 || stat(".", &b) < 0)
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* posix_spawn needs 0, 1 and 2 open: a job's dup2 onto a descriptor that is
   already its number would not clear close-on-exec. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int nfd = open("/dev/null", O_RDWR);
        if (nfd >= 0 && nfd != fd) {
            dup2(nfd, fd);
            close(nfd);
        }
    }
}

/* --resume, --resume-failed, --retry-failed: what the joblog says ran. */
static int read_joblog(run *r, int *rc)
{
    const run_opts *o = &r->o;
    if (!o->resume && !o->resume_failed && !o->retry_failed)
        return 0;
    if (!o->joblog) {
        if (o->retry_failed)
            return 0;
        *rc = run_usage_error("--resume and --resume-failed require --joblog.");
        return -1;
    }
    int mode = o->retry_failed ? JOBLOG_RETRY : o->resume ? JOBLOG_RESUME : JOBLOG_RESUME_FAILED;
    if (o->retry_failed) {
        r->retry = xmalloc(sizeof *r->retry);
        memset(r->retry, 0, sizeof *r->retry);
    }
    int ret = joblog_read(o->joblog, mode, &r->done_seqs, r->retry, rc);
    if (ret < 0)
        return -1;
    r->joblog_append = ret == 1;
    r->resuming = true;
    if (o->retry_failed && o->resume) {
        /* Both: what ran at all is done. */
        joblog_done_free(&r->done_seqs);
        if (joblog_read(o->joblog, JOBLOG_RESUME, &r->done_seqs, NULL, rc) < 0)
            return -1;
    }
    return 0;
}

/* The options of the profiles, of $PARALLEL and of the command line, each
 * parsed on its own as GNU parallel parses them; what is not an option in
 * the first two goes before the command line's command. Sets r->argc and
 * r->argv to the words after the options; returns the index of the first
 * (1), or -1 (*rc set). */
static int gather_opts(run *r, int argc, char **argv, int *rc)
{
    run_opts probe;
    run_opts_init(&probe);
    probe.probe = true;
    int prc;
    (void)run_parse_opts(&probe, argc, argv, &prc);
    split_shell_words(&r->prof, "run");
    profile_collect(&r->prof, &probe);
    run_opts_free(&probe);
    split_shell_words(&r->envw, "run");
    const char *env = getenv("PARALLEL");
    if (env)
        split_shell_words(&r->envw, env);
    int k1 = run_parse_opts(&r->o, (int)r->prof.n, r->prof.argv, rc);
    if (k1 < 0)
        return -1;
    int k2 = run_parse_opts(&r->o, (int)r->envw.n, r->envw.argv, rc);
    if (k2 < 0)
        return -1;
    int k3 = run_parse_opts(&r->o, argc, argv, rc);
    if (k3 < 0)
        return -1;
    size_t n = 1 + (r->prof.n - (size_t)k1) + (r->envw.n - (size_t)k2) + (size_t)(argc - k3);
    r->argv = xmalloc((n + 1) * sizeof *r->argv);
    size_t m = 0;
    r->argv[m++] = argv[0];
    for (size_t k = (size_t)k1; k < r->prof.n; k++)
        r->argv[m++] = r->prof.argv[k];
    for (size_t k = (size_t)k2; k < r->envw.n; k++)
        r->argv[m++] = r->envw.argv[k];
    for (int k = k3; k < argc; k++)
        r->argv[m++] = argv[k];
    r->argv[m] = NULL;
    r->argc = (int)m;
    return 1;
}

/* --pipe: the jobs' input is stdin in blocks; -N and -L count records in
   a block, and --header starts every block. 0, or the exit status after a
   usage error. */
static int pipe_start(run *r, int argc, int i)
{
    const pipe_opts *po = &r->o.pipe;
    if (i < argc)
        return run_usage_error("--pipe reads stdin: no ::: or :::: sources");
    if (r->o.dry)
        return run_usage_error("--dry-run with --pipe is not supported by mproc");
    if (po->rr && r->o.retries_given)
        return run_usage_error("--retries cannot be combined with --roundrobin.");
    /* Records and lines are counted by whole numbers here (GNU parallel
       loops up to the count and takes the lines modulo it): 1.5 is 1. A
       fraction below one is refused: GNU parallel then cuts a record after
       its first byte (-N) or fails in the middle of the run (-L). */
    const run_opts *o = &r->o;
    double nrec_f = o->max_replace_args >= 0 ? o->max_replace_args_f : o->max_args_f;
    double nlines_f = o->max_lines_L >= 0 ? o->max_lines_L_f : o->max_lines_f;
    long nrec = o->max_replace_args >= 0 || o->max_args >= 0 ? (long)nrec_f : -1;
    long nlines = o->max_lines_L >= 0 || o->max_lines >= 0 ? (long)nlines_f : -1;
    if (nlines_f > 0 && nlines_f < 1)
        return run_usage_error("--pipe: -L and -l count whole lines, not %g", nlines_f);
    if (nrec_f > 0 && nrec_f < 1)
        return run_usage_error("--pipe: -N and -n count whole records, not %g", nrec_f);
    if (po->part && (o->max_lines_L >= 0 || o->max_lines >= 0 || o->max_replace_args >= 0))
        return run_usage_error("--pipepart is incompatible with --max-replace-args, "
                               "--max-lines, and -L.");
    int rc = pipe_setup(&r->pipe, po, po->part ? 0 : nrec, po->part ? 0 : nlines, r->o.header);
    if (rc != 0)
        return rc;
    r->pipe.header_twice = r->o.retries > 1;
    r->pipe.tmpdir = tmp_dir(r);
    r->o.repl.no_append = !po->cat && !po->fifo;
    if (po->part) {
        long j = r->o.jobs < 0 ? mproc_cpu_count() : r->o.jobs;
        return pipe_part_setup(&r->pipe, po, r->o.argfiles, r->o.nargfiles, j);
    }
    r->in.streaming = true;
    return 0;
}

/* GNU parallel's count of jobs (total_jobs(), {##}, --eta): after the
   first job, the values left divided by the count per job, rounded up; so
   with a fraction (-n 1.5) it may count more jobs than run. 0 when it is
   the jobs that run. */
static size_t gnu_total(const run_opts *o, size_t ntuples)
{
    /* The count per job as GNU parallel takes it: -N, else -n (when not
       0), else -l, else -L. */
    double m = o->max_replace_args >= 0          ? o->max_replace_args_f
               : o->max_args > 0                 ? o->max_args_f
               : o->max_lines >= 0               ? o->max_lines_f
               : o->max_lines_L >= 0             ? o->max_lines_L_f
                                                 : 1;
    if (m == floor(m) || o->multi_X || o->multi_m || o->multi_xargs || ntuples == 0)
        return 0;
    if (m < 1)
        m = 1;
    double first = fmin((double)ntuples, ceil(m));
    return 1 + (size_t)ceil(((double)ntuples - first) / m);
}

static int dry_run(run *r)
{
    tbuf line = {0};
    int rc = 0;
    size_t skipped = 0;
    for (size_t i = 0; i < r->total; i++) {
        if (r->resuming && joblog_is_done(&r->done_seqs, i + 1))
            continue;
        job_values(r, i);
        /* A skipped job is printed all the same, and counts as failed, as
           GNU parallel does. */
        int b = build_cmd(r, &line, i + 1, (long)(i % (size_t)r->nslots) + 1);
        if (b < 0) {
            rc = TOOL_EXIT_USAGE;
            break;
        }
        skipped += (size_t)b;
        tbuf_addc(&line, '\n');
        char *tag = r->o.tag ? make_tag(r, i + 1, (long)(i % (size_t)r->nslots) + 1) : NULL;
        int err = out_write(1, tag, line.p, line.len);
        free(tag);
        if (err < 0) {
            rc = err == -EPIPE ? 0 : TOOL_EXIT_USAGE;
            break;
        }
    }
    if (rc == 0)
        rc = skipped > 100 ? 101 : (int)skipped;
    tbuf_free(&line);
    return rc;
}

int tool_run(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    run_opts_init(&r.o);
    r.devnull = r.sigfd = -1;
    int rc = 0;
    sigset_t orig_mask, block;
    bool masked = false;
    struct sigaction sa_pipe_old, sa_chld_old;
    bool pipe_set = false, chld_set = false;

    /* First of all: reading a closed stdin must find it empty (GNU parallel
       runs no job and exits 0), not fail. */
    ensure_std_fds();
    int i = gather_opts(&r, argc, argv, &rc);
    if (i < 0)
        goto out;
    if (r.o.semaphore) {
        /* --semaphore, or an option only the semaphore has: mproc sem. */
        rc = tool_sem(argc, argv);
        goto out;
    }
    /* --mpi: the ranks but 0 serve here and never come back. */
    if (r.o.mpi && mpi_enter(&r, &rc) < 0)
        goto out;
    argc = r.argc;
    argv = r.argv;
    if (read_joblog(&r, &rc) < 0)
        goto out;
    if (r.retry) {
        /* --retry-failed runs the joblog's commands, not the command
           line's. */
        i = argc;
    }
    int cmd_start = i;
    while (i < argc && !sources_is_marker(&r.o, argv[i]))
        i++;
    r.nwords = (size_t)(i - cmd_start);
    /* The command's words, and --tagstring last: --header renames in all. */
    r.words = xmalloc((r.nwords + 2) * sizeof *r.words);
    for (size_t k = 0; k < r.nwords; k++)
        r.words[k] = xstrdup(argv[cmd_start + (int)k]);
    r.words[r.nwords] = xstrdup(r.o.tagstring ? r.o.tagstring : "");
    if (r.o.tagstring) { /* with \t \n \r \NNN as GNU parallel reads it */
        size_t n = unescape_printf(r.o.tagstring, r.words[r.nwords], strlen(r.o.tagstring) + 1);
        r.words[r.nwords][n] = '\0';
    }
    if (r.o.eta && r.o.pipe.on) {
        rc = run_usage_error("--pipe is incompatible with --eta");
        goto out;
    }
    if (r.o.pipe.on) {
        if ((rc = pipe_start(&r, argc, i)) != 0)
            goto out;
    } else if (r.retry)
        sources_use(&r.in, r.retry);
    else if (sources_read(&r.in, &r.o, argc, argv, i, &rc) < 0 ||
        sources_header(&r.in, &r.o, r.words, r.nwords + 1, argc, argv, i, &rc) < 0)
        goto out;
    if (r.o.tagstring) {
        r.tagtmpl = cmd_parse_tag(r.words[r.nwords], &r.o.repl);
        if (!r.tagtmpl) {
            rc = TOOL_EXIT_USAGE;
            goto out;
        }
        r.o.tag = true;
    }
    r.tmpl = cmd_parse(r.words, r.nwords, &r.o.repl);
    if (!r.tmpl) {
        rc = TOOL_EXIT_USAGE;
        goto out;
    }
    if (r.o.show_limits) {
        long real, usable;
        line_limits(&r.o, &real, &usable);
        printf("Maximal size of command: %ld\nMaximal usable size of command: %ld\n\n"
               "Execution will continue now, and it will try to read its input\n"
               "and run commands; if this is not what you wanted to happen, please\n"
               "press CTRL-D or CTRL-C\n",
               real, usable);
        fflush(stdout);
    }
    /* total_jobs() and grouping need every value before the first job. */
    bool grouping = !r.o.pipe.on && groups_wanted(&r.o);
    r.o.whole_input = cmd_wants_total(r.tmpl) || grouping || r.o.results || r.o.eta;
    if (r.o.whole_input && sources_read_rest(&r.in, &rc) < 0)
        goto out;
    r.total = r.o.pipe.on ? pipe_njobs(&r.pipe) : sources_count(&r.in, &r.o);
    r.shell = shell_choose(); /* before grouping: the quoting is the shell's */
    if (grouping) {
        long j0 = r.o.jobs < 0 ? mproc_cpu_count() : r.o.jobs;
        long n = groups_form(&r.grp, &r.o, &r.in, r.total, r.tmpl, j0 > 0 ? (size_t)j0 : 0);
        if (n < 0) {
            rc = TOOL_EXIT_USAGE;
            goto out;
        }
        r.total_gnu = gnu_total(&r.o, r.total);
        r.total = (size_t)n;
    }

    long j = r.o.jobs < 0 ? mproc_cpu_count() : r.o.jobs;
    if (!r.in.streaming && (j == 0 || (size_t)j > r.total))
        j = r.total > 0 && r.total < LONG_MAX ? (long)r.total : 1;
    if (j < 1)
        j = 1;
    r.nslots = j;

    if (r.o.joblog && !r.o.dry) {
        /* A dry run writes no joblog, as GNU parallel's. */
        r.joblog = joblog_open(r.o.joblog, r.joblog_append);
        if (!r.joblog) {
            rc = run_usage_error("cannot write the joblog '%s': %s",
                                 r.o.joblog + (r.o.joblog[0] == '+'), strerror(errno));
            goto out;
        }
    }
    if (!shell_usable(r.shell)) {
        rc = run_usage_error("Shell '%s' not found.", r.shell);
        goto out;
    }
    {
        const char *tmp = r.o.tmpdir ? r.o.tmpdir : getenv("TMPDIR");
        jobenv_init(&r.env, r.shell, tmp && *tmp ? tmp : "/tmp");
    }
    if (!r.o.dry && results_open(&r.rs, &r.o, &rc) < 0)
        goto out;
    if ((r.rs.kind == RES_CSV || r.rs.kind == RES_TSV) && r.total > 0) {
        /* The header names the first job's values. */
        job_values(&r, 0);
        results_header(&r.rs, r.nvals, r.in.names, r.in.nnames);
    }
    if (r.o.dry) {
        rc = dry_run(&r);
        goto out;
    }
    r.pg.on = (r.o.progress || r.o.eta) && !r.o.bar;
    /* The most jobs at a time, as GNU parallel lists it: -j as asked,
       only 0 (as many as possible) limited by the jobs there are. */
    progress_start(&r, r.o.jobs < 0 ? mproc_cpu_count() : r.o.jobs > 0 ? r.o.jobs : r.nslots);
    if (r.total == 0 && !r.in.streaming) {
        if (r.pg.on)
            progress_update(&r, true);
        goto out;
    }

    slots_init(&r);
    r.pipe.rr_jobs = (size_t)r.nslots; /* --round-robin: a job per slot */
    if (r.mpi) {
        /* The other ranks' slots follow rank 0's own. */
        if (mpi_begin(&r, &r.nslots, &rc) < 0)
            goto out;
        slots_reserve(&r, r.nslots);
    }
    if (r.o.keep) {
        pend_grow(&r);
        r.next_print = 1;
    }
    r.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r.devnull < 0) {
        rc = run_usage_error("cannot open /dev/null: %s", strerror(errno));
        goto out;
    }

    /* Interrupts arrive on a signalfd, read in the loop, so no handler runs
       in the middle of it; jobs get the mask we were given. One the caller
       ignores (nohup) is left out: Linux would queue it, blocked, for the
       signalfd all the same, and it must not stop the run. */
    sigemptyset(&block);
    static const int interrupts[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t k = 0; k < sizeof interrupts / sizeof interrupts[0]; k++) {
        struct sigaction old;
        if (sigaction(interrupts[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaddset(&block, interrupts[k]);
    }
    sigprocmask(SIG_BLOCK, &block, &orig_mask);
    masked = true;
    r.sigfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
    if (r.sigfd < 0) {
        rc = run_usage_error("signalfd: %s", strerror(errno));
        goto out;
    }

    /* A write to a closed stdout must come back as EPIPE, so that the jobs
       are ended before we go; the jobs themselves get SIGPIPE as usual. */
    struct sigaction ign = { .sa_handler = SIG_IGN };
    sigaction(SIGPIPE, &ign, &sa_pipe_old);
    pipe_set = true;
    if (sa_pipe_old.sa_handler == SIG_DFL)
        r.reset_pipe = true;
    r.orig_mask = orig_mask;
    /* With SIGCHLD ignored the kernel would reap the jobs before their
       exit status could be read. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigaction(SIGCHLD, &dfl, &sa_chld_old);
    chld_set = true;

    r.direct_ok = pwd_is_cwd();
    r.funcs = shell_exports_functions();
    r.bar = r.o.bar && isatty(2);
    throttle_init(&r.th, &r.o);
    r.hold_until = INFINITY;
    /* --nice: as GNU parallel sets it in each job; here once, for mproc
       and so for every job it starts. A failure (lowering it without the
       privilege) is ignored, as GNU parallel ignores it. */
    if (r.o.nice != 0)
        (void)setpriority(PRIO_PROCESS, 0, r.o.nice);
    r.t0 = now_mono();
    int err = loop(&r);
    if (err < 0) {
        if (err != ERR_REPORTED)
            fprintf(stderr, "mproc run: %s\n", strerror(-err));
        /* End whatever runs, then leave. */
        cancel_all(&r, SIGKILL);
        for (long k = 0; k < r.slot_cap; k++) {
            slot *s = &r.slots[k];
            if (!s->busy)
                continue;
            waitpid(s->pid, NULL, 0);
            kill(-s->pid, SIGKILL);
            xclose(&s->pidfd);
            xclose(&s->fd_out);
            xclose(&s->fd_err);
            xclose(&s->wr_out);
            xclose(&s->wr_err);
            s->busy = false;
        }
        rc = TOOL_EXIT_USAGE;
        goto out;
    }
    if (r.o.keep && !(r.halted && r.o.halt_when == HALT_NOW)) {
        /* After a halt soon or an interrupt: what finished, in order. A
           halt now drops what was held, as GNU parallel does. */
        for (size_t k = r.next_print; k >= 1 && k <= r.total; k++)
            if (r.pend[k - 1].done)
                pend_print(&r, &r.pend[k - 1]);
    }
    bar_update(&r, true);
    run_counts c = counts(&r);
    rc = r.halted ? r.halt_status : policy_fail_status(&r.o, &c);

out:
    mpi_end(&r);
    joblog_close(r.joblog);
    results_close(&r.rs);
    xclose(&r.sigfd);
    xclose(&r.devnull);
    /* The perl coprocess, if any, ends before we may leave by a signal. */
    cmd_finish();
    /* So do --cat's and --fifo's temporary files. */
    pipe_free(&r.pipe);
    int die_by = r.interrupted;
    if (pipe_set)
        sigaction(SIGPIPE, &sa_pipe_old, NULL);
    if (chld_set)
        sigaction(SIGCHLD, &sa_chld_old, NULL);
    if (die_by) {
        /* Leave as the signal would have made us, so a shell sees it. */
        signal(die_by, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, die_by);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(die_by);
    }
    if (masked)
        sigprocmask(SIG_SETMASK, &orig_mask, NULL);
    if (r.slots) {
        for (long k = 0; k < r.slot_cap; k++) {
            tbuf_free(&r.slots[k].out);
            tbuf_free(&r.slots[k].err);
            tbuf_free(&r.slots[k].cmd);
            tbuf_free(&r.slots[k].rvals);
            free(r.slots[k].tagstr);
        }
        free(r.slots);
    }
    if (r.pend) {
        for (size_t k = 0; k < r.pend_cap; k++)
            pend_free(&r.pend[k]);
        free(r.pend);
    }
    groups_free(&r.grp);
    joblog_done_free(&r.done_seqs);
    if (r.retry) {
        source_free(r.retry);
        free(r.retry);
    }
    sources_free(&r.in);
    pipe_free(&r.pipe);
    for (size_t k = 0; k < r.nwords + (r.words != NULL); k++)
        free(r.words[k]);
    cmd_free(r.tagtmpl);
    free(r.words);
    free(r.argv);
    profile_free(&r.prof);
    profile_free(&r.envw);
    run_opts_free(&r.o);
    free(r.pfd);
    free(r.pidx);
    free(r.requeue);
    cmd_free(r.tmpl);
    jobenv_free(&r.env);
    free(r.shell);
    return rc;
}
