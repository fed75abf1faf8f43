/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* shm.c: shared memory blocks: anonymous (memfd), named (/dev/shm), and the
 * Value / Array conveniences.
 *
 * DESIGN. Every block starts with a small header (magic, size, element
 * layout, attach count, the optional lock) so that a process attaching by
 * name or descriptor learns the size and can tell our blocks, and queues,
 * from anything else. A named block is built nameless (O_TMPFILE in
 * /dev/shm) and given its name by linkat only once it is complete: an
 * attacher never sees a half-made block, -EEXIST is decided atomically, and
 * a creator that dies before the link leaves nothing. With `attachers` the
 * attach that reaches the count removes the name, after which the memory
 * lives only as long as the mappings.
 */
#include "ipc_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHM_VERSION 1
#define SHM_HDR 128
#define SHM_MAX ((size_t)1 << 46)

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t size;      /* usable bytes after the header */
    uint64_t elem_size; /* Value / Array: element size; else 1 */
    uint64_t count;     /* Value / Array: elements; else size */
    _Atomic uint32_t attached;
    uint32_t attachers;
    uint32_t has_lock;
    unsigned char pad_[64 - 44];
    mproc_lock lock; /* at offset 64 */
} shm_hdr;
_Static_assert(sizeof(shm_hdr) == SHM_HDR, "shm header layout");

struct mproc_shm {
    shm_hdr *hdr; /* the mapping starts here */
    size_t map_len;
    int fd;
};

static int valid_name(const char *name, char *path, size_t cap)
{
    if (!name)
        return -EINVAL;
    if (name[0] == '/')
        name++;
    size_t n = strlen(name);
    if (n == 0 || n > 200 || !strcmp(name, ".") || !strcmp(name, ".."))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return -EINVAL;
    }
    snprintf(path, cap, "/%s", name);
    return 0;
}

/* Map fd (which the block takes over) and check that it holds a block of
   this magic. */
static int map_fd(mproc_shm **out, int fd, uint32_t magic)
{
    int err = 0;
    void *map = MAP_FAILED;
    size_t len = 0;
    mproc_shm *b = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        err = mproc__err();
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < SHM_HDR) {
        err = -EINVAL;
        goto out;
    }
    len = (size_t)st.st_size;
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        err = mproc__err();
        goto out;
    }
    shm_hdr *h = map;
    if (h->magic != magic || h->version != SHM_VERSION || h->size > len - SHM_HDR) {
        err = -EINVAL;
        goto out;
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        err = -ENOMEM;
        goto out;
    }
    b->hdr = h;
    b->map_len = len;
    b->fd = fd;
    *out = b;
out:
    if (err < 0) {
        if (map != MAP_FAILED)
            munmap(map, len);
        mproc__close(fd);
    }
    return err;
}

/* Size fd for a block of size bytes, map it and write the header. A named
   block's pages are reserved now: tmpfs allocates a page when it is first
   touched, and one that does not fit the filesystem then kills the
   toucher with SIGBUS. fallocate allocates them here or fails with
   -ENOSPC, undoing what it took. (MAP_POPULATE would not do: it ignores a
   page it cannot get.) An anonymous block (memfd) has no filesystem limit
   to hit; its pages stay lazy, so a large sparse block costs only what is
   used. */
static int build(mproc_shm **out, int fd, size_t size, uint32_t magic, unsigned attachers,
                 bool reserve, mproc__shm_init_fn init, void *arg)
{
    size_t len = SHM_HDR + size;
    int r = 0;
    if (ftruncate(fd, (off_t)len) < 0)
        r = errno;
    else if (reserve)
        do
            r = posix_fallocate(fd, 0, (off_t)len);
        while (r == EINTR);
    if (r) {
        mproc__close(fd);
        return r == EFBIG || r == EINVAL ? -ENOMEM : -r;
    }
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int err = mproc__err();
        mproc__close(fd);
        return err;
    }
    mproc_shm *b = calloc(1, sizeof *b);
    if (!b) {
        munmap(map, len);
        mproc__close(fd);
        return -ENOMEM;
    }
    shm_hdr *h = map;
    h->version = SHM_VERSION;
    h->size = size;
    h->elem_size = 1;
    h->count = size;
    h->attachers = attachers;
    atomic_init(&h->attached, 0);
    h->magic = magic;
    b->hdr = h;
    b->map_len = len;
    b->fd = fd;
    if (init) {
        int err = init((char *)h + SHM_HDR, size, arg);
        if (err < 0) {
            mproc_shm_free(b);
            return err;
        }
    }
    *out = b;
    return 0;
}

