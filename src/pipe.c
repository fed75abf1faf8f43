/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pipe.c: message-framed connections between processes (Pipe).
 *
 * DESIGN. An end is built from pipe(2)s, not a socketpair: a round trip
 * through a Unix socket costs about half as much again as through a pipe,
 * and the issue asks for a raw pipe's speed. A message is an 8-byte
 * little-endian length and the payload, sent with one writev.
 *
 * SIGPIPE. A write to a pipe with no reader raises SIGPIPE, and blocking
 * and consuming it around every write costs two system calls per message.
 * Instead each sending end keeps, in a third descriptor, a read end of its
 * own outgoing pipe: the pipe then always has a reader, so no write can
 * raise SIGPIPE at all. A gone peer is seen instead on the incoming pipe
 * (all its writers closed: end of file, POLLHUP); a one-way pair has an
 * incoming "life" pipe for that alone, which nobody writes. So a send to a
 * dead peer fails with -EPIPE once the end has seen end of file, or when the
 * outgoing pipe is full, never by a signal and never by hanging.
 *
 * Receiving reads whatever has arrived into a buffer (one system call per
 * message or fewer, as a raw pipe), then frames from it. What a timed-out
 * receive already read stays in the end, so the framing never slips.
 */
#include "ipc_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PIPE_MAX_MSG ((uint64_t)1 << 48)
#define RBUF (64 * 1024)
#define SMALL_MSG 1024
/* A large message's buffer starts at this and doubles as bytes arrive, so a
   length header alone (a peer's bug or a hostile one) never makes us ask
   for more memory than the peer has sent. realloc moves big blocks by
   remapping their pages, so the doubling costs no copying. */
#define MSG_STEP ((size_t)1 << 20)

struct mproc_pipe {
    pthread_mutex_t smu, rmu; /* one sender and one receiver at a time */
    int rfd;   /* incoming messages; for a send-only end the life pipe */
    int wfd;   /* outgoing messages, O_NONBLOCK; for a receive-only end the
                  life pipe's write end, never written */
    int keep;  /* a read end of our outgoing pipe (see DESIGN), or -1 */
    bool can_send, can_recv;
    bool closed;
    bool eof;    /* the incoming pipe ended: the peer is gone */
    bool broken; /* a send timed out mid-message */
    /* Received bytes not yet handed out: buf[off, off + len). */
    unsigned char *buf;
    size_t off, len;
    /* A message whose header was read but whose payload did not fit the
       buffer: need bytes, got of them in msg, which has room for mcap. */
    bool have_hdr;
    uint64_t need;
    unsigned char *msg;
    size_t got, mcap;
};

static void close3(int *fd)
{
    mproc__close(*fd);
    *fd = -1;
}

static mproc_pipe *end_new(void)
{
    mproc_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->smu, NULL);
    pthread_mutex_init(&p->rmu, NULL);
    p->rfd = p->wfd = p->keep = -1;
    return p;
}

