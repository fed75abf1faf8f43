/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* input.c: the values of input sources: records split by a delimiter (a
 * character or a string), read whole from a descriptor or fed as they
 * come, with GNU parallel's record filters (-E end-of-file string, -r
 * blank records dropped, --trim). */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void push_n(source *src, const char *v, size_t len)
{
    if (src->n == src->cap) {
        src->cap = src->cap ? src->cap * 2 : 16;
        src->v = xrealloc(src->v, src->cap * sizeof *src->v);
    }
    char *c = xmalloc(len + 1);
    memcpy(c, v, len);
    c[len] = '\0';
    src->v[src->n++] = c;
}

void source_push(source *src, const char *v)
{
    push_n(src, v, strlen(v));
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void trim_span(const char **v, size_t *len, int trim)
{
    if (trim & TRIM_LEFT)
        while (*len > 0 && is_space(**v))
            (*v)++, (*len)--;
    if (trim & TRIM_RIGHT)
        while (*len > 0 && is_space((*v)[*len - 1]))
            (*len)--;
}

void rec_push(source *src, rec_reader *rd, const char *v, size_t len)
{
    if (rd->ended)
        return;
    if (rd->eof && strlen(rd->eof) == len && !memcmp(rd->eof, v, len)) {
        rd->ended = true; /* the rest of this input is not read */
        return;
    }
    if (rd->skip_blank) {
        size_t k = 0;
        while (k < len && is_space(v[k]))
            k++;
        if (k == len)
            return;
    }
    trim_span(&v, &len, rd->trim);
    push_n(src, v, len);
}

void rec_feed(source *src, rec_reader *rd, tbuf *partial, const char *data, size_t n)
{
    if (rd->dlen == 1) {
        /* One character: records end where it is, found in the new data
           alone. */
        for (;;) {
            const char *end = memchr(data, rd->delim[0], n);
            if (!end) {
                tbuf_add(partial, data, n);
                return;
            }
            if (partial->len) {
                tbuf_add(partial, data, (size_t)(end - data));
                rec_push(src, rd, partial->p, partial->len);
                partial->len = 0;
            } else {
                rec_push(src, rd, data, (size_t)(end - data));
            }
            n -= (size_t)(end - data) + 1;
            data = end + 1;
        }
    }
    /* A string: it may straddle two reads, so search what is held. */
    tbuf_add(partial, data, n);
    size_t start = 0;
    for (;;) {
        const char *end = memmem(partial->p + start, partial->len - start, rd->delim, rd->dlen);
        if (!end)
            break;
        rec_push(src, rd, partial->p + start, (size_t)(end - partial->p) - start);
        start = (size_t)(end - partial->p) + rd->dlen;
    }
    memmove(partial->p, partial->p + start, partial->len - start);
    partial->len -= start;
}

void rec_end(source *src, rec_reader *rd, tbuf *partial)
{
    /* A last record without its delimiter still counts. */
    if (partial->len > 0)
        rec_push(src, rd, partial->p, partial->len);
    partial->len = 0;
}

int rec_read_fd(source *src, rec_reader *rd, int fd)
{
    tbuf partial = {0};
    char buf[65536];
    int err = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto out;
        }
        if (n == 0)
            break;
        rec_feed(src, rd, &partial, buf, (size_t)n);
    }
    rec_end(src, rd, &partial);
out:
    tbuf_free(&partial);
    return err;
}

int source_read_fd(source *src, int fd, char sep)
{
    rec_reader rd = { .delim = &sep, .dlen = 1 };
    return rec_read_fd(src, &rd, fd);
}

void source_feed(source *src, tbuf *partial, const char *data, size_t n, char sep)
{
    rec_reader rd = { .delim = &sep, .dlen = 1 };
    rec_feed(src, &rd, partial, data, n);
}

void source_feed_end(source *src, tbuf *partial)
{
    rec_reader rd = { .delim = "\n", .dlen = 1 };
    rec_end(src, &rd, partial);
}

void source_free(source *src)
{
    for (size_t i = 0; i < src->n; i++)
        free(src->v[i]);
    free(src->v);
    src->v = NULL;
    src->n = src->cap = 0;
}
