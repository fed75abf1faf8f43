/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* tbuf.c: the tool's growable byte buffer, allocation that cannot fail
   quietly, and EINTR-safe writes. */
#include "tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void die_nomem(void)
{
    static const char msg[] = "mproc: out of memory\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(TOOL_EXIT_USAGE);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_nomem();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die_nomem();
    return p;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        die_nomem();
    return d;
}

void tbuf_grow(tbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            die_nomem();
        cap *= 2;
    }
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void tbuf_add(tbuf *b, const void *data, size_t n)
{
    tbuf_grow(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void tbuf_adds(tbuf *b, const char *s)
{
    tbuf_add(b, s, strlen(s));
}

void tbuf_addc(tbuf *b, char c)
{
    tbuf_grow(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

void tbuf_addf(tbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    tbuf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *tbuf_cstr(tbuf *b)
{
    tbuf_grow(b, 0);
    b->p[b->len] = '\0';
    return b->p;
}

void tbuf_free(tbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
