/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* repl.h: the replacement-string engine of `mproc run` (repl.c parses a
 * command template, cmd.c expands it for a job, perl.c evaluates the Perl
 * in it); never installed.
 *
 * GNU parallel 20221122 is the contract: every replacement string is, in
 * GNU parallel, a Perl expression over $_ ({} is "", {.} is
 * s:\.[^/.]*$::, --plus's {%str} a substitution, ...). A command template
 * is parsed as it parses one: the words are scanned for {= =} (or the
 * --parens), then for every replacement string of the table, longest
 * first, each becoming an expression with an optional position ({2.} is
 * s:\.[^/.]*$:: on value 2). An expression whose code is one of GNU's
 * defaults is computed here in C; any other code goes to the one perl
 * coprocess, which is started only then.
 */
#ifndef MPROC_TOOL_REPL_H
#define MPROC_TOOL_REPL_H

#include "tool.h"

/* The options that shape replacement strings, as given; {0} is none. */
typedef struct repl_opts {
    bool plus;          /* --plus */
    bool quote;         /* -q / --quote */
    int shellquote;     /* --shellquote, once per time given */
    bool no_append;     /* --pipe: no " {}" when the command has none */
    const char *I;      /* -I STR */
    const char *i;      /* -i[STR] / --replace[=STR]; "" is {} */
    const char *er, *bnr, *dnr, *bner, *seqr, *slotr; /* --er --bnr ... */
    const char *parens; /* --parens, "{==}" when NULL */
    const char **rpl;   /* --rpl 'TAG CODE', in order (run_opts_free frees the list) */
    size_t nrpl;
} repl_opts;

/* ---- the parsed template (repl.c), expanded by cmd.c ------------------- */

enum { SEG_LIT, SEG_SEP, SEG_EXPR };

/* Expressions done in C: GNU parallel's default replacement strings, by
   their Perl code. */
enum { FN_PERL, FN_VAL, FN_SEQ, FN_SLOT, FN_BASE, FN_DIR, FN_NOEXT, FN_BASE_NOEXT };

typedef struct seg {
    int type;
    size_t off, len;    /* SEG_LIT: the text; SEG_EXPR: the code; in t->text */
    bool positional;    /* of one value (pos), not of every value in turn */
    long pos;           /* 1-based, or from the end when negative; 0: none */
    int fn;             /* FN_* */
    int code;           /* FN_PERL: perl_code's id */
} seg;

struct cmd_tmpl {
    char *text;
    size_t textlen;
    seg *segs;
    size_t nseg;
    bool quote_values;  /* values are shell-quoted (not when a replacement
                           string is part of the command's first word) */
    bool quote_words;   /* -q: each word quoted whole instead */
    int shellquote;     /* --shellquote: the job prints its command quoted */
    bool perl;          /* some expression needs perl */
    bool total;         /* some expression may call total_jobs() */
};

/* ---- perl.c ------------------------------------------------------------- */

/* The id of a code string (registered once; nothing is started). */
int perl_code(const char *code, size_t len);

typedef struct perl_req {
    size_t val;         /* 0-based index into the job's values */
    size_t code;        /* perl_code's id */
} perl_req;

typedef struct perl_res {
    size_t off, len;    /* the value, in the data buffer */
    bool unquoted;      /* uq() was called */
} perl_res;

/*
 * perl_eval - evaluate nreq expressions for one job, in order, as GNU
 * parallel does: $_ the value, @arg the job's values (from $arg[1]),
 * $job->seq(), slot(), seq(), total_jobs(), skip(), uq(), Q() ... An
 * expression evaluated twice on the same value gives the first result
 * (unless that was false, as in GNU parallel).
 *
 * Starts the coprocess at the first call. Fills res[nreq] (values in data,
 * overwritten) and *skip (skip() was called). Returns 0, or -1 after
 * printing one line: the expression does not compile or died, or perl
 * cannot be run or went away (then every later call fails too).
 */
int perl_eval(const cmd_job *job, const perl_req *req, size_t nreq, tbuf *data,
              perl_res *res, bool *skip);

/* End the coprocess (it reads end of file and exits) and reap it; forget
   every code string. Harmless when none runs. */
void perl_stop(void);

#endif