int mproc_pipe_new(mproc_pipe **a, mproc_pipe **b, const mproc_pipe_opts *opts)
{
    if (!a || !b)
        return -EINVAL;
    bool one_way = opts && opts->one_way;
    int ab[2] = { -1, -1 }, ba[2] = { -1, -1 };
    mproc_pipe *pa = end_new(), *pb = end_new();
    int err = 0;
    if (!pa || !pb) {
        err = -ENOMEM;
        goto out;
    }
    /* ab carries a -> b, ba carries b -> a (or, one-way, only b's life). */
    if (pipe2(ab, O_CLOEXEC) < 0 || pipe2(ba, O_CLOEXEC) < 0) {
        err = mproc__err();
        goto out;
    }
    if (one_way) {
        /* a receives on ba; b sends on ba and watches ab for a's death. */
        pa->rfd = ba[0];
        pa->wfd = ab[1];
        pa->can_recv = true;
        pb->rfd = ab[0];
        pb->wfd = ba[1];
        pb->can_send = true;
        pb->keep = fcntl(ba[0], F_DUPFD_CLOEXEC, 0);
        if (pb->keep < 0) {
            err = mproc__err();
            goto out;
        }
    } else {
        pa->rfd = ba[0];
        pa->wfd = ab[1];
        pb->rfd = ab[0];
        pb->wfd = ba[1];
        pa->can_send = pa->can_recv = pb->can_send = pb->can_recv = true;
        pa->keep = fcntl(ab[0], F_DUPFD_CLOEXEC, 0);
        pb->keep = pa->keep < 0 ? -1 : fcntl(ba[0], F_DUPFD_CLOEXEC, 0);
        if (pb->keep < 0) {
            err = mproc__err();
            goto out;
        }
    }
    /* Sends never block in write(2): a full pipe is waited for in poll(2),
       with the timeout and the peer's death in view. The status flag
       belongs to the open file, which only the sending end uses. */
    if ((pb->can_send && fcntl(pb->wfd, F_SETFL, O_NONBLOCK) < 0) ||
        (pa->can_send && fcntl(pa->wfd, F_SETFL, O_NONBLOCK) < 0)) {
        err = mproc__err();
        goto out;
    }
    ab[0] = ab[1] = ba[0] = ba[1] = -1; /* owned by the ends now */
    *a = pa;
    *b = pb;
    return 0;
out:
    if (pa && pa->rfd < 0) {
        mproc__close(ab[0]);
        mproc__close(ab[1]);
        mproc__close(ba[0]);
        mproc__close(ba[1]);
    }
    mproc_pipe_free(pa);
    mproc_pipe_free(pb);
    return err;
}

int mproc_pipe_fd(const mproc_pipe *p)
{
    if (!p || p->closed)
        return -EBADF;
    return p->can_recv ? p->rfd : p->wfd;
}

static void release_fds(mproc_pipe *p)
{
    close3(&p->rfd);
    close3(&p->wfd);
    close3(&p->keep);
    free(p->buf);
    free(p->msg);
    p->buf = p->msg = NULL;
    p->len = p->off = p->got = p->mcap = 0;
    p->have_hdr = false;
}

int mproc_pipe_close(mproc_pipe *p)
{
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->smu);
    pthread_mutex_lock(&p->rmu);
    p->closed = true;
    release_fds(p);
    pthread_mutex_unlock(&p->rmu);
    pthread_mutex_unlock(&p->smu);
    return 0;
}

void mproc_pipe_free(mproc_pipe *p)
{
    if (!p)
        return;
    release_fds(p);
    pthread_mutex_destroy(&p->smu);
    pthread_mutex_destroy(&p->rmu);
    free(p);
}

/* ---- sending ----------------------------------------------------------------- */

/* Has the peer gone? Its writers to our incoming pipe are all closed. */
static bool peer_gone(mproc_pipe *p, short revents)
{
    return p->eof || (revents & (POLLHUP | POLLERR));
}

