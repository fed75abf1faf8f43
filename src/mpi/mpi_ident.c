/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_ident.c: which loaded object holds a function, by an identity that is
 * the same on every rank: the object's GNU build-id (a hash of its code
 * where it has none), and the function's offset from the object's load
 * base. Path names are no identity (argv[0] is as typed, and ASLR moves
 * every base), and neither are raw addresses.
 */
#include "mpi_internal.h"

#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
    mproc__objtab *t;
    size_t cap;
    int err;
} acc;

/* The NT_GNU_BUILD_ID note of an object, if it has one. */
static bool build_id(struct dl_phdr_info *info, mproc__obj *o)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name = (nh->n_namesz + 3) & ~(size_t)3;
            size_t desc = (nh->n_descsz + 3) & ~(size_t)3;
            const char *d = p + sizeof *nh + name;
            if (d + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz > 0 &&
                nh->n_descsz < sizeof o->id) {
                o->idlen = (uint8_t)nh->n_descsz;
                memcpy(o->id, d, nh->n_descsz);
                return true;
            }
            p = d + desc;
        }
    }
    return false;
}

/* FNV-1a over the executable segments: the same code, the same identity. */
static void code_hash(struct dl_phdr_info *info, mproc__obj *o)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        const unsigned char *c = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        for (size_t k = 0; k < ph->p_filesz; k++)
            h = (h ^ c[k]) * 0x100000001b3u;
    }
    o->id[0] = 'H';
    memcpy(o->id + 1, &h, sizeof h);
    o->idlen = 1 + sizeof h;
}

static int obj_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    acc *a = data;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (strstr(name, "linux-vdso") || strstr(name, "linux-gate"))
        return 0;
    mproc__obj o = { .base = info->dlpi_addr, .lo = UINTPTR_MAX, .hi = 0 };
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        o.lo = lo < o.lo ? lo : o.lo;
        o.hi = hi > o.hi ? hi : o.hi;
    }
    if (o.hi == 0)
        return 0; /* no code: nothing to call there */
    if (!build_id(info, &o))
        code_hash(info, &o);
    mproc__objtab *t = a->t;
    if (mproc__grow(&t->v, &a->cap, t->n + 1, sizeof *t->v, 16) < 0) {
        a->err = -ENOMEM;
        return 1;
    }
    t->v[t->n++] = o;
    return 0;
}

int mproc__objtab_load(mproc__objtab *t)
{
    t->v = NULL;
    t->n = 0;
    acc a = { .t = t };
    dl_iterate_phdr(obj_cb, &a);
    if (a.err < 0)
        mproc__objtab_free(t);
    return a.err;
}

void mproc__objtab_free(mproc__objtab *t)
{
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

bool mproc__objtab_find(const mproc__objtab *t, uintptr_t addr, uint32_t *obj, uint64_t *off)
{
    for (size_t i = 0; i < t->n; i++) {
        if (addr >= t->v[i].lo && addr < t->v[i].hi) {
            *obj = (uint32_t)i;
            *off = addr - t->v[i].base;
            return true;
        }
    }
    return false;
}

void *mproc__objtab_pack(const mproc__objtab *t, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += 1 + t->v[i].idlen;
    unsigned char *p = malloc(n ? n : 1), *q = p;
    if (!p)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        *q++ = t->v[i].idlen;
        memcpy(q, t->v[i].id, t->v[i].idlen);
        q += t->v[i].idlen;
    }
    *len = n;
    return p;
}

int mproc__objtab_match(const mproc__objtab *t, const void *packed, size_t len, uintptr_t **bases,
                        size_t *n)
{
    const unsigned char *p = packed, *end = p + len;
    size_t cnt = 0;
    for (const unsigned char *q = p; q < end; q += 1 + *q)
        cnt++;
    uintptr_t *b = malloc((cnt ? cnt : 1) * sizeof *b);
    if (!b)
        return -ENOMEM;
    int err = cnt == t->n ? 0 : -ENOEXEC;
    size_t k = 0;
    for (const unsigned char *q = p; q < end && err == 0; q += 1 + *q, k++) {
        size_t j;
        for (j = 0; j < t->n; j++)
            if (t->v[j].idlen == *q && memcmp(t->v[j].id, q + 1, *q) == 0)
                break;
        if (j == t->n)
            err = -ENOEXEC;
        else
            b[k] = t->v[j].base;
    }
    if (err < 0) {
        free(b);
        return err;
    }
    *bases = b;
    *n = cnt;
    return 0;
}
