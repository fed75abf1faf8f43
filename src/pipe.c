/* pipe.c: message-framed connections between processes (Pipe).
 *
 * DESIGN. An end is one side of an AF_UNIX stream socketpair; a message is
 * an 8-byte little-endian length and the payload, sent with one sendmsg.
 * A socket rather than pipe(2) because send(MSG_NOSIGNAL) reports a gone
 * peer as EPIPE without raising SIGPIPE, so the caller's signal state is
 * never touched, and because the same descriptor carries both directions.
 * A stream rather than SOCK_SEQPACKET because a packet is limited by the
 * socket buffer and messages here have no size limit.
 *
 * Waiting forever uses plain blocking calls (one system call per part, as a
 * raw pipe would); a finite timeout tries without blocking and polls on
 * EAGAIN. What a timed-out receive already read is kept in the end, so the
 * next call resumes the same message and the framing never slips.
 */
#include "ipc_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PIPE_MAX_MSG ((uint64_t)1 << 48)

struct mproc_pipe {
    pthread_mutex_t smu, rmu; /* one sender and one receiver at a time */
    int fd;
    bool can_send, can_recv;
    bool broken; /* a send timed out mid-message, or the peer broke framing */
    /* A receive in progress. */
    unsigned char hdr[8];
    size_t hdr_got;
    unsigned char *msg; /* the payload read so far, when a call gave up mid-way */
    size_t msg_got;
};

static mproc_pipe *end_new(int fd, bool can_send, bool can_recv)
{
    mproc_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->smu, NULL);
    pthread_mutex_init(&p->rmu, NULL);
    p->fd = fd;
    p->can_send = can_send;
    p->can_recv = can_recv;
    return p;
}

int mproc_pipe_new(mproc_pipe **a, mproc_pipe **b, const mproc_pipe_opts *opts)
{
    if (!a || !b)
        return -EINVAL;
    bool one_way = opts && opts->one_way;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return mproc__err();
    if (one_way) {
        /* The first end only receives, the second only sends. */
        shutdown(sv[0], SHUT_WR);
        shutdown(sv[1], SHUT_RD);
    }
    mproc_pipe *pa = end_new(sv[0], !one_way, true);
    mproc_pipe *pb = end_new(sv[1], true, !one_way);
    if (!pa || !pb) {
        mproc_pipe_free(pa);
        mproc_pipe_free(pb);
        if (!pa)
            mproc__close(sv[0]);
        if (!pb)
            mproc__close(sv[1]);
        return -ENOMEM;
    }
    *a = pa;
    *b = pb;
    return 0;
}

int mproc_pipe_from_fd(mproc_pipe **out, int fd)
{
    if (!out || fd < 0)
        return -EINVAL;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        return mproc__err();
    if (type != SOCK_STREAM)
        return -EINVAL;
    mproc_pipe *p = end_new(fd, true, true);
    if (!p)
        return -ENOMEM;
    *out = p;
    return 0;
}

int mproc_pipe_fd(const mproc_pipe *p)
{
    return p && p->fd >= 0 ? p->fd : -EBADF;
}

int mproc_pipe_close(mproc_pipe *p)
{
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->smu);
    pthread_mutex_lock(&p->rmu);
    mproc__close(p->fd);
    p->fd = -1;
    free(p->msg);
    p->msg = NULL;
    pthread_mutex_unlock(&p->rmu);
    pthread_mutex_unlock(&p->smu);
    return 0;
}

void mproc_pipe_free(mproc_pipe *p)
{
    if (!p)
        return;
    mproc__close(p->fd);
    free(p->msg);
    pthread_mutex_destroy(&p->smu);
    pthread_mutex_destroy(&p->rmu);
    free(p);
}

/* ---- sending ----------------------------------------------------------------- */

static int io_err(int err)
{
    /* A reset connection is a gone peer, as a closed one. */
    return err == -ECONNRESET || err == -ENOTCONN || err == -ESHUTDOWN ? -EPIPE : err;
}