int mproc_pipe_send(mproc_pipe *p, const void *data, size_t len, double timeout)
{
    if (!p || (!data && len) || !mproc__timeout_ok(timeout))
        return -EINVAL;
    if ((uint64_t)len > PIPE_MAX_MSG)
        return -EMSGSIZE;
    pthread_mutex_lock(&p->smu);
    int err = 0;
    if (p->closed || !p->can_send) {
        err = -EBADF;
        goto out;
    }
    if (p->broken || p->eof) {
        err = -EPIPE;
        goto out;
    }
    unsigned char hdr[8];
    uint64_t n64 = len;
    for (int i = 0; i < 8; i++)
        hdr[i] = (unsigned char)(n64 >> (8 * i));
    size_t total = 8 + len, sent = 0;
    double deadline = mproc__deadline(timeout);
    /* A small message is copied behind its header and goes in one write(2),
       which the kernel handles faster than a writev of two pieces. */
    unsigned char small[SMALL_MSG];
    bool whole = total <= sizeof small;
    if (whole) {
        memcpy(small, hdr, 8);
        if (len)
            memcpy(small + 8, data, len);
    }
    while (sent < total) {
        ssize_t n;
        if (whole) {
            n = write(p->wfd, small + sent, total - sent);
        } else {
            struct iovec iov[2];
            int cnt = 0;
            if (sent < 8)
                iov[cnt++] = (struct iovec){ hdr + sent, 8 - sent };
            size_t doff = sent < 8 ? 0 : sent - 8;
            if (len > doff)
                iov[cnt++] = (struct iovec){ (char *)data + doff, len - doff };
            n = writev(p->wfd, iov, cnt);
        }
        if (n >= 0) {
            sent += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            err = mproc__err();
            goto out;
        }
        /* Full: wait for room, watching the incoming pipe for the peer's
           death (events 0 still reports POLLHUP). */
        struct pollfd fds[2] = { { .fd = p->wfd, .events = POLLOUT },
                                 { .fd = p->rfd, .events = 0 } };
        int r;
        for (;;) {
            r = poll(fds, 2, mproc__poll_ms(deadline));
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 && mproc__now() < deadline)
                continue;
            break;
        }
        if (r < 0) {
            err = mproc__err();
            goto out;
        }
        if (peer_gone(p, fds[1].revents)) {
            err = -EPIPE;
            goto out;
        }
        if (r == 0) {
            /* Part of the message went: the peer can never find the next
               frame, so this end must not send again. */
            if (sent > 0)
                p->broken = true;
            err = -ETIMEDOUT;
            goto out;
        }
    }
out:
    pthread_mutex_unlock(&p->smu);
    return err;
}

/* ---- receiving ----------------------------------------------------------------- */

/* Wait for the incoming pipe to be readable: 1, 0 timed out, -errno. Not
   called when waiting forever: the read itself blocks then. */
static int wait_readable(mproc_pipe *p, double timeout, double deadline)
{
    if (timeout < 0)
        return 1;
    return mproc__poll_one(p->rfd, POLLIN, deadline);
}

/* Read what has arrived into dst (at most n): bytes read, 0 at end of
   file, -ETIMEDOUT, -errno. */
static ssize_t rd(mproc_pipe *p, void *dst, size_t n, double timeout, double deadline)
{
    int r = wait_readable(p, timeout, deadline);
    if (r <= 0)
        return r == 0 ? -ETIMEDOUT : r;
    for (;;) {
        ssize_t k = read(p->rfd, dst, n);
        if (k >= 0)
            return k;
        if (errno != EINTR)
            return mproc__err();
    }
}

/* Make sure at least want bytes are buffered (want <= RBUF). */
static int fill(mproc_pipe *p, size_t want, double timeout, double deadline)
{
    if (!p->buf) {
        p->buf = malloc(RBUF);
        if (!p->buf)
            return -ENOMEM;
    }
    while (p->len < want) {
        if (p->off + p->len == RBUF || (p->off && p->len == 0)) {
            memmove(p->buf, p->buf + p->off, p->len);
            p->off = 0;
        }
        ssize_t k = rd(p, p->buf + p->off + p->len, RBUF - p->off - p->len, timeout, deadline);
        if (k == 0) {
            p->eof = true;
            return -EPIPE;
        }
        if (k < 0)
            return (int)k;
        p->len += (size_t)k;
    }
    return 0;
}

static uint64_t hdr_len(const unsigned char *h)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | h[i];
    return n;
}

