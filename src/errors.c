/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* errors.c: text for every code the library returns. */
#include "internal.h"

#include <string.h>

const char *mproc_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case MPROC_ETASK:
        return "the task function returned an error";
    case MPROC_EWORKER:
        return "the worker died while running the task";
    case MPROC_ETASKTIMEOUT:
        return "the task ran past its timeout and was killed";
    case MPROC_EINIT:
        return "a worker's initializer failed: the pool is broken";
    case -ETIMEDOUT:
        return "timed out";
    }
    if (err < 0 && err > -4096) {
        /* strerrordesc_np gives glibc's static text without locale or
           buffer; anything it does not know is "unknown". */
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}
