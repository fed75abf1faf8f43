/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* run_opts.c: fuzz mproc run's option parser (the getopt_long table, the
   value parsers, the profile word splitter).
   fuzz-sources: tools/mproc/runopt.c tools/mproc/runparse.c tools/mproc/runval.c tools/mproc/sysinfo.c
   fuzz-sources: tools/mproc/profile.c tools/mproc/tbuf.c
   fuzz-options: -close_fd_mask=3 -max_len=4096

   Input: words separated by NUL bytes, given to the parser as argv after
   "run" (a first byte 0x01 instead splits the rest as a shell line, as
   $PARALLEL and the profiles are). The parser must end in a usage error
   (255, a message), in a done state (--help and the like, 0), or at a word
   within argv with every option within its bounds; parsing twice gives the
   same answer; nothing leaks. */
#include "run.h"

#include "mproc.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --version's line; the tool's own is in main.c, which has main(). */
void tool_print_version(void)
{
    printf("mproc %s\n", mproc_version());
}

static int parse(char **argv, int argc, run_opts *o, int *rc)
{
    run_opts_init(o);
    return run_parse_opts(o, argc, argv, rc);
}

static void check(const run_opts *o, int ret, int rc, int argc)
{
    if (ret < 0) {
        assert(rc == 0 || rc == TOOL_EXIT_USAGE);
        return;
    }
    assert(rc == 0);
    assert(ret >= 1 && ret <= argc);
    assert(o->retries >= 1);
    assert(o->jobs >= -1);
    assert(o->nterm >= 1 && o->nterm <= TERMSEQ_MAX);
    assert(o->dlen < sizeof o->delim);
    assert(o->halt_when == HALT_NEVER || o->halt_when == HALT_SOON || o->halt_when == HALT_NOW);
    assert(o->timeout >= 0 && o->timeout_pct >= 0 && o->delay >= 0);
    assert(o->trim >= 0 && o->trim <= (TRIM_LEFT | TRIM_RIGHT | TRIM_GIVEN));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    profile_args words = { 0 };
    split_shell_words(&words, "run");
    if (size > 0 && data[0] == 1) {
        char *line = malloc(size);
        memcpy(line, data + 1, size - 1);
        line[size - 1] = '\0';
        split_shell_words(&words, line);
        free(line);
    } else {
        for (size_t i = 0; i < size;) {
            const uint8_t *nul = memchr(data + i, 0, size - i);
            size_t n = nul ? (size_t)(nul - data) - i : size - i;
            char *w = malloc(n + 1);
            memcpy(w, data + i, n);
            w[n] = '\0';
            if (words.n + 2 > words.cap) {
                words.cap = (words.n + 2) * 2;
                words.argv = realloc(words.argv, words.cap * sizeof *words.argv);
            }
            words.argv[words.n++] = w;
            words.argv[words.n] = NULL;
            i += n + 1;
        }
    }
    int argc = (int)words.n, rc1 = 0, rc2 = 0;
    /* getopt_long may permute nothing ('+'), but keep argv intact anyway:
       each parse gets its own copy of the pointers. */
    char **a1 = malloc((words.n + 1) * sizeof *a1), **a2 = malloc((words.n + 1) * sizeof *a2);
    memcpy(a1, words.argv, (words.n + 1) * sizeof *a1);
    memcpy(a2, words.argv, (words.n + 1) * sizeof *a2);
    run_opts o1, o2;
    int r1 = parse(a1, argc, &o1, &rc1);
    check(&o1, r1, rc1, argc);
    int r2 = parse(a2, argc, &o2, &rc2);
    assert(r1 == r2 && rc1 == rc2);
    assert(o1.jobs == o2.jobs && o1.retries == o2.retries && o1.nargfiles == o2.nargfiles);
    run_opts_free(&o1);
    run_opts_free(&o2);
    free(a1);
    free(a2);
    profile_free(&words);
    return 0;
}
