# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
"""The Python peers of bench/pool_payload.c: seconds per echo task.

    pool_payload_peer.py pool SIZE N       Pool(2).apply_async(echo, bytes of SIZE), 16 in flight
    pool_payload_peer.py executor SIZE N   ProcessPoolExecutor(2).submit, the same
"""
import collections
import concurrent.futures as cf
import multiprocessing as mp
import sys
import time

WINDOW = 16


def echo(b):
    return b


def run(submit, get, size, n):
    arg = bytes(range(256)) * (size // 256) + bytes(size % 256)
    window = collections.deque()
    for _ in range(WINDOW):
        window.append(submit(arg))
    while window:
        if len(get(window.popleft())) != size:
            raise SystemExit("wrong echo")
    t = time.perf_counter()
    for _ in range(n):
        if len(window) == WINDOW:
            if len(get(window.popleft())) != size:
                raise SystemExit("wrong echo")
        window.append(submit(arg))
    while window:
        if len(get(window.popleft())) != size:
            raise SystemExit("wrong echo")
    return (time.perf_counter() - t) / n


def main():
    mode, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mp.set_start_method("fork")
    if mode == "executor":
        with cf.ProcessPoolExecutor(2) as ex:
            print(run(lambda a: ex.submit(echo, a), lambda f: f.result(), size, n))
    else:
        with mp.Pool(2) as pool:
            print(run(lambda a: pool.apply_async(echo, (a,)), lambda r: r.get(), size, n))


if __name__ == "__main__":
    main()
