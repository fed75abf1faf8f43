# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
"""The Python peers of bench/pool.c: seconds per operation.

    pool_peer.py throughput N   Pool(2).apply_async of an empty task, N of them, all waited
    pool_peer.py executor N     ProcessPoolExecutor(2).submit, N of them, all waited
    pool_peer.py apply N        Pool(2).apply, one task at a time
    pool_peer.py map N          Pool(2).map over N ints, default chunksize (one map)
"""
import concurrent.futures as cf
import multiprocessing as mp
import sys
import time


def empty():
    return None


def square(x):
    return x * x


def main():
    mode = sys.argv[1]
    n = int(sys.argv[2])
    mp.set_start_method("fork")
    if mode == "executor":
        with cf.ProcessPoolExecutor(2) as ex:
            for f in [ex.submit(empty) for _ in range(200)]:
                f.result()
            t = time.perf_counter()
            futs = [ex.submit(empty) for _ in range(n)]
            for f in futs:
                f.result()
            print((time.perf_counter() - t) / n)
        return
    with mp.Pool(2) as pool:
        for r in [pool.apply_async(empty) for _ in range(200)]:
            r.get()
        t = time.perf_counter()
        if mode == "throughput":
            rs = [pool.apply_async(empty) for _ in range(n)]
            for r in rs:
                r.get()
            print((time.perf_counter() - t) / n)
        elif mode == "apply":
            for _ in range(n):
                pool.apply(empty)
            print((time.perf_counter() - t) / n)
        elif mode == "map":
            out = pool.map(square, range(n))
            assert out[n - 1] == (n - 1) * (n - 1)
            print(time.perf_counter() - t)


if __name__ == "__main__":
    main()
