/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_farm: a raw MPI task farm, the floor bench/mpi.sh holds the MPI pool
 * against: rank 0 sends tasks, every other rank answers each with blocking
 * MPI calls and no isolation at all. The same four figures as bench/mpi.c:
 *   empty     empty tasks per second, 64 in flight per worker
 *   one_us    microseconds per task, one at a time
 *   map       items per second: 100,000 8-byte items in chunks of 1000
 *   echo_gbs  GB/s each way, 1 MiB echoes, two in flight per worker: the
 *             best of BENCH_ECHO_ROUNDS rounds, as bench/mpi.c measures it
 *   echo_first_gbs  the same, its first round alone
 */
#include "bench.h"

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_EMPTY = 1, TAG_SQUARE, TAG_ECHO, TAG_STOP };


static void worker(void)
{
    size_t cap = 2 << 20;
    char *buf = malloc(cap);
    for (;;) {
        MPI_Status st;
        MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        int n;
        MPI_Get_count(&st, MPI_BYTE, &n);
        MPI_Recv(buf, n, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_STOP)
            break;
        if (st.MPI_TAG == TAG_SQUARE) {
            int64_t *v = (int64_t *)buf;
            for (int i = 0; i < n / 8; i++)
                v[i] *= v[i];
        }
        MPI_Send(buf, st.MPI_TAG == TAG_EMPTY ? 0 : n, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD);
    }
    free(buf);
}

/* Sends without waiting (a blocking send of a large task would wait for a
   worker that is itself sending its answer); the buffer never changes. */
static void send_task(const char *task, int len, int w, int tag)
{
    MPI_Request rq;
    MPI_Isend(task, len, MPI_BYTE, w, tag, MPI_COMM_WORLD, &rq);
    MPI_Request_free(&rq);
}

/* n tasks of len bytes with tag, depth in flight per worker; seconds. */
static double farm(int size, int tag, const char *task, int len, char *reply, int n, int depth)
{
    double t0 = MPI_Wtime();
    int sent = 0, got = 0;
    for (int d = 0; d < depth; d++)
        for (int w = 1; w < size && sent < n; w++, sent++)
            send_task(task, len, w, tag);
    while (got < n) {
        MPI_Status st;
        MPI_Recv(reply, len, MPI_BYTE, MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &st);
        got++;
        if (sent < n) {
            send_task(task, len, st.MPI_SOURCE, tag);
            sent++;
        }
    }
    return MPI_Wtime() - t0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double scale = argc > 1 ? atof(argv[1]) : 1;
    if (rank != 0 || size < 2) {
        if (rank != 0)
            worker();
        MPI_Finalize();
        return 0;
    }
    char *task = calloc(1, 1 << 20), *reply = malloc(1 << 20);
    int n = (int)(200000 * scale);
    printf("empty %.0f\n", n / farm(size, TAG_EMPTY, task, 0, reply, n, 64));
    n = (int)(3000 * scale);
    printf("one_us %.1f\n", farm(size, TAG_EMPTY, task, 0, reply, n, 1) / n * 1e6);
    int reps = scale < 1 ? 1 : (int)(5 * scale);
    printf("map %.0f\n", 100000.0 * reps / farm(size, TAG_SQUARE, task, 8000, reply, 100 * reps, 2));
    n = (int)(300 * scale);
    bench_rounds echo_gbs = { 0 };
    for (int round = 0; round < BENCH_ECHO_ROUNDS; round++)
        bench_round(&echo_gbs,
                    (double)n * (1 << 20) / farm(size, TAG_ECHO, task, 1 << 20, reply, n, 2) / 1e9);
    bench_rounds_print(&echo_gbs, "echo_gbs", "echo_first_gbs");
    for (int w = 1; w < size; w++)
        MPI_Send(NULL, 0, MPI_BYTE, w, TAG_STOP, MPI_COMM_WORLD);
    free(task);
    free(reply);
    MPI_Finalize();
    return 0;
}