int mproc_pipe_send(mproc_pipe *p, const void *data, size_t len, double timeout)
{
    if (!p || (!data && len) || !mproc__timeout_ok(timeout))
        return -EINVAL;
    if ((uint64_t)len > PIPE_MAX_MSG)
        return -EMSGSIZE;
    pthread_mutex_lock(&p->smu);
    int err = 0;
    if (p->fd < 0 || !p->can_send) {
        err = -EBADF;
        goto out;
    }
    if (p->broken) {
        err = -EPIPE;
        goto out;
    }
    unsigned char hdr[8];
    uint64_t n64 = len;
    for (int i = 0; i < 8; i++)
        hdr[i] = (unsigned char)(n64 >> (8 * i));
    size_t total = 8 + len, sent = 0;
    bool wait = timeout < 0;
    double deadline = mproc__deadline(timeout);
    while (sent < total) {
        struct iovec iov[2];
        int cnt = 0;
        if (sent < 8)
            iov[cnt++] = (struct iovec){ hdr + sent, 8 - sent };
        size_t doff = sent < 8 ? 0 : sent - 8;
        if (len > doff)
            iov[cnt++] = (struct iovec){ (char *)data + doff, len - doff };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
        ssize_t n = sendmsg(p->fd, &mh, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
        if (n >= 0) {
            sent += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            err = io_err(mproc__err());
            goto out;
        }
        int r = mproc__poll_one(p->fd, POLLOUT, deadline);
        if (r < 0) {
            err = r;
            goto out;
        }
        if (r == 0) {
            /* Part of the message went: the peer can never find the next
               frame, so this end must not be used to send again. */
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

/* Read up to n bytes into dst: >0 bytes read, 0 at end of file, -ETIMEDOUT,
   or -errno. all asks a blocking read for the whole n at once. */
static ssize_t rd(mproc_pipe *p, void *dst, size_t n, double timeout, double deadline)
{
    for (;;) {
        ssize_t k = recv(p->fd, dst, n, timeout < 0 ? MSG_WAITALL : MSG_DONTWAIT);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return io_err(mproc__err());
        int r = mproc__poll_one(p->fd, POLLIN, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            return -ETIMEDOUT;
    }
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
    if (p->fd < 0 || !p->can_recv) {
        err = -EBADF;
        goto out;
    }
    if (p->broken && p->hdr_got < 8) {
        err = -EPIPE;
        goto out;
    }
    while (p->hdr_got < 8) {
        ssize_t k = rd(p, p->hdr + p->hdr_got, 8 - p->hdr_got, timeout, deadline);
        if (k == 0) {
            /* End of file; between messages that is the peer's goodbye, in
               the middle of one its death. Either way nothing more comes. */
            err = -EPIPE;
            goto out;
        }
        if (k < 0) {
            err = (int)k;
            goto out;
        }
        p->hdr_got += (size_t)k;
    }
    uint64_t n = hdr_len(p->hdr);
    if (n > PIPE_MAX_MSG || n > SIZE_MAX - 1) {
        p->broken = true;
        err = -EPROTO;
        goto out;
    }
    if (!alloc && n > cap) {
        *len = (size_t)n;
        err = -EMSGSIZE;
        goto out;
    }
    /* Where the payload goes: the caller's buffer, or ours when a call gave
       up part-way or the caller wants a new buffer. */
    unsigned char *dst = p->msg;
    if (!dst) {
        if (alloc) {
            dst = p->msg = malloc(n ? (size_t)n : 1);
            if (!dst) {
                err = -ENOMEM;
                goto out;
            }
        } else {
            dst = buf;
        }
    }
    while (p->msg_got < n) {
        ssize_t k = rd(p, dst + p->msg_got, (size_t)n - p->msg_got, timeout, deadline);
        if (k == 0)
            k = -EPIPE;
        if (k < 0) {
            err = (int)k;
            if (dst == buf && p->msg_got > 0) {
                /* Keep what came for the next call, which may pass another
                   buffer. */
                p->msg = malloc((size_t)n);
                if (!p->msg) {
                    p->broken = true;
                    err = -ENOMEM;
                } else {
                    memcpy(p->msg, buf, p->msg_got);
                }
            }
            goto out;
        }
        p->msg_got += (size_t)k;
    }
    if (alloc) {
        *alloc = dst;
    } else if (dst != buf) {
        if (n)
            memcpy(buf, dst, (size_t)n);
        free(dst);
    }
    p->msg = NULL;
    p->msg_got = 0;
    p->hdr_got = 0;
    *len = (size_t)n;
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
    if (p->fd < 0 || !p->can_recv)
        return -EBADF;
    return mproc__poll_one(p->fd, POLLIN, mproc__deadline(timeout));
}
