# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
"""The Python peer of bench/process.c: seconds per Process start + join."""
import multiprocessing as mp
import sys
import time


def nothing():
    pass


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    mp.set_start_method("fork")
    for _ in range(20):
        p = mp.Process(target=nothing)
        p.start()
        p.join()
    best = None
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(max(n // 5, 1)):
            p = mp.Process(target=nothing)
            p.start()
            p.join()
        took = (time.perf_counter() - t) / max(n // 5, 1)
        best = took if best is None or took < best else best
    print(best)


if __name__ == "__main__":
    main()
