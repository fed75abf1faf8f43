/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runopt.c: mproc run's option table (parsed by getopt_long in runparse.c,
 * which also generates --help from it) and the options' handlers.
 *
 * DESIGN. Every option GNU parallel 20221122 has is in the table, so that
 * abbreviations (--kee for --keep-order) are unique or ambiguous exactly
 * where they are in GNU parallel; those mproc does not support carry the
 * reason they are refused. An entry names its long forms (aliases after
 * '|', the first one shown), its short letter, whether it takes a value,
 * and either the bool field it sets or its handler. Parsing stops at the
 * first word that is not an option ('+' in the optstring), so the command's
 * own options are left alone, as GNU parallel's require_order. Values that
 * GNU parallel takes optionally (-e[EOF], -i[STR], -l[N]) are, as in Perl's
 * Getopt::Long, the next word when it does not look like an option.
 */
#include "runopt.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char R_REMOTE[] = "remote execution is not in this release (clusters use mproc run --mpi)";
static const char R_RETIRED[] = "retired in GNU parallel";
static const char R_NOSUP[] = "not supported by mproc";


static int h_jobs(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    o->jobs_s = val; /* resolved once --use-cores-instead-of-threads is known */
    return 0;
}

static int h_version(run_opts *o, const char *val, const optdef *d)
{
    (void)o, (void)val, (void)d;
    tool_print_version();
    return STOP_OK;
}

/* The GNU parallel release whose interface mproc run follows: what
   --min-version compares with. */
#define GNU_INTERFACE_VERSION 20221122L

static int h_min_version(run_opts *o, const char *val, const optdef *d)
{
    (void)o, (void)d;
    long v;
    if (!parse_long(val, &v))
        return run_usage_error("--min-version: not a version number: '%s'", val);
    printf("%ld\n", GNU_INTERFACE_VERSION);
    return v > GNU_INTERFACE_VERSION ? TOOL_EXIT_USAGE : STOP_OK;
}

static int h_stop(run_opts *o, const char *val, const optdef *d)
{
    (void)o, (void)val, (void)d;
    return STOP_OK;
}

static int h_number_of(run_opts *o, const char *val, const optdef *d)
{
    (void)o, (void)val;
    long t, c, s;
    cpu_topology(&t, &c, &s);
    /* --number-of-cpus is GNU parallel's old name for the cores. */
    printf("%ld\n", !strncmp(d->names, "number-of-threads", 17)   ? t
                    : !strncmp(d->names, "number-of-sockets", 17) ? s
                                                                   : c);
    return STOP_OK;
}

static int h_delay(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    if (!parse_duration(val, &o->delay))
        return run_usage_error("--delay: not a duration: '%s'", val);
    return 0;
}

static int h_termseq(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    if (!parse_termseq(o, val))
        return run_usage_error("--termseq: expected SIGNAL,MS,SIGNAL,MS...: '%s'", val);
    return 0;
}

static int h_memfree(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    if (!parse_size(val, &o->memfree))
        return run_usage_error("--memfree: not a size: '%s'", val);
    return 0;
}

static int h_load(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    double v;
    if (!parse_load(val, 1, &v))
        return run_usage_error("--load: not a load: '%s'", val);
    o->load = val;
    return 0;
}

static int h_nice(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    long v;
    if (!parse_long(val, &v) || v < -20 || v > 19)
        return run_usage_error("--nice: not a niceness (-20 to 19): '%s'", val);
    o->nice = (int)v;
    return 0;
}

static int h_verbose_v(run_opts *o, const char *val, const optdef *d)
{
    (void)val, (void)d;
    o->verbose_v++;
    return 0;
}

static int h_group(run_opts *o, const char *val, const optdef *d)
{
    (void)val, (void)d;
    o->linebuf = false;
    return 0;
}

static int h_ignore(run_opts *o, const char *val, const optdef *d)
{
    (void)o, (void)val, (void)d;
    return 0;
}

