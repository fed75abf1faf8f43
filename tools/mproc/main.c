/* main.c: the mproc tool's entry point, dispatching to its commands. */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static void usage(FILE *f)
{
    fputs("usage: mproc COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  run    run a command for each input, in parallel (see mproc run --help)\n"
          "  tree   show the process tree with states\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 255;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mproc %d.%d.%d\n", MPROC_VERSION_MAJOR, MPROC_VERSION_MINOR, MPROC_VERSION_PATCH);
        return 0;
    }
    fprintf(stderr, "mproc: unknown command '%s'\n", argv[1]);
    return 255;
}