int mproc__shm_make(mproc_shm **out, const char *name, size_t size, const mproc_shm_opts *opts,
                    uint32_t magic, mproc__shm_init_fn init, void *arg)
{
    if (!out || size == 0)
        return -EINVAL;
    if (size > SHM_MAX)
        return -ENOMEM;
    if (!name) {
        int fd = memfd_create("mproc-shm", MFD_CLOEXEC);
        if (fd < 0)
            return mproc__err();
        return build(out, fd, size, magic, 0, false, init, arg);
    }
    char path[256];
    int err = valid_name(name, path, sizeof path);
    if (err < 0)
        return err;
    mode_t mode = opts && opts->mode ? (mode_t)(opts->mode & 07777) : 0600;
    unsigned attachers = opts ? opts->attachers : 0;

    /* Built without a name, named when complete (see DESIGN). */
    int fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
    if (fd >= 0) {
        mproc_shm *b = NULL;
        err = build(&b, fd, size, magic, attachers, true, init, arg);
        if (err < 0)
            return err;
        char proc[64], dst[300];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        snprintf(dst, sizeof dst, "/dev/shm%s", path);
        /* O_TMPFILE applied the umask; the name should carry mode. */
        (void)fchmod(fd, mode);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0) {
            *out = b;
            return 0;
        }
        err = mproc__err();
        mproc_shm_free(b);
        if (err == -EEXIST || err == -EACCES)
            return err;
        /* No /proc to link through: fall back to the plain way below. */
    }
    /* Create under the name directly; an attacher may then briefly find a
       block that is not ready, and take it for not one of ours (-EINVAL). */
    fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return mproc__err();
    err = build(out, fd, size, magic, attachers, true, init, arg);
    if (err < 0)
        shm_unlink(path);
    return err;
}

int mproc__shm_open_name(mproc_shm **out, const char *name, uint32_t magic)
{
    if (!out)
        return -EINVAL;
    char path[256];
    int err = valid_name(name, path, sizeof path);
    if (err < 0)
        return err;
    int fd = shm_open(path, O_RDWR, 0);
    if (fd < 0)
        return mproc__err();
    mproc_shm *b = NULL;
    err = map_fd(&b, fd, magic);
    if (err < 0)
        return err;
    uint32_t n = atomic_fetch_add(&b->hdr->attached, 1) + 1;
    if (b->hdr->attachers && n == b->hdr->attachers)
        shm_unlink(path);
    *out = b;
    return 0;
}

int mproc__shm_open_fd(mproc_shm **out, int fd, uint32_t magic)
{
    if (!out)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    int mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mine < 0)
        return mproc__err();
    return map_fd(out, mine, magic);
}

/* ---- the public API ------------------------------------------------------ */

int mproc_shm_new(mproc_shm **out, size_t size)
{
    return mproc__shm_make(out, NULL, size, NULL, MPROC__SHM_MAGIC_BLOCK, NULL, NULL);
}

int mproc_shm_create(mproc_shm **out, const char *name, size_t size, const mproc_shm_opts *opts)
{
    if (!name)
        return -EINVAL;
    return mproc__shm_make(out, name, size, opts, MPROC__SHM_MAGIC_BLOCK, NULL, NULL);
}

int mproc_shm_attach(mproc_shm **out, const char *name)
{
    return mproc__shm_open_name(out, name, MPROC__SHM_MAGIC_BLOCK);
}

int mproc_shm_unlink(const char *name)
{
    char path[256];
    int err = valid_name(name, path, sizeof path);
    if (err < 0)
        return err;
    return shm_unlink(path) < 0 ? mproc__err() : 0;
}

int mproc_shm_from_fd(mproc_shm **out, int fd)
{
    return mproc__shm_open_fd(out, fd, MPROC__SHM_MAGIC_BLOCK);
}

int mproc_shm_fd(const mproc_shm *b)
{
    return b ? b->fd : -EBADF;
}

void *mproc_shm_ptr(const mproc_shm *b)
{
    return b ? (char *)b->hdr + SHM_HDR : NULL;
}

size_t mproc_shm_size(const mproc_shm *b)
{
    return b ? (size_t)b->hdr->size : 0;
}

size_t mproc_shm_len(const mproc_shm *b)
{
    return b ? (size_t)b->hdr->count : 0;
}

mproc_lock *mproc_shm_lock(const mproc_shm *b)
{
    return b && b->hdr->has_lock ? &b->hdr->lock : NULL;
}

void mproc_shm_free(mproc_shm *b)
{
    if (!b)
        return;
    if (b->hdr)
        munmap(b->hdr, b->map_len);
    mproc__close(b->fd);
    free(b);
}

int mproc_shm_array_new(mproc_shm **out, size_t elem_size, size_t count, const void *init,
                        bool with_lock)
{
    if (!out || elem_size == 0 || count == 0 || count > SIZE_MAX / elem_size)
        return -EINVAL;
    size_t size = elem_size * count;
    mproc_shm *b = NULL;
    int err = mproc__shm_make(&b, NULL, size, NULL, MPROC__SHM_MAGIC_BLOCK, NULL, NULL);
    if (err < 0)
        return err;
    b->hdr->elem_size = elem_size;
    b->hdr->count = count;
    if (init)
        memcpy(mproc_shm_ptr(b), init, size);
    if (with_lock) {
        err = mproc_lock_init(&b->hdr->lock);
        if (err < 0) {
            mproc_shm_free(b);
            return err;
        }
        b->hdr->has_lock = 1;
    }
    *out = b;
    return 0;
}

int mproc_shm_value_new(mproc_shm **out, size_t elem_size, const void *init, bool with_lock)
{
    return mproc_shm_array_new(out, elem_size, 1, init, with_lock);
}