static int h_timeout(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    size_t n = strlen(val);
    if (n > 1 && val[n - 1] == '%') {
        /* N% of the median runtime of the jobs that succeeded. */
        char *end;
        double pct = strtod(val, &end);
        if (end != val + n - 1 || !(pct > 0))
            return run_usage_error("--timeout: not a percentage: '%s'", val);
        o->timeout_pct = pct / 100;
        o->timeout = 0;
        return 0;
    }
    if (!parse_duration(val, &o->timeout) || !(o->timeout > 0))
        return run_usage_error("--timeout: not a number of seconds: '%s'", val);
    o->timeout_pct = 0;
    return 0;
}

static int h_retries(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    char *end;
    double v = strtod(val, &end);
    if (end == val || *end || isnan(v))
        return run_usage_error("--retries: not a number: '%s'", val);
    /* GNU parallel stops retrying when the failures equal N: 0 is
       infinite, and so is what no count of failures equals (1.5, -1). */
    o->retries = v >= 1 && v < 1e12 && v == floor(v) ? (long)v : LONG_MAX;
    o->retries_given = true;
    return 0;
}

static int h_halt(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    if (!parse_halt(o, val))
        return run_usage_error("--halt: expected now|soon,fail=N|success=N, got '%s'", val);
    return 0;
}

static int h_joblog(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    o->joblog = val;
    return 0;
}

/* A string option: the value (or "" for an optional one not given) into
   the const char * at d->str. */
static int h_str(run_opts *o, const char *val, const optdef *d)
{
    assert(d->str > 0);
    *(const char **)((char *)o + d->str) = val ? val : "";
    return 0;
}

/* --pipe-part, --cat and --fifo each mean --pipe too, as GNU parallel
   takes them. */
static int h_pipe_mode(run_opts *o, const char *val, const optdef *d)
{
    (void)val;
    o->pipe.on = true;
    *(bool *)((char *)o + d->flag) = true;
    return 0;
}

static int h_rpl(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    o->repl.rpl = xrealloc(o->repl.rpl, (o->repl.nrpl + 1) * sizeof *o->repl.rpl);
    o->repl.rpl[o->repl.nrpl++] = val;
    return 0;
}

static int h_shellquote(run_opts *o, const char *val, const optdef *d)
{
    (void)val, (void)d;
    o->repl.shellquote++;
    return 0;
}

/* Append val to a growing list of strings. */
static void list_add(const char ***list, size_t *n, const char *val)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = val;
}

static int h_argfile(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    list_add(&o->argfiles, &o->nargfiles, val);
    return 0;
}

int run_opt_profile(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    list_add(&o->profiles, &o->nprofiles, val);
    return 0;
}

static int h_delim(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    size_t n = unescape_printf(val, o->delim, sizeof o->delim);
    if (n == 0 || n >= sizeof o->delim)
        return run_usage_error("-d: not a delimiter: '%s'", val);
    o->dlen = n;
    return 0;
}

static int h_eof(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    /* -e alone: no end-of-file string. */
    o->eof = val && *val ? val : NULL;
    return 0;
}

static int h_trim(run_opts *o, const char *val, const optdef *d)
{
    (void)d;
    static const struct {
        const char *name;
        int trim;
    } forms[] = { { "n", TRIM_NONE }, { "l", TRIM_LEFT }, { "r", TRIM_RIGHT },
                  { "lr", TRIM_LEFT | TRIM_RIGHT }, { "rl", TRIM_LEFT | TRIM_RIGHT } };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (!strcmp(val, forms[i].name)) {
            o->trim = forms[i].trim | TRIM_GIVEN;
            return 0;
        }
    return run_usage_error("--trim must be one of: r l rl lr, got '%s'", val);
}

