/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 04_orphan: a child whose parent dies is an orphan, adopted by init (or the
 * nearest subreaper); with mproc_subreaper, we adopt it ourselves. */
#include <mproc.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts a child that forks a grandchild and dies; returns the grandchild's
   PID once its parent is gone. The grandchild lives until `release` closes. */
static pid_t make_orphan(int release_rd, int release_wr)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t child = mproc_fork();
    if (child == 0) {
        pid_t gc = mproc_fork();
        if (gc == 0) {
            close(release_wr);
            char c;
            (void)!read(release_rd, &c, 1); /* until the example says so */
            mproc_exit(0);
        }
        (void)!write(p[1], &gc, sizeof gc);
        mproc_exit(0); /* the grandchild is now an orphan */
    }
    pid_t gc = -1;
    (void)!read(p[0], &gc, sizeof gc);
    close(p[0]);
    close(p[1]);
    waitpid(child, NULL, 0);
    return gc;
}

static void show(const char *when, pid_t pid)
{
    mproc_procinfo info;
    if (mproc_procinfo_get(pid, &info) == 0)
        printf("  %s: orphan %d has parent %d\n", when, (int)pid, (int)info.ppid);
}

int main(void)
{
    int rel[2];
    if (pipe(rel) < 0)
        return 1;
    printf("  we are %d\n", (int)getpid());
    pid_t gc = make_orphan(rel[0], rel[1]);
    show("without subreaper", gc);
    printf("  (adopted by init or the nearest subreaper, not by us)\n");

    mproc_subreaper(true);
    pid_t gc2 = make_orphan(rel[0], rel[1]);
    show("with mproc_subreaper", gc2);

    close(rel[1]); /* both grandchildren end now */
    pid_t got;
    int code;
    if (mproc_wait_any(5, &got, &code) == 0)
        printf("  we reaped our adopted orphan %d (status %d): no zombie\n", (int)got, code);
    close(rel[0]);
    return 0;
}
