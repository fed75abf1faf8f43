#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# mpi.sh BUILD_DIR: the MPI pool (bench/mpi.c) beside mpi4py.futures'
# MPIPoolExecutor (bench/mpi_peer.py) and a raw MPI task farm
# (bench/mpi_farm.c), each under mpirun -np 3 (rank 0 the client, two
# workers), in one table with ratios. MPROC_BENCH_NP changes the rank count.
set -eu
build=${1:-build}
np=${MPROC_BENCH_NP:-3}
dir="$build/bench-mpi"
if [ ! -x "$dir/mpi" ] || ! command -v mpirun >/dev/null 2>&1; then
    echo "mpi.sh: no MPI build (install openmpi-bin libopenmpi-dev: make deps), skipped"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
run() { timeout 300 mpirun --oversubscribe --bind-to none -np "$np" "$@" 2>/dev/null; }

run "$dir/mpi" > "$tmp/mproc" || echo "mpi.sh: the MPI pool run failed" >&2
run "$dir/mpi_farm" > "$tmp/farm" || echo "mpi.sh: the raw farm run failed" >&2
# Debian's mpi4py is for Debian's python3, which may not be the first one.
py=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import mpi4py.futures' 2>/dev/null; then py=$p; break; fi
done
if [ -n "$py" ]; then
    run "$py" -m mpi4py.futures bench/mpi_peer.py > "$tmp/py" || echo "mpi.sh: mpi4py run failed" >&2
else
    echo "mpi.sh: no mpi4py (python3-mpi4py), its column is empty" >&2
    : > "$tmp/py"
fi

echo "MPI pool, mpirun -np $np (rank 0 the client, $((np - 1)) worker rank(s) of one worker each)"
awk -v M="$tmp/mproc" -v P="$tmp/py" -v F="$tmp/farm" '
function load(file, tab,   w, line) { while ((getline line < file) > 0) { split(line, w, " "); tab[w[1]] = w[2] } }
function ratio(a, b, lower) { if (a == "" || b == "" || a + 0 == 0 || b + 0 == 0) return "-";
                              return sprintf("%.2fx", lower ? b / a : a / b) }
BEGIN {
    load(M, m); load(P, p); load(F, f)
    n = split("empty one_us map echo_gbs echo_first_gbs", keys, " ")
    label["empty"] = "empty tasks/s, pipelined"
    label["one_us"] = "one at a time, us/task"
    label["map"] = "map 1e5 8-byte items, items/s"
    label["echo_gbs"] = "1 MiB echo, GB/s each way"
    label["echo_first_gbs"] = "  its first round alone"
    printf "%-32s %12s %14s %12s %12s %12s\n", "", "mproc", "mpi4py.futures", "raw farm", "vs mpi4py", "vs raw"
    for (i = 1; i <= n; i++) {
        k = keys[i]; low = (k == "one_us")
        printf "%-32s %12s %14s %12s %12s %12s\n", label[k], m[k], p[k], f[k], ratio(m[k], p[k], low), ratio(m[k], f[k], low)
    }
    print "(ratios: how many times better mproc is; time ratios inverted)"
}'

# mproc run --mpi: 2000 x true over the same ranks beside a local
# mproc run -j2, each rate taken from its joblog, from the first job's start
# to the last one's end ("once started": MPI's own start-up left out).
tool="$build/mproc"
if [ -x "$tool" ] && ls "$build"/mproc-run-mpi-*.so >/dev/null 2>&1; then
    n=2000
    rate() { # the jobs per second a joblog shows
        awk -F'\t' 'NR > 1 { s = $3 + 0; e = s + $4; if (min == "" || s < min) min = s;
                     if (e > max) max = e; n++ }
                    END { if (n && max > min) printf "%.0f\n", n / (max - min); else print "" }' "$1"
    }
    seq $n | "$tool" run -j2 --joblog "$tmp/local.log" true > /dev/null
    seq $n | run "$tool" run --mpi -j2 --joblog "$tmp/mpi.log" true > /dev/null ||
        echo "mpi.sh: the mproc run --mpi run failed" >&2
    l=$(rate "$tmp/local.log")
    m=$(rate "$tmp/mpi.log")
    echo
    echo "mproc run, $n x true, jobs/s once started"
    printf "%-32s %12s %14s %12s\n" "" "--mpi -np $np" "local -j2" "vs local"
    awk -v m="$m" -v l="$l" 'BEGIN { r = (m != "" && l != "" && l + 0 > 0) ? sprintf("%.2fx", m / l) : "-";
        printf "%-32s %12s %14s %12s\n", "mproc run true, jobs/s", m, l, r }'
    echo "(--mpi: -j2 on each of the $np ranks, rank 0's included)"
fi
