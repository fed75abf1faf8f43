/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* out.c: how a job's output reaches the tool's stdout and stderr (whole,
   line by line, tagged) and the progress bar. */
#include "out.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The bar is drawn on stderr; output written while it shows must first
   erase it, or the two share a line. */
static bool bar_shown;

static void bar_erase(void)
{
    if (bar_shown) {
        static const char clr[] = "\r\033[K";
        (void)write_all(2, clr, sizeof clr - 1);
        bar_shown = false;
    }
}

void out_tag_into(tbuf *dst, const char *tag, const char *data, size_t len)
{
    /* Prefix every line, the last one too when it lacks its newline. */
    size_t tl = strlen(tag);
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) + 1 : len;
        tbuf_add(dst, tag, tl);
        tbuf_add(dst, data + i, end - i);
        i = end;
    }
}

int out_write(int fd, const char *tag, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    bar_erase();
    if (!tag)
        return write_all(fd, data, len);
    tbuf b = {0};
    out_tag_into(&b, tag, data, len);
    int err = write_all(fd, b.p, b.len);
    tbuf_free(&b);
    return err;
}

int out_lines(int fd, const char *tag, tbuf *b)
{
    const char *last = b->len ? memrchr(b->p, '\n', b->len) : NULL;
    if (!last)
        return 0;
    size_t n = (size_t)(last - b->p) + 1;
    int err = out_write(fd, tag, b->p, n);
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    return err;
}

void bar_draw(size_t done, size_t total, double elapsed, bool last)
{
    char line[160];
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double left = rate > 0 ? (double)(total - done) / rate : 0;
    char bar[31];
    size_t fill = total ? done * 30 / total : 30;
    for (size_t i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[30] = '\0';
    unsigned long l = (unsigned long)(left + 0.5);
    int n = snprintf(line, sizeof line, "\r[%s] %3.0f%% %zu/%zu %.1f/s %lu:%02lu:%02lu left\033[K%s",
                     bar, pct, done, total, rate, l / 3600, l / 60 % 60, l % 60, last ? "\n" : "");
    if (n > 0)
        (void)write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    bar_shown = !last;
}
