/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue_frames.c: libFuzzer target for the queue's message framing. A queue
 * holding a few real messages has its shared header positions and ring
 * bytes written over with the fuzzer's bytes, as another process sharing
 * the block could; then every call that reads the block runs. Each must
 * return (an error is fine): no crash, no read or write outside the ring
 * (the slack after the ring is poisoned for AddressSanitizer).
 *
 * Input: one byte of options, then up to 20 little-endian 64-bit words
 * added to the header's 64-bit fields and 8 32-bit words added to its
 * 32-bit fields (zero leaves a field as it was), then bytes XORed into the
 * ring from its start. */
#include "queue_internal.h"

#include <errno.h>
#include <mproc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define QF_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define QF_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#endif
#endif
#ifndef QF_POISON
#define QF_POISON(p, n) ((void)(p), (void)(n))
#define QF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static const size_t f64[] = {
    offsetof(qhdr, tail),    offsetof(qhdr, puts),      offsetof(qhdr, pj_tail),
    offsetof(qhdr, pj_puts), offsetof(qhdr, head_seen), offsetof(qhdr, gets_seen),
    offsetof(qhdr, head),    offsetof(qhdr, gets),      offsetof(qhdr, gj_head),
    offsetof(qhdr, gj_gets), offsetof(qhdr, tail_seen), offsetof(qhdr, dones),
    offsetof(qhdr, cap),     offsetof(qhdr, maxsize),   offsetof(qhdr, pflight),
    offsetof(qhdr, pflightm), offsetof(qhdr, pj_flight), offsetof(qhdr, pj_flightm),
    offsetof(qhdr, gflight), offsetof(qhdr, gj_flight),
};
static const size_t f32[] = {
    offsetof(qhdr, pj_valid), offsetof(qhdr, gj_valid), offsetof(qhdr, getters),
    offsetof(qhdr, putters),  offsetof(qhdr, closed),   offsetof(qhdr, magic),
    offsetof(qhdr, psplit),   offsetof(qhdr, gsplit),
};

static uint64_t take_word(const uint8_t **p, size_t *n, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width && *n; i++, (*p)++, (*n)--)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

/* Every reading call, each allowed to fail; none may wait. The oracle:
   what a get hands back fits the ring and the caller's buffer, and only
   the documented errors come back. */
static void exercise(mproc_queue *q, uint8_t opts)
{
    char small[64];
    size_t len, max = mproc_queue_max_message(q);
    for (int i = 0; i < 6; i++) {
        void *data = NULL;
        int r;
        if (i % 2 == 0) {
            r = mproc_queue_get(q, small, sizeof small, &len, 0);
            if (r == 0 && len > sizeof small)
                abort();
        } else if ((r = mproc_queue_get_alloc(q, &data, &len, 0)) == 0) {
            if (len > max)
                abort();
            if (len)
                ((volatile char *)data)[len - 1]; /* the whole message is ours */
            free(data);
        }
        if (r != 0 && r != -ETIMEDOUT && r != -EPROTO && r != -EPIPE && r != -EMSGSIZE &&
            r != -ENOMEM)
            abort();
    }
    /* Up to 240 KiB: from 64 KiB on (Q_SPLIT), copied outside the lock
       where the fuzzer set psplit (src/queue_copy.c). */
    static char big[15 << 14];
    mproc_queue_put(q, big, (size_t)(opts >> 4) << 14, 0);
    mproc_queue_get(q, small, sizeof small, &len, 0);
    mproc_queue_qsize(q);
    mproc_queue_empty(q);
    mproc_queue_full(q);
    mproc_queue_task_done(q);
    mproc_queue_join(q, 0);
    mproc_queue_max_message(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mproc_queue *q;
    /* Room for a message copied outside the locks (Q_SPLIT). */
    mproc_queue_opts o = { .bytes = 4 * Q_SPLIT, .maxsize = size ? data[0] & 3 : 0 };
    if (mproc_queue_new(&q, &o) < 0)
        abort();
    /* Real records first, so that the fuzzer's edits start from framing
       that was valid. */
    static const char msg[1000];
    mproc_queue_put(q, msg, 1, 0);
    mproc_queue_put(q, msg, 100, 0);
    mproc_queue_put(q, msg, 1000, 0);
    char tmp[8];
    size_t len;
    mproc_queue_get(q, tmp, sizeof tmp, &len, 0);

    uint8_t opts = size ? data[0] : 0;
    const uint8_t *p = size ? data + 1 : data;
    size_t n = size ? size - 1 : 0;
    unsigned char *h = (unsigned char *)q->h;
    for (size_t i = 0; i < sizeof f64 / sizeof f64[0] && n; i++) {
        uint64_t v;
        memcpy(&v, h + f64[i], 8);
        v += take_word(&p, &n, 8);
        memcpy(h + f64[i], &v, 8);
    }
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0] && n; i++) {
        uint32_t v;
        memcpy(&v, h + f32[i], 4);
        v += (uint32_t)take_word(&p, &n, 4);
        memcpy(h + f32[i], &v, 4);
    }
    for (size_t i = 0; i < n && i < q->cap; i++)
        q->ring[i] ^= p[i];

    /* Whatever follows the ring in its mapping is out of bounds. */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *end = q->ring + q->cap;
    size_t slack = (size_t)(-(uintptr_t)end & (uintptr_t)(page - 1));
    QF_POISON(end, slack);
    exercise(q, opts);
    /* A second handle reads the written-over header afresh. */
    if (opts & 4) {
        mproc_queue *q2;
        if (mproc_queue_from_fd(&q2, mproc_queue_fd(q)) == 0) {
            unsigned char *end2 = q2->ring + q2->cap;
            size_t slack2 = (size_t)(-(uintptr_t)end2 & (uintptr_t)(page - 1));
            QF_POISON(end2, slack2);
            exercise(q2, opts);
            QF_UNPOISON(end2, slack2);
            mproc_queue_free(q2);
        }
    }
    QF_UNPOISON(end, slack);
    mproc_queue_free(q);
    return 0;
}
