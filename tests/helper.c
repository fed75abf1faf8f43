/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* helper.c: plays the child in tests.
 *
 *   helper exit N        exit with status N
 *   helper raise SIG     kill itself with signal SIG
 *   helper sleep SECS    sleep, then exit 0
 *   helper echo          copy stdin to stdout
 *   helper status        print /proc/self/status
 *   helper print N TEXT  print TEXT on N lines, flushing each
 */
#define _GNU_SOURCE 1
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "exit") && argc > 2)
        return atoi(argv[2]);
    if (!strcmp(cmd, "raise") && argc > 2) {
        signal(atoi(argv[2]), SIG_DFL);
        raise(atoi(argv[2]));
        return 99;
    }
    if (!strcmp(cmd, "sleep") && argc > 2) {
        double s = atof(argv[2]);
        struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
        nanosleep(&ts, NULL);
        return 0;
    }
    if (!strcmp(cmd, "echo")) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            fwrite(buf, 1, n, stdout);
        return 0;
    }
    if (!strcmp(cmd, "status")) {
        FILE *f = fopen("/proc/self/status", "r");
        if (!f)
            return 1;
        int c;
        while ((c = fgetc(f)) != EOF)
            putchar(c);
        fclose(f);
        return 0;
    }
    if (!strcmp(cmd, "print") && argc > 3) {
        for (int i = 0; i < atoi(argv[2]); i++) {
            printf("%s\n", argv[3]);
            fflush(stdout);
        }
        return 0;
    }
    return 2;
}
