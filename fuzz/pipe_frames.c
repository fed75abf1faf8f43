/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipe_frames.c: fuzz the pipe's message framing with bytes a peer could
   send (any bytes at all, not only what mproc_pipe_send writes).
   fuzz-options: -max_len=32768

   Input: a control byte (where to pause the sender, and the receive buffer
   size), then the raw bytes. The raw bytes go into the sending end's
   descriptor; the receiver must return exactly the messages a reference
   parse finds, then one error: -EPROTO for an impossible length, -EPIPE for
   a message cut short (or -ENOMEM when its length cannot be allocated),
   never a crash, a hang or a read out of bounds. */
#include <mproc.h>

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IN 32768 /* well inside a pipe's buffer: writes never block */

static void put_raw(int fd, const uint8_t *d, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, d, n);
        if (k < 0 && errno == EINTR)
            continue;
        assert(k > 0);
        d += k;
        n -= (size_t)k;
    }
}

/* Receive one message as the control byte says: into a small buffer
   first, then (when it does not fit) allocated. */
static int take(mproc_pipe *p, size_t cap, double timeout, void **msg, size_t *len)
{
    unsigned char small[64];
    assert(cap <= sizeof small);
    int r = mproc_pipe_recv_into(p, small, cap, len, timeout);
    if (r == 0) {
        *msg = malloc(*len ? *len : 1);
        assert(*msg);
        memcpy(*msg, small, *len);
        return 0;
    }
    if (r != -EMSGSIZE)
        return r;
    assert(*len > cap);
    return mproc_pipe_recv(p, msg, len, timeout);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_IN)
        return 0;
    size_t cap = data[0] & 63, quarters = data[0] >> 6;
    data++;
    size--;
    size_t pause = quarters * size / 4;

    mproc_pipe *a = NULL, *b = NULL;
    mproc_pipe_opts o = { .one_way = true };
    assert(mproc_pipe_new(&a, &b, &o) == 0);
    int wfd = mproc_pipe_fd(b);
    assert(wfd >= 0);

    /* The reference framing: an 8-byte little-endian length, the payload. */
    size_t at = 0;
    int want_end = -EPIPE;
    bool first_half = true;
    put_raw(wfd, data, pause);
    for (;;) {
        void *msg = NULL;
        size_t len = 0;
        int r = take(a, cap, first_half ? 0 : -1, &msg, &len);
        if (r == -ETIMEDOUT && first_half) {
            /* The pause: what arrived so far framed no further message. */
            put_raw(wfd, data + pause, size - pause);
            mproc_pipe_free(b);
            b = NULL;
            first_half = false;
            continue;
        }
        if (size - at < 8) {
            assert(r == -EPIPE);
            break;
        }
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = (n << 8) | data[at + i];
        if (n > ((uint64_t)1 << 48))
            want_end = -EPROTO;
        else if (n > size - at - 8)
            want_end = r == -ENOMEM ? -ENOMEM : -EPIPE;
        if (r != 0) {
            /* Before the pause an incomplete message only times out. */
            assert(r == want_end);
            break;
        }
        assert(want_end == -EPIPE && len == n);
        assert(len == 0 || memcmp(msg, data + at + 8, len) == 0);
        free(msg);
        at += 8 + len;
    }
    mproc_pipe_free(a);
    mproc_pipe_free(b);
    return 0;
}
