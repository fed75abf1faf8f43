# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# mpi_peer.py: mpi4py.futures' MPIPoolExecutor, the peer bench/mpi.sh sets
# beside the MPI pool. Run as: mpirun -np 3 python3 -m mpi4py.futures
# bench/mpi_peer.py [SCALE] (rank 0 the client, the other ranks workers).
# The same four figures as bench/mpi.c, as "name value" lines.
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def empty():
    return None


def square(x):
    return x * x


def echo(b):
    return b


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    with MPIPoolExecutor() as ex:
        ex.submit(empty).result()  # the workers are up
        n = max(1, int(10000 * scale))
        t = time.perf_counter()
        fs = [ex.submit(empty) for _ in range(n)]
        for f in fs:
            f.result()
        print("empty %.0f" % (n / (time.perf_counter() - t)))
        n = max(1, int(1000 * scale))
        t = time.perf_counter()
        for _ in range(n):
            ex.submit(empty).result()
        print("one_us %.1f" % ((time.perf_counter() - t) / n * 1e6))
        reps = max(1, int(scale))
        t = time.perf_counter()
        for _ in range(reps):
            list(ex.map(square, range(100000), chunksize=1000))
        print("map %.0f" % (100000 * reps / (time.perf_counter() - t)))
        # The best of 5 rounds, and the first alone, as bench/mpi.c has them.
        buf = bytes(1 << 20)
        n = max(1, int(100 * scale))
        rounds = []
        for _ in range(5):
            t = time.perf_counter()
            fs = [ex.submit(echo, buf) for _ in range(n)]
            for f in fs:
                f.result()
            rounds.append(n * len(buf) / (time.perf_counter() - t) / 1e9)
        print("echo_gbs %.2f" % max(rounds))
        print("echo_first_gbs %.2f" % rounds[0])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
