/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* 34_pipe: two processes talk over a duplex pipe, as multiprocessing.Pipe:
 * framed messages both ways, and end of file when the other side is gone. */
#include <mproc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mproc_pipe *parent_end, *child_end;

static int child(void *arg)
{
    (void)arg;
    mproc_pipe_free(parent_end); /* keep only our end */
    void *msg;
    size_t len;
    while (mproc_pipe_recv(child_end, &msg, &len, -1) == 0) {
        char reply[128];
        int n = snprintf(reply, sizeof reply, "got %zu bytes: \"%.*s\"", len, (int)len,
                         (char *)msg);
        free(msg);
        mproc_pipe_send(child_end, reply, (size_t)n, -1);
    }
    mproc_pipe_free(child_end); /* end of file: the parent has closed */
    return 0;
}

int main(void)
{
    if (mproc_pipe_new(&parent_end, &child_end, NULL) < 0)
        return 1;
    mproc_process *p;
    mproc_process_new(&p, child, NULL, NULL);
    mproc_process_start(p);
    mproc_pipe_free(child_end);
    const char *words[] = { "hello", "", "multiprocessing in C" };
    for (int i = 0; i < 3; i++) {
        mproc_pipe_send(parent_end, words[i], strlen(words[i]), -1);
        char reply[128];
        size_t len;
        mproc_pipe_recv_into(parent_end, reply, sizeof reply - 1, &len, -1);
        reply[len] = '\0';
        printf("  child says: %s\n", reply);
    }
    mproc_pipe_close(parent_end); /* the child sees end of file and ends */
    mproc_process_join(p, -1);
    int code = -1;
    mproc_process_exitcode(p, &code);
    printf("  child exited with %d\n", code);
    mproc_process_free(p);
    mproc_pipe_free(parent_end);
    return code;
}
