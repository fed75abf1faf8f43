/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* sources.c: mproc run's input sources after the command (:::, ::::, or
 * stdin) and how their values combine into jobs. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool sources_is_marker(const run_opts *o, const char *a)
{
    (void)o;
    return !strcmp(a, ":::") || !strcmp(a, "::::");
}

int sources_read(sources *s, const run_opts *o, int argc, char **argv, int i, int *rc)
{
    char sep = o->null ? '\0' : '\n';
    if (i >= argc) {
        s->src = xmalloc(sizeof *s->src);
        memset(s->src, 0, sizeof *s->src);
        s->nsrc = 1;
        /* Values from stdin alone are read as the jobs run, so that jobs
           start before the input ends (tail -f | mproc run ...). -j 0 and
           --dry-run need them all first, as does total_jobs(). */
        if (o->jobs != 0 && !o->dry && !o->whole_input) {
            s->streaming = true;
            return 0;
        }
        int err = source_read_fd(&s->src[0], 0, sep);
        if (err < 0) {
            *rc = run_usage_error("cannot read stdin: %s", strerror(-err));
            return -1;
        }
        return 0;
    }
    s->src = xmalloc((size_t)argc * sizeof *s->src);
    memset(s->src, 0, (size_t)argc * sizeof *s->src);
    while (i < argc) {
        bool files = !strcmp(argv[i], "::::");
        i++;
        if (!files) {
            source *v = &s->src[s->nsrc++];
            for (; i < argc && !sources_is_marker(o, argv[i]); i++)
                source_push(v, argv[i]);
            continue;
        }
        for (; i < argc && !sources_is_marker(o, argv[i]); i++) {
            source *v = &s->src[s->nsrc++];
            int fd = !strcmp(argv[i], "-") ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                *rc = run_usage_error("cannot open input file '%s': %s", argv[i],
                                      strerror(errno));
                return -1;
            }
            int err = source_read_fd(v, fd, sep);
            if (fd > 0)
                close(fd);
            if (err < 0) {
                *rc = run_usage_error("cannot read input file '%s': %s", argv[i],
                                      strerror(-err));
                return -1;
            }
        }
    }
    if (s->nsrc == 0) {
        /* ":::: " with no file: nothing to combine. */
        s->nsrc = 1;
    }
    return 0;
}

size_t sources_count(sources *s)
{
    size_t total = 1;
    for (size_t k = 0; k < s->nsrc; k++) {
        if (s->src[k].n == 0 && s->nsrc > 1)
            source_push(&s->src[k], "");
        if (s->src[k].n == 0)
            return 0;
        if (total > SIZE_MAX / s->src[k].n)
            return SIZE_MAX;
        total *= s->src[k].n;
    }
    return total;
}

void sources_job(const sources *s, size_t idx, char **vals)
{
    for (size_t k = s->nsrc; k-- > 0;) {
        vals[k] = s->src[k].v[idx % s->src[k].n];
        idx /= s->src[k].n;
    }
}

void sources_feed(sources *s, const run_opts *o, const char *data, size_t n)
{
    if (n == 0) {
        source_feed_end(&s->src[0], &s->partial);
        s->eof = true;
        return;
    }
    source_feed(&s->src[0], &s->partial, data, n, o->null ? '\0' : '\n');
}

void sources_free(sources *s)
{
    for (size_t k = 0; k < s->nsrc && s->src; k++)
        source_free(&s->src[k]);
    free(s->src);
    tbuf_free(&s->partial);
    memset(s, 0, sizeof *s);
}
