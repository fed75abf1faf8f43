/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 35_shared_memory: a named shared memory block, as
 * multiprocessing.shared_memory: one process creates it, another attaches
 * by name. With attachers = 1 the name disappears as soon as the other side
 * has attached, so nothing is left in /dev/shm however the processes end. */
#include <mproc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char name[64];

static int reader(void *arg)
{
    (void)arg;
    mproc_shm *b;
    int err = mproc_shm_attach(&b, name);
    if (err < 0) {
        fprintf(stderr, "attach: %s\n", mproc_strerror(err));
        return 1;
    }
    printf("  reader: attached to \"%s\" (%zu bytes): \"%s\"\n", name, mproc_shm_size(b),
           (char *)mproc_shm_ptr(b));
    strcpy(mproc_shm_ptr(b), "and a reply from the reader");
    mproc_shm_free(b);
    return 0;
}

int main(void)
{
    snprintf(name, sizeof name, "mproc-example-%d", (int)getpid());
    mproc_shm *b;
    mproc_shm_opts o = { .attachers = 1 }; /* the name goes after one attach */
    int err = mproc_shm_create(&b, name, 4096, &o);
    if (err < 0) {
        fprintf(stderr, "create: %s\n", mproc_strerror(err));
        return 1;
    }
    strcpy(mproc_shm_ptr(b), "hello from the creator");
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    printf("  creator: made %s: %s\n", path, access(path, F_OK) == 0 ? "present" : "absent");
    fflush(stdout);

    mproc_process *p;
    mproc_process_new(&p, reader, NULL, NULL);
    mproc_process_start(p);
    mproc_process_join(p, -1);
    mproc_process_free(p);

    printf("  creator: the block now says \"%s\"\n", (char *)mproc_shm_ptr(b));
    printf("  creator: %s after the attach: %s\n", path,
           access(path, F_OK) == 0 ? "still there" : "gone, nothing left behind");
    mproc_shm_free(b);
    return 0;
}