/* -n -N -L -l -s: a count, with GNU parallel's k M G ... prefixes. */
static int h_count(run_opts *o, const char *val, const optdef *d)
{
    double v;
    char c = d->shrt;
    if (c == 'l' && val && !strcmp(val, "-0")) {
        /* -l -0: GNU parallel takes the swallowed -0 as -0. */
        o->null = true;
        val = NULL;
    }
    if (c == 'l' && !val)
        v = 1;
    else if (!parse_size(val, &v) || isnan(v))
        return run_usage_error("-%c: not a number: '%s'", c, val);
    /* GNU parallel takes any size: past 1e12 a count is as good as no limit.
       Bounded before the conversion, since a double past long's range
       converts to nothing defined. */
    if (fabs(v) > 1e12)
        v = v < 0 ? -1e12 : 1e12;
    /* A group is full once it holds at least v values (or lines, or
       characters), as GNU parallel compares: 1.5 is 2. */
    long n = (long)ceil(v);
    switch (c) {
    case 'n': o->max_args = n; o->max_args_f = v; break;
    case 'N': o->max_replace_args = n; o->max_replace_args_f = v; break;
    case 'L': o->max_lines_L = n; o->max_lines_L_f = v; break;
    case 'l': o->max_lines = n ? n : 1; o->max_lines_f = v ? v : 1; break;
    case 's': o->max_chars = n; break;
    }
    return 0;
}

