/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* plugin.c: a task function in a shared library that a test loads only after
 * its pool was made, so the pool's workers cannot have it. */
#include <stddef.h>

struct mproc_out;

__attribute__((visibility("default"))) int mproc_test_plugin_task(const void *arg, size_t len,
                                                                  struct mproc_out *out)
{
    (void)arg;
    (void)out;
    return (int)len;
}
