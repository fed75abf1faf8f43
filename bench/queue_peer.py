# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
"""The Python peer of bench/queue.c: multiprocessing.Queue.

    queue_peer.py NP NC SIZE COUNT DEPTH

NP producer and NC consumer processes, released together, pass COUNT
messages of SIZE bytes through a Queue of at most DEPTH messages; prints
the seconds per message, from the release to the last process's end.
"""
import multiprocessing as mp
import sys
import time


def producer(q, go, size, n):
    msg = b"y" * size
    go.wait()
    for _ in range(n):
        q.put(msg)
    q.close()
    q.join_thread()


def consumer(q, go, size, n):
    go.wait()
    for _ in range(n):
        if len(q.get()) != size:
            sys.exit(1)


def main():
    np_, nc, size, count, depth = (int(a) for a in sys.argv[1:6])
    mp.set_start_method("fork")
    q = mp.Queue(depth)
    go = mp.Event()
    procs = [mp.Process(target=producer, args=(q, go, size, count // np_)) for _ in range(np_)]
    procs += [mp.Process(target=consumer, args=(q, go, size, count // nc)) for _ in range(nc)]
    for p in procs:
        p.start()
    t0 = time.monotonic()
    go.set()
    for p in procs:
        p.join()
    dt = time.monotonic() - t0
    if any(p.exitcode != 0 for p in procs):
        sys.exit(1)
    print(dt / count)


if __name__ == "__main__":
    main()
