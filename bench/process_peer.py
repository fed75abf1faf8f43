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
    t = time.perf_counter()
    for _ in range(n):
        p = mp.Process(target=nothing)
        p.start()
        p.join()
    print((time.perf_counter() - t) / n)


if __name__ == "__main__":
    main()
