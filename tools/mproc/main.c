/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* main.c: the mproc tool's entry point, dispatching to its commands. */
#include "tool.h"

#include <stdio.h>
#include <string.h>

#include "mproc.h"

static void usage(FILE *f)
{
    fputs("usage: mproc COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  run    run a command for each input, in parallel (see mproc run --help)\n"
          "  sem    a counting semaphore for command lines, as GNU sem (see mproc sem --help)\n"
          "  tree   show the process tree with states (see mproc tree --help)\n"
          "\n"
          "options:\n"
          "  -h, --help     this text\n"
          "  --version      the version\n"
          "\n"
          "See mproc(1).\n",
          f);
}

void tool_print_version(void)
{
    printf("mproc %s\n", mproc_version());
}

int main(int argc, char **argv)
{
    /* Invoked through a link named sem, the tool is GNU's sem. */
    const char *base = strrchr(argv[0], '/');
    if (!strcmp(base ? base + 1 : argv[0], "sem"))
        return tool_sem(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        tool_print_version();
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return tool_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sem"))
        return tool_sem(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tree"))
        return tool_tree(argc - 1, argv + 1);
    fprintf(stderr, "mproc: unknown command '%s'\n", argv[1]);
    return TOOL_EXIT_USAGE;
}
