/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* input.c: the values of input sources, read whole from a descriptor. */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void source_push(source *src, const char *v)
{
    if (src->n == src->cap) {
        src->cap = src->cap ? src->cap * 2 : 16;
        src->v = xrealloc(src->v, src->cap * sizeof *src->v);
    }
    src->v[src->n++] = xstrdup(v);
}

int source_read_fd(source *src, int fd, char sep)
{
    tbuf all = {0};
    int err = 0;
    for (;;) {
        tbuf_grow(&all, 65536);
        ssize_t n = read(fd, all.p + all.len, all.cap - all.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto out;
        }
        if (n == 0)
            break;
        all.len += (size_t)n;
    }
    size_t start = 0;
    for (size_t i = 0; i < all.len; i++) {
        if (all.p[i] != sep)
            continue;
        all.p[i] = '\0';
        source_push(src, all.p + start);
        start = i + 1;
    }
    if (start < all.len) {
        /* The last record lacked its separator: it still counts. */
        all.p[all.len] = '\0';
        source_push(src, all.p + start);
    }
out:
    tbuf_free(&all);
    return err;
}

void source_feed(source *src, tbuf *partial, const char *data, size_t n, char sep)
{
    for (;;) {
        const char *end = memchr(data, sep, n);
        if (!end) {
            tbuf_add(partial, data, n);
            return;
        }
        tbuf_add(partial, data, (size_t)(end - data));
        source_push(src, tbuf_cstr(partial));
        partial->len = 0;
        n -= (size_t)(end - data) + 1;
        data = end + 1;
    }
}

void source_feed_end(source *src, tbuf *partial)
{
    if (partial->len > 0)
        source_push(src, tbuf_cstr(partial));
    partial->len = 0;
}

void source_free(source *src)
{
    for (size_t i = 0; i < src->n; i++)
        free(src->v[i]);
    free(src->v);
    src->v = NULL;
    src->n = src->cap = 0;
}
