/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* tree.c: `mproc tree [PID]`, the process tree with each process's state,
   built on mproc_procinfo_get and mproc_procinfo_children. */
#include "tool.h"

#include "mproc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tree_usage(FILE *f)
{
    fputs("usage: mproc tree [PID]\n"
          "\n"
          "The process tree under PID (default 1), one process a line: PID, state\n"
          "letter as ps prints it (R S D T Z ...) and name. Zombies are marked\n"
          "[zombie]; a process that is in neither its own process group, nor its\n"
          "parent's, nor a sibling's was most likely re-parented after its parent\n"
          "died (to init or a subreaper) and is marked [adopted].\n",
          f);
}

/* The children of pid, allocated; their count in *n. */
static pid_t *children_of(pid_t pid, int *n)
{
    size_t cap = 64;
    for (;;) {
        pid_t *v = xmalloc(cap * sizeof *v);
        int k = mproc_procinfo_children(pid, v, cap);
        if (k < 0) {
            free(v);
            *n = 0;
            return NULL;
        }
        if ((size_t)k <= cap) {
            *n = k;
            return v;
        }
        free(v);
        cap = (size_t)k + 16;
    }
}

static bool adopted(const mproc_procinfo *info, pid_t parent_pgrp, const pid_t *siblings,
                    int nsib)
{
    pid_t pg = info->pgrp;
    if (pg <= 0 || pg == info->pid || pg == parent_pgrp)
        return false;
    for (int i = 0; i < nsib; i++)
        if (siblings[i] == pg)
            return false;
    return true;
}

static void show(tbuf *prefix, pid_t pid, bool root, bool last, pid_t parent_pgrp,
                 const pid_t *siblings, int nsib)
{
    mproc_procinfo info;
    if (mproc_procinfo_get(pid, &info) < 0)
        return; /* gone since it was listed */
    printf("%s%s%d %c %s%s%s\n", prefix->p ? prefix->p : "", root ? "" : last ? "`-" : "|-",
           (int)info.pid, info.state, info.name, info.state == 'Z' ? " [zombie]" : "",
           !root && adopted(&info, parent_pgrp, siblings, nsib) ? " [adopted]" : "");
    int n;
    pid_t *kids = children_of(pid, &n);
    size_t keep = prefix->len;
    if (!root)
        tbuf_adds(prefix, last ? "  " : "| ");
    for (int i = 0; i < n; i++)
        show(prefix, kids[i], false, i == n - 1, info.pgrp, kids, n);
    prefix->len = keep;
    if (prefix->p)
        prefix->p[keep] = '\0';
    free(kids);
}

int tool_tree(int argc, char **argv)
{
    pid_t pid = 1;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        tree_usage(stdout);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "mproc tree: too many arguments\n");
        return TOOL_EXIT_USAGE;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        long v = strtol(argv[1], &end, 10);
        if (errno || end == argv[1] || *end || v < 1 || v > 0x7fffffff) {
            fprintf(stderr, "mproc tree: not a PID: '%s'\n", argv[1]);
            return TOOL_EXIT_USAGE;
        }
        pid = (pid_t)v;
    }
    mproc_procinfo info;
    if (mproc_procinfo_get(pid, &info) < 0) {
        fprintf(stderr, "mproc tree: no process %d\n", (int)pid);
        return 1;
    }
    tbuf prefix = {0};
    show(&prefix, pid, true, true, 0, NULL, 0);
    tbuf_free(&prefix);
    return fflush(stdout) == 0 ? 0 : 1;
}