/* The table. Within a group, in the order --help shows them. */
const optdef run_opt_table[] = {
    /* ---- inputs */
    { "null", '0', ARG_NONE, G_INPUT, NULL, "stdin and :::: values are separated by NUL",
      FLAG(null) },
    { "arg-file|argfile", 'a', ARG_REQ, G_INPUT, "FILE", "read values from FILE (as :::: FILE)",
      .fn = h_argfile, .flag = -1 },
    { "arg-sep|argsep", 0, ARG_REQ, G_INPUT, "SEP", "SEP instead of :::", h_str, STR(arg_sep) },
    { "arg-file-sep|argfilesep", 0, ARG_REQ, G_INPUT, "SEP", "SEP instead of ::::", h_str,
      STR(arg_file_sep) },
    { "link|xapply", 0, ARG_NONE, G_INPUT, NULL, "pair the sources' values instead of combining",
      FLAG(link) },
    { "delimiter", 'd', ARG_REQ, G_INPUT, "DELIM", "values end with DELIM (\\n \\t \\r \\0 \\NNN escapes)",
      .fn = h_delim, .flag = -1 },
    { NULL, 'E', ARG_REQ, G_INPUT, "EOF", "a value EOF ends the input", .fn = h_eof, .flag = -1 },
    { "eof", 'e', ARG_OPT, G_INPUT, "[EOF]", "the same; without EOF, none", .fn = h_eof,
      .flag = -1 },
    { "trim", 0, ARG_REQ, G_INPUT, "n|l|r|lr|rl", "trim white space from values", .fn = h_trim,
      .flag = -1 },
    { "no-run-if-empty|norunifempty", 'r', ARG_NONE, G_INPUT, NULL, "skip values of white space only",
      FLAG(skip_blank) },
    { "shuf", 0, ARG_NONE, G_INPUT, NULL, "run the jobs in a random order", FLAG(shuf) },
    { "colsep|col-sep", 'C', ARG_REQ, G_INPUT, "REGEX", "split values into columns {1} {2} ...",
      h_str, STR(colsep) },
    { "header", 0, ARG_REQ, G_INPUT, "REGEX", "the first value names the columns: {name}",
      h_str, STR(header) },
    { "profile", 'J', ARG_REQ, G_INPUT, "NAME", "options from ~/.parallel/NAME", .fn = run_opt_profile,
      .flag = -1 },

    /* ---- several values per job */
    { "max-args|maxargs", 'n', ARG_REQ, G_MULTI, "N", "at most N values per job", .fn = h_count,
      .flag = -1 },
    { "max-replace-args|maxreplaceargs", 'N', ARG_REQ, G_MULTI, "N",
      "N values per job, {1}..{N} each; -N0: none", .fn = h_count, .flag = -1 },
    { NULL, 'X', ARG_NONE, G_MULTI, NULL, "as many values as fit, the word with {} repeated",
      FLAG(multi_X) },
    { NULL, 'm', ARG_NONE, G_MULTI, NULL, "as many values as fit, {} all of them", FLAG(multi_m) },
    { "xargs", 0, ARG_NONE, G_MULTI, NULL, "as many values as fit (not spread over the slots)",
      FLAG(multi_xargs) },
    { NULL, 'L', ARG_REQ, G_MULTI, "N", "N lines (values) per job", .fn = h_count, .flag = -1 },
    { "max-lines|maxlines", 'l', ARG_OPT_NUM, G_MULTI, "[N]", "N lines (default 1) per job",
      .fn = h_count, .flag = -1 },
    { "max-chars|maxchars", 's', ARG_REQ, G_MULTI, "N", "command lines of at most N characters",
      .fn = h_count, .flag = -1 },
    { "show-limits|showlimits", 0, ARG_NONE, G_MULTI, NULL, "print the command line limits",
      FLAG(show_limits) },

    /* ---- replacement strings (repl.c, cmd.c, perl.c) */
    { NULL, 'I', ARG_REQ, G_REPL, "STR", "STR instead of {}", h_str, STR(repl.I) },
    { "replace", 'i', ARG_OPT, G_REPL, "[STR]", "STR (default {}) instead of {}", h_str,
      STR(repl.i) },
    { "extensionreplace|er", 0, ARG_REQ, G_REPL, "STR", "STR instead of {.}", h_str,
      STR(repl.er) },
    { "basenamereplace|bnr", 0, ARG_REQ, G_REPL, "STR", "STR instead of {/}", h_str,
      STR(repl.bnr) },
    { "dirnamereplace|dnr", 0, ARG_REQ, G_REPL, "STR", "STR instead of {//}", h_str,
      STR(repl.dnr) },
    { "basenameextensionreplace|bner", 0, ARG_REQ, G_REPL, "STR", "STR instead of {/.}",
      h_str, STR(repl.bner) },
    { "seqreplace", 0, ARG_REQ, G_REPL, "STR", "STR instead of {#}", h_str, STR(repl.seqr) },
    { "slotreplace", 0, ARG_REQ, G_REPL, "STR", "STR instead of {%}", h_str, STR(repl.slotr) },
    { "plus", 0, ARG_NONE, G_REPL, NULL, "also {..} {+/} {##} {:-str} {%str} {/a/b} ... (GNU's)",
      FLAG(repl.plus) },
    { "rpl", 0, ARG_REQ, G_REPL, "'TAG PERL'", "define TAG as the perl code PERL over $_",
      h_rpl, .flag = -1 },
    { "parens", 0, ARG_REQ, G_REPL, "LR", "LR's halves instead of {= and =}", h_str,
      STR(repl.parens) },
    { "quote", 'q', ARG_NONE, G_REPL, NULL, "quote the command's words, not the values",
      FLAG(repl.quote) },
    { "shell-quote|shellquote|shell_quote", 0, ARG_NONE, G_REPL, NULL,
      "print each command line shell-quoted instead of running it", h_shellquote, .flag = -1 },

    /* ---- output */
    { "keep-order|keeporder", 'k', ARG_NONE, G_OUTPUT, NULL, "print outputs in input order",
      FLAG(keep) },
    { "tag", 0, ARG_NONE, G_OUTPUT, NULL, "prefix output lines with the values and a tab",
      FLAG(tag) },
    { "line-buffer|line-buffered|linebuffer|linebuffered|lb", 0, ARG_NONE, G_OUTPUT, NULL,
      "pass output lines through as they come", FLAG(linebuf) },
    { "group", 0, ARG_NONE, G_OUTPUT, NULL, "print each job's output whole (the default)",
      .fn = h_group, .flag = -1 },
    { "dry-run|dryrun|dr", 0, ARG_NONE, G_OUTPUT, NULL, "print the commands, run nothing",
      FLAG(dry) },
    { "bar", 0, ARG_NONE, G_OUTPUT, NULL, "progress bar on stderr (on a terminal)", FLAG(bar) },
    { "ungroup", 'u', ARG_NONE, G_OUTPUT, NULL, "pass output straight through, as it comes",
      FLAG(ungroup) },
    { "tag-string|tagstring", 0, ARG_REQ, G_OUTPUT, "STR",
      "prefix output lines with STR (replacement strings in it) and a tab", h_str, STR(tagstring) },
    { NULL, 'v', ARG_NONE, G_OUTPUT, NULL, "print each command before its output",
      .fn = h_verbose_v, .flag = -1 },
    { "verbose", 't', ARG_NONE, G_OUTPUT, NULL, "print each command on stderr as it starts",
      FLAG(verbose_t) },
    { "results|result|res", 0, ARG_REQ, G_OUTPUT, "DIR|FILE.csv|.tsv|.json",
      "each job's output into DIR/1/VALUE/..., or a line of FILE", h_str, STR(results) },
    { "output-as-files|outputasfiles|files", 0, ARG_NONE, G_OUTPUT, NULL,
      "each job's stdout into a file in --tmpdir; print its name", FLAG(files) },
    { "tmpdir|tempdir", 0, ARG_REQ, G_OUTPUT, "DIR", "temporary files in DIR ($PARALLEL_TMPDIR)", h_str,
      STR(tmpdir) },
    { "compress", 0, ARG_NONE, G_OUTPUT, NULL, "accepted: output is held in memory", .fn = h_ignore,
      .flag = -1 },
    { "compress-program|use-compress-program|usecompressprogram|compressprogram", 0, ARG_REQ,
      G_OUTPUT, "PRG", "accepted, as --compress", .fn = h_ignore, .flag = -1 },
    { "decompress-program|use-decompress-program|usedecompressprogram|decompressprogram", 0,
      ARG_REQ, G_OUTPUT, "PRG", "accepted, as --compress", .fn = h_ignore, .flag = -1 },
    { "progress", 0, ARG_NONE, G_OUTPUT, NULL, "progress on stderr, as GNU parallel prints it",
      FLAG(progress) },
    { "eta", 0, ARG_NONE, G_OUTPUT, NULL, "--progress with the estimated time left", FLAG(eta) },

    /* ---- jobs and control */
    { "jobs", 'j', ARG_REQ, G_CONTROL, "N|FILE",
      "N jobs at a time (default: the CPU count; 0: all; FILE: read again)",
      .fn = h_jobs, .flag = -1 },
    { "timeout", 0, ARG_REQ, G_CONTROL, "SECS|N%",
      "end a job after SECS, or N% of the median runtime",
      .fn = h_timeout, .flag = -1 },
    { "retries", 0, ARG_REQ, G_CONTROL, "N", "run a failed job up to N times in all (0: until it succeeds)",
      .fn = h_retries, .flag = -1 },
    { "halt|halt-on-error|haltonerror", 0, ARG_REQ, G_CONTROL, "WHEN,fail=N|success=N",
      "stop when N (or N%) jobs failed or succeeded; WHEN now or soon; or never", .fn = h_halt,
      .flag = -1 },
    { "joblog|jl", 0, ARG_REQ, G_CONTROL, "FILE", "log each finished job, in GNU parallel's format",
      .fn = h_joblog, .flag = -1 },
    { "will-cite|willcite|nn|nonotice|no-notice", 0, ARG_NONE, G_CONTROL, NULL,
      "accepted: mproc never asks for a citation", .fn = h_ignore, .flag = -1 },
    { "max-procs|maxprocs", 'P', ARG_REQ, G_CONTROL, "N|FILE", "the same as -j", .fn = h_jobs, .flag = -1 },
    { "resume", 0, ARG_NONE, G_CONTROL, NULL, "skip the jobs the joblog holds", FLAG(resume) },
    { "resume-failed|resumefailed", 0, ARG_NONE, G_CONTROL, NULL,
      "skip the jobs the joblog holds as succeeded", FLAG(resume_failed) },
    { "retry-failed|retryfailed", 0, ARG_NONE, G_CONTROL, NULL,
      "run again the joblog's failed commands (not the command line's)", FLAG(retry_failed) },
    { "delay", 0, ARG_REQ, G_CONTROL, "SECS", "start jobs at least SECS apart (units d h m s)",
      .fn = h_delay, .flag = -1 },
    { "termseq|term-seq", 0, ARG_REQ, G_CONTROL, "SIG,MS,...",
      "how a job is ended (default TERM,200,TERM,100,TERM,50,KILL,25)", .fn = h_termseq,
      .flag = -1 },
    { "memfree", 0, ARG_REQ, G_CONTROL, "SIZE",
      "start a job only with SIZE free; end the youngest below half", .fn = h_memfree,
      .flag = -1 },
    { "load", 0, ARG_REQ, G_CONTROL, "MAX", "start a job only while the load is below MAX",
      .fn = h_load, .flag = -1 },
    { "nice", 0, ARG_REQ, G_CONTROL, "N", "run the jobs (and mproc) at niceness N", .fn = h_nice,
      .flag = -1 },
    { "use-cores-instead-of-threads|usecoresinsteadofthreads", 0, ARG_NONE, G_CONTROL, NULL,
      "-j counts CPU cores", FLAG(use_cores) },
    { "use-sockets-instead-of-threads|usesocketsinsteadofthreads", 0, ARG_NONE, G_CONTROL,
      NULL, "-j counts CPU sockets", FLAG(use_sockets) },
    { "env", 0, ARG_REQ, G_CONTROL, "VAR", "accepted: local jobs inherit the environment",
      .fn = h_ignore, .flag = -1 },
    { "min-version|minversion", 0, ARG_REQ, G_INFO, "V",
      "exit 255 unless GNU parallel V's interface is covered", .fn = h_min_version, .flag = -1 },
    { "citation|bibtex", 0, ARG_NONE, G_INFO, NULL, "accepted: mproc never asks for a citation",
      .fn = h_stop, .flag = -1 },
    { "gnu", 0, ARG_NONE, G_CONTROL, NULL, "accepted: mproc behaves as GNU parallel",
      .fn = h_ignore, .flag = -1 },
    /* mproc's own, not GNU parallel's (mpirun.c) */
    { "mpi", 0, ARG_NONE, G_CONTROL, NULL, "one farm over the ranks of an MPI job (mpirun, srun)",
      FLAG(mpi) },
    { "mpi-no-local", 0, ARG_NONE, G_CONTROL, NULL, "with --mpi: rank 0 runs no job itself",
      FLAG(mpi_no_local) },

    /* ---- reading stdin in blocks */
    { "pipe|spreadstdin", 0, ARG_NONE, G_PIPE, NULL, "stdin in blocks, one to each job's stdin",
      FLAG(pipe.on) },
    { "block-size|blocksize|block", 0, ARG_REQ, G_PIPE, "SIZE",
      "blocks of about SIZE bytes (default 1M; k M G ...)", h_str, STR(pipe.block) },
    { "recstart", 0, ARG_REQ, G_PIPE, "STR", "records start with STR", h_str,
      STR(pipe.recstart) },
    { "recend", 0, ARG_REQ, G_PIPE, "STR", "records end with STR (default \\n)", h_str,
      STR(pipe.recend) },
    { "regexp|regex", 0, ARG_NONE, G_PIPE, NULL, "--recstart and --recend are regular expressions",
      FLAG(pipe.regexp) },
    { "remove-rec-sep|removerecsep|rrs", 0, ARG_NONE, G_PIPE, NULL,
      "remove --recstart and --recend from the blocks", FLAG(pipe.rrs) },
    { "round-robin|roundrobin|round", 0, ARG_NONE, G_PIPE, NULL,
      "blocks to the jobs already running, one job per slot", FLAG(pipe.rr) },
    { "cat", 0, ARG_NONE, G_PIPE, NULL, "{} names a temporary file holding the block",
      h_pipe_mode, FLAG(pipe.cat) },
    { "fifo", 0, ARG_NONE, G_PIPE, NULL, "{} names a temporary FIFO fed the block", h_pipe_mode,
      FLAG(pipe.fifo) },
    { "pipe-part|pipepart", 0, ARG_NONE, G_PIPE, NULL,
      "the -a FILEs in blocks, each job reading its own in place", h_pipe_mode,
      FLAG(pipe.part) },

    /* ---- semaphore: any of these makes the command line mproc sem's, as
       GNU parallel's parse_semaphore decides; sem.c reads them again */
    { "semaphore", 0, ARG_NONE, G_SEM, NULL, "work as GNU's sem (mproc sem --help)",
      FLAG(semaphore) },
    { "semaphore-timeout|semaphoretimeout|st", 0, ARG_REQ, G_SEM, "SECS",
      "wait SECS for a unit, then run anyway (< 0: give up)", FLAG(semaphore) },
    { "semaphore-name|semaphorename|id", 0, ARG_REQ, G_SEM, "NAME", "the semaphore's name",
      FLAG(semaphore) },
    { "fg", 0, ARG_NONE, G_SEM, NULL, "run the command in the foreground", FLAG(semaphore) },
    { "bg", 0, ARG_NONE, G_SEM, NULL, "run the command in the background (the default)",
      FLAG(semaphore) },
    { "wait", 0, ARG_NONE, G_SEM, NULL, "wait until no command of the id runs",
      FLAG(semaphore) },

    /* ---- information */
    { "help", 'h', ARG_NONE, G_INFO, NULL, "this text", .fn = run_opt_help, .flag = -1 },
    { "version", 'V', ARG_NONE, G_INFO, NULL, "print mproc's version", .fn = h_version, .flag = -1 },
    { "number-of-cpus|numberofcpus", 0, ARG_NONE, G_INFO, NULL, "print the CPU cores (old name)",
      .fn = h_number_of, .flag = -1 },
    { "number-of-cores|numberofcores", 0, ARG_NONE, G_INFO, NULL, "print the CPU cores",
      .fn = h_number_of, .flag = -1 },
    { "number-of-threads|numberofthreads", 0, ARG_NONE, G_INFO, NULL, "print the CPU threads",
      .fn = h_number_of, .flag = -1 },
    { "number-of-sockets|numberofsockets", 0, ARG_NONE, G_INFO, NULL, "print the CPU sockets",
      .fn = h_number_of, .flag = -1 },

    /* ---- remote execution: refused in this release */
    { "sshlogin", 'S', ARG_REQ, REFUSED(R_REMOTE) },
    { "sshloginfile|slf", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "controlmaster", 'M', ARG_NONE, REFUSED(R_REMOTE) },
    { "ssh", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "ssh-delay|sshdelay", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "transfer-file|transferfile|transfer-files|transferfiles|tf", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "return", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "trc", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "transfer", 0, ARG_NONE, REFUSED(R_REMOTE) },
    { "cleanup", 0, ARG_NONE, REFUSED(R_REMOTE) },
    { "basefile|bf", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "onall", 0, ARG_NONE, REFUSED(R_REMOTE) },
    { "nonall", 0, ARG_NONE, REFUSED(R_REMOTE) },
    { "filter-hosts|filterhosts|filter-host", 0, ARG_NONE, REFUSED(R_REMOTE) },
    { "work-dir|workdir|wd", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "rsync-opts|rsyncopts", 0, ARG_REQ, REFUSED(R_REMOTE) },
    { "hgrp|hostgrp|hostgroup|hostgroups", 0, ARG_NONE, REFUSED(R_REMOTE) },

    /* ---- retired in GNU parallel */
    { NULL, 'g', ARG_NONE, REFUSED(R_RETIRED) },
    { NULL, 'U', ARG_REQ, REFUSED(R_RETIRED) },
    { NULL, 'B', ARG_REQ, REFUSED(R_RETIRED) },
    { NULL, 'W', ARG_REQ, REFUSED(R_RETIRED) },
    { NULL, 'T', ARG_NONE, REFUSED(R_RETIRED) },
    { NULL, 'H', ARG_REQ, REFUSED(R_RETIRED) },
    { NULL, 'Y', ARG_NONE, REFUSED(R_RETIRED) },
    { "sql", 0, ARG_REQ, REFUSED(R_RETIRED) },
    { "ctrl-c|ctrlc", 0, ARG_NONE, REFUSED(R_RETIRED) },
    { "no-ctrl-c|no-ctrlc|noctrlc", 0, ARG_NONE, REFUSED(R_RETIRED) },
    { "tollef", 0, ARG_NONE, REFUSED(R_RETIRED) },

    /* ---- the rest of GNU parallel's options */
    { "debug", 'D', ARG_REQ, REFUSED(R_NOSUP) },
    { "sql-master|sqlmaster", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "sql-worker|sqlworker", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "sql-and-worker|sqlandworker", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "silent", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "no-keep-order|nokeeporder|nok|no-k", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "latest-line|latestline|ll", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "tmux", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "tmux-pane|tmuxpane", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "ctag", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "ctag-string|ctagstring", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "color|colour", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "color-failed|colour-failed|colorfailed|colourfailed|color-fail|colour-fail|colorfail|"
      "colourfail|cf", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "template|tmpl", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "open-tty", 'o', ARG_NONE, REFUSED(R_NOSUP) },
    { "tty", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "total-jobs|totaljobs|total", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "recordenv|record-env", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "session", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "plain", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "linkinputsource|xapplyinputsource", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "limit", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "memsuspend", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "process-slot-var|processslotvar", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "csv", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "interactive", 'p', ARG_NONE, REFUSED(R_NOSUP) },
    { "exit", 'x', ARG_NONE, REFUSED(R_NOSUP) },
    { "max-line-length-allowed|maxlinelengthallowed", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "use-cpus-instead-of-cores|usecpusinsteadofcores", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "shebang|hashbang", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "_pipe-means-argfiles", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "skip-first-line|skipfirstline", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "bug", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "block-timeout|blocktimeout|bt", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "tee", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "shard", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "bin", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "group-by|groupby", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "embed", 0, ARG_NONE, REFUSED(R_NOSUP) },
    { "filter", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "_parset", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "shell-completion|shellcompletion", 0, ARG_REQ, REFUSED(R_NOSUP) },
    { "_test", 0, ARG_REQ, REFUSED(R_NOSUP) },
};

const size_t run_opt_count = sizeof run_opt_table / sizeof run_opt_table[0];

void run_opts_init(run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = -1;
    o->retries = 1;
    o->halt_pct = -1;
    /* GNU parallel's default: TERM,200,TERM,100,TERM,50,KILL,25. */
    static const int sig[] = { SIGTERM, SIGTERM, SIGTERM, SIGKILL }, ms[] = { 200, 100, 50, 25 };
    for (int i = 0; i < 4; i++) {
        o->term_sig[i] = sig[i];
        o->term_ms[i] = ms[i];
    }
    o->nterm = 4;
    o->arg_sep = ":::";
    o->max_args = o->max_replace_args = o->max_lines = o->max_lines_L = -1;
    o->arg_file_sep = "::::";
}

void run_opts_free(run_opts *o)
{
    free(o->repl.rpl); /* the list h_rpl grows; its strings are the words parsed */
    o->repl.rpl = NULL;
    o->repl.nrpl = 0;
    free(o->argfiles);
    free(o->profiles);
    o->argfiles = o->profiles = NULL;
    o->nargfiles = o->nprofiles = 0;
}

int run_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mproc run: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return TOOL_EXIT_USAGE;
}
