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
# mproc run -j2, in MPROC_BENCH_ROUNDS (5) interleaved rounds, each rate
# taken from its joblog, from the first job's start to the last one's end
# ("once started": MPI's own start-up left out); the best and the median
# round of each. Then the CPU time a job costs on each path (every process
# of the run, from time(1); for --mpi less a one-job run's, MPI's start and
# end), how much of the machine local leaves idle, and the bound that
# --mpi's CPU per job sets: no run of it is faster than every CPU busy
# with its jobs and nothing else. And a local run with as many jobs at
# once as --mpi runs here (-j2 on each of the np ranks, all on these
# CPUs), in the same rounds: what that concurrency costs by itself.
tool="$build/mproc"
if [ -x "$tool" ] && ls "$build"/mproc-run-mpi-*.so >/dev/null 2>&1; then
    n=2000
    rounds=${MPROC_BENCH_ROUNDS:-5}
    seq $n > "$tmp/in"
    seq 1 > "$tmp/in1"
    timed=""
    [ -x /usr/bin/time ] && timed="/usr/bin/time -f %U+%S -o $tmp/cpu"
    rate() { # the jobs per second a joblog shows, and its span in seconds
        awk -F'\t' 'NR > 1 { s = $3 + 0; e = s + $4; if (min == "" || s < min) min = s;
                     if (e > max) max = e; n++ }
                    END { if (n && max > min) printf "%.0f %.4f\n", n / (max - min), max - min }' "$1"
    }
    cpu() { # the CPU seconds the last timed run took, all its processes'
        if [ -n "$timed" ]; then awk -F+ '{ printf "%.2f\n", $1 + $2 }' "$tmp/cpu"; else echo; fi
    }
    : > "$tmp/local.r"
    : > "$tmp/mpi.r"
    : > "$tmp/mpi1.r"
    : > "$tmp/same.r"
    same=$((np * 2))
    i=0
    while [ $i -lt "$rounds" ]; do
        i=$((i + 1))
        $timed "$tool" run -j2 --joblog "$tmp/local.log" true < "$tmp/in" > /dev/null
        echo "$(rate "$tmp/local.log") $(cpu)" >> "$tmp/local.r"
        $timed timeout 300 mpirun --oversubscribe --bind-to none -np "$np" "$tool" run --mpi -j2 \
            --joblog "$tmp/mpi.log" true < "$tmp/in" > /dev/null 2>&1 ||
            echo "mpi.sh: the mproc run --mpi run failed" >&2
        echo "$(rate "$tmp/mpi.log") $(cpu)" >> "$tmp/mpi.r"
        $timed timeout 300 mpirun --oversubscribe --bind-to none -np "$np" "$tool" run --mpi -j2 \
            true < "$tmp/in1" > /dev/null 2>&1 || true
        echo "$(cpu)" >> "$tmp/mpi1.r"
        "$tool" run -j$same --joblog "$tmp/same.log" true < "$tmp/in" > /dev/null
        echo "$(rate "$tmp/same.log")" >> "$tmp/same.r"
    done
    echo
    echo "mproc run, $n x true, jobs/s once started, $rounds interleaved rounds"
    printf "%-32s %12s %14s %12s\n" "" "--mpi -np $np" "local -j2" "vs local"
    awk -v n=$n -v ncpu="$(nproc)" -v L="$tmp/local.r" -v M="$tmp/mpi.r" -v S="$tmp/mpi1.r" \
        -v J="$tmp/same.r" -v same=$same '
    function load(file, r, s, c,   k, line, w) {
        k = 0
        while ((getline line < file) > 0) { split(line, w, " "); k++; r[k] = w[1] + 0; s[k] = w[2] + 0; c[k] = w[3] }
        return k
    }
    function sorted(v, k, o,   i, j, t) { for (i = 1; i <= k; i++) o[i] = v[i]
        for (i = 2; i <= k; i++) for (j = i; j > 1 && o[j - 1] > o[j]; j--) { t = o[j]; o[j] = o[j - 1]; o[j - 1] = t } }
    function least(v, k,   i, m) { m = ""; for (i = 1; i <= k; i++) if (v[i] != "" && (m == "" || v[i] + 0 < m + 0)) m = v[i] + 0; return m }
    function row(label, a, b) { printf "%-32s %12s %14s %12s\n", label, a, b,
                                (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2fx", a / b) : "-" }
    BEGIN {
        kl = load(L, lr, ls, lc); km = load(M, mr, ms, mc)
        ks = 0; while ((getline line < S) > 0) { ks++; sc[ks] = line }
        if (!kl || !km) exit
        sorted(lr, kl, lo); sorted(mr, km, mo)
        row("mproc run true, jobs/s, best", mo[km], lo[kl])
        row("  the median round", mo[int((km + 1) / 2)], lo[int((kl + 1) / 2)])
        # Local with as many jobs at once as --mpi runs here (-j2 on each
        # rank, on these same CPUs): what the concurrency alone costs.
        kj = load(J, jr, js, jc)
        if (kj) {
            sorted(jr, kj, jo)
            row("as many at once: local -j" same ", best", mo[km], jo[kj])
            row("  the median round", mo[int((km + 1) / 2)], jo[int((kj + 1) / 2)])
        }
        # CPU per job: the least a run took (the quietest), over its jobs.
        lcpu = least(lc, kl); mcpu = least(mc, km); scpu = least(sc, ks)
        if (lcpu == "" || mcpu == "") { print "(--mpi: -j2 on each of the ranks, rank 0'"'"'s included; no time(1): no CPU figures)"; exit }
        lj = lcpu / n * 1000; mj = (mcpu - (scpu == "" ? 0 : scpu)) / (n - 1) * 1000
        printf "%-32s %12.3f %14.3f %12s\n", "CPU per job, ms (least)", mj, lj, sprintf("%+.0f%%", (lj > 0 ? (mj - lj) / lj * 100 : 0))
        # Local in its best round: the CPU its jobs and runner used over that
        # round span, the rest idle (a rough figure: the CPU counts every
        # job, the span only the jobs).
        for (i = 1; i <= kl; i++) if (lr[i] == lo[kl]) { busy = lc[i] / ls[i]; break }
        printf "local -j2 in its best round: %.2f of %d CPUs busy (%.2f idle); --mpi: %+.3f ms of CPU per job\n",
               busy, ncpu, ncpu - busy, mj - lj
        printf "bound: with every CPU busy on its jobs --mpi runs at most %.0f jobs/s, %.2fx local'"'"'s best\n",
               (mj > 0 ? ncpu / mj * 1000 : 0), ((mj > 0 && lo[kl] > 0) ? ncpu / mj * 1000 / lo[kl] : 0)
        print "(--mpi: -j2 on each of the ranks, rank 0'"'"'s included)"
    }'
fi