/* Receive one message into buf (cap bytes) or a new buffer (*alloc). */
static int recv_msg(mproc_pipe *p, void *buf, size_t cap, void **alloc, size_t *len,
                    double timeout)
{
    if (!p || !len || !mproc__timeout_ok(timeout))
        return -EINVAL;
    pthread_mutex_lock(&p->rmu);
    int err = 0;
    double deadline = mproc__deadline(timeout);
    if (p->closed || !p->can_recv) {
        err = -EBADF;
        goto out;
    }
    if (!p->have_hdr) {
        /* End of file between messages is the peer's goodbye; in the middle
           of one, its death. Either way nothing more comes. */
        err = fill(p, 8, timeout, deadline);
        if (err < 0)
            goto out;
        p->need = hdr_len(p->buf + p->off);
        if (p->need > PIPE_MAX_MSG || p->need > SIZE_MAX - 1) {
            err = -EPROTO;
            goto out;
        }
        p->off += 8;
        p->len -= 8;
        p->have_hdr = true;
        p->got = 0;
    }
    size_t n = (size_t)p->need;
    if (!alloc && n > cap) {
        *len = n;
        err = -EMSGSIZE;
        goto out;
    }
    if (!p->msg && n <= RBUF) {
        /* The common case: the whole message in the buffer. */
        err = fill(p, n, timeout, deadline);
        if (err < 0)
            goto out;
        void *dst = buf;
        if (alloc) {
            dst = malloc(n ? n : 1);
            if (!dst) {
                err = -ENOMEM;
                goto out;
            }
            *alloc = dst;
        }
        if (n)
            memcpy(dst, p->buf + p->off, n);
        p->off += n;
        p->len -= n;
    } else {
        /* A large message: gather it in its own buffer, reading the part
           beyond what is buffered straight from the pipe. */
        if (!p->msg) {
            size_t first = n < MSG_STEP ? n : MSG_STEP;
            p->msg = malloc(first);
            if (!p->msg) {
                err = -ENOMEM;
                goto out;
            }
            p->mcap = first;
            size_t take = p->len < n ? p->len : n;
            memcpy(p->msg, p->buf ? p->buf + p->off : p->msg, take);
            p->off += take;
            p->len -= take;
            p->got = take;
        }
        while (p->got < n) {
            if (p->got == p->mcap) {
                size_t grown = p->mcap > n / 2 ? n : p->mcap * 2;
                unsigned char *m = realloc(p->msg, grown);
                if (!m) {
                    err = -ENOMEM;
                    goto out;
                }
                p->msg = m;
                p->mcap = grown;
            }
            ssize_t k = rd(p, p->msg + p->got, p->mcap - p->got, timeout, deadline);
            if (k == 0) {
                p->eof = true;
                k = -EPIPE;
            }
            if (k < 0) {
                err = (int)k;
                goto out;
            }
            p->got += (size_t)k;
        }
        if (alloc) {
            *alloc = p->msg;
        } else {
            /* buf is never NULL here (cap >= n > 0); the test is for GCC,
               which inlines mproc_pipe_recv's NULL into this branch. */
            if (buf)
                memcpy(buf, p->msg, n);
            free(p->msg);
        }
        p->msg = NULL;
        p->got = p->mcap = 0;
    }
    p->have_hdr = false;
    *len = n;
out:
    pthread_mutex_unlock(&p->rmu);
    return err;
}

int mproc_pipe_recv(mproc_pipe *p, void **data, size_t *len, double timeout)
{
    if (!data)
        return -EINVAL;
    return recv_msg(p, NULL, 0, data, len, timeout);
}

int mproc_pipe_recv_into(mproc_pipe *p, void *buf, size_t cap, size_t *len, double timeout)
{
    if (!buf && cap)
        return -EINVAL;
    return recv_msg(p, buf, cap, NULL, len, timeout);
}

int mproc_pipe_poll(mproc_pipe *p, double timeout)
{
    if (!p || !mproc__timeout_ok(timeout))
        return -EINVAL;
    pthread_mutex_lock(&p->rmu);
    int r;
    if (p->closed || !p->can_recv)
        r = -EBADF;
    else if (p->eof || (p->have_hdr ? p->len >= p->need : p->len >= 8))
        r = 1; /* already here, or end of file already seen */
    else
        r = -1;
    pthread_mutex_unlock(&p->rmu);
    if (r != -1)
        return r;
    return mproc__poll_one(p->rfd, POLLIN, mproc__deadline(timeout));
}
