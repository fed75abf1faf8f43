/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runopt.h: what mproc run's option table (runopt.c) and the parser and
 * --help that read it (runparse.c) share. */
#ifndef MPROC_TOOL_RUNOPT_H
#define MPROC_TOOL_RUNOPT_H

#include "run.h"

#include <stddef.h>

enum { ARG_NONE, ARG_REQ, ARG_OPT, ARG_OPT_NUM };

/* --help's sections, in order. */
enum { G_NONE, G_INPUT, G_MULTI, G_REPL, G_OUTPUT, G_CONTROL, G_PIPE, G_SEM, G_INFO, G_COUNT };


typedef struct optdef optdef;

/* A handler: val is the option's value (NULL when it takes none or was
   given none); returns 0, or the tool's exit status to stop with (after
   printing why, or doing what the option asks, as --help). */
typedef int (*opt_fn)(run_opts *o, const char *val, const optdef *d);

struct optdef {
    const char *names;   /* long forms, '|'-separated; NULL: short only */
    char shrt;           /* short letter, or 0 */
    char arg;            /* ARG_* */
    char group;          /* G_*; G_NONE: not in --help */
    const char *meta;    /* the value's name in --help */
    const char *help;    /* one line for --help */
    opt_fn fn;           /* the handler, or NULL for a flag */
    ptrdiff_t flag;      /* a flag: offsetof the bool it sets; -1 none */
    const char *refuse;  /* not supported: why */
    ptrdiff_t str;       /* h_str: offsetof the const char * it sets */
};

#define FLAG(field) .flag = offsetof(run_opts, field)
#define REFUSED(why) .flag = -1, .refuse = (why)
#define STR(field) .flag = -1, .str = offsetof(run_opts, field)

/* A handler's return for "done, exit 0" (--help, --version ...). */
#define STOP_OK 1000

/* The table, in runopt.c: every option GNU parallel has. */
extern const optdef run_opt_table[];
extern const size_t run_opt_count;

/* Handlers the parser must know by name: --help (in runparse.c) and -J
   (taken even while only probing the command line for profiles). */
int run_opt_help(run_opts *o, const char *val, const optdef *d);
int run_opt_profile(run_opts *o, const char *val, const optdef *d);

#endif
