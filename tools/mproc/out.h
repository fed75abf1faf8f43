/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* out.h: job output to the tool's stdout and stderr, and the progress bar. */
#ifndef MPROC_TOOL_OUT_H
#define MPROC_TOOL_OUT_H

#include "tool.h"

/* Write data to fd, each line prefixed with tag when tag is not NULL;
   0 or -errno (-EPIPE when the reader went away). */
int out_write(int fd, const char *tag, const char *data, size_t len);

/* Append data to dst with each line prefixed by tag. */
void out_tag_into(tbuf *dst, const char *tag, const char *data, size_t len);

/* Write the complete lines at the start of b and keep the unfinished rest
   in b (--line-buffer). */
int out_lines(int fd, const char *tag, tbuf *b);

/* Redraw the progress bar on stderr: done of total after elapsed seconds;
   last ends the line. */
void bar_draw(size_t done, size_t total, double elapsed, bool last);

#endif
