/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* input_records.c: fuzz the tool's input readers (stdin by line or by NUL
   with -0, and :::: files), whole and fed in pieces.
   fuzz-sources: tools/mproc/input.c tools/mproc/tbuf.c

   Input: one byte choosing the separator and the piece size, then the data.
   The whole-descriptor reader and the incremental one must find the same
   records, and the records must be the data cut at each separator (each
   record as a C string, so up to its first NUL). */
#include "tool.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check_records(const source *s, const uint8_t *d, size_t n, char sep)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        bool cut = i == n ? start < n : d[i] == (uint8_t)sep;
        if (!cut)
            continue;
        assert(k < s->n);
        size_t want = strnlen((const char *)d + start, i - start);
        assert(strlen(s->v[k]) == want);
        assert(memcmp(s->v[k], d + start, want) == 0);
        k++;
        start = i + 1;
    }
    assert(k == s->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char sep = (data[0] & 1) ? '\0' : '\n';
    size_t piece = (size_t)(data[0] >> 1) + 1;
    data++;
    size--;

    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    assert(fd >= 0);
    assert(write_all(fd, data, size) == 0);
    assert(lseek(fd, 0, SEEK_SET) == 0);
    source whole = { 0 };
    assert(source_read_fd(&whole, fd, sep) == 0);
    close(fd);

    source fed = { 0 };
    tbuf partial = { 0 };
    for (size_t off = 0; off < size; off += piece)
        source_feed(&fed, &partial, (const char *)data + off,
                    size - off < piece ? size - off : piece, sep);
    source_feed_end(&fed, &partial);
    tbuf_free(&partial);

    check_records(&whole, data, size, sep);
    assert(fed.n == whole.n);
    for (size_t i = 0; i < whole.n; i++)
        assert(strcmp(fed.v[i], whole.v[i]) == 0);
    source_free(&whole);
    source_free(&fed);
    return 0;
}
