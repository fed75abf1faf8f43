#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# run.sh BUILD_DIR: `mproc run` against GNU parallel and xargs -P, at -j2.
#   2000 jobs of `true`: jobs per second (spawn cost and wakeups);
#   500 jobs of `sleep 0.01`: how soon the next job starts when a slot frees;
#   -X over 100,000 short values: many values per job (grouping, long
#   command lines), beside xargs -P2 and GNU parallel -X.
# mproc keeps its default grouped output. One table, with ratios.
set -eu
build=${1:-build}
mproc="$build/mproc"
[ -x "$mproc" ] || { echo "run.sh: no $mproc (build first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

seq 2000 > "$tmp/true.in"
i=0; while [ $i -lt 500 ]; do echo 0.01; i=$((i + 1)); done > "$tmp/sleep.in"
seq 100000 > "$tmp/many.in"

now() { date +%s.%N; }

# elapsed INPUT COMMAND...: the wall time of one run, in seconds.
elapsed() {
    in=$1; shift
    t0=$(now)
    "$@" < "$in" > /dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'
}

min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

have_parallel=false
command -v parallel >/dev/null 2>&1 && have_parallel=true

row() { # WORKLOAD TOOL SECONDS JOBS OURS
    awk -v w="$1" -v tool="$2" -v s="$3" -v n="$4" -v ours="$5" 'BEGIN {
        printf "%-22s %-16s %9.3f %9.0f %12.2fx\n", w, tool, s, n / s, s / ours }'
}

# The tools take turns, round after round, and each keeps its best time:
# a burst of other load on the machine then hits them all alike.
rounds=3
m="" x="" p="" ms="" xs="" mx="" xx="" px=""
r=0
while [ $r -lt $rounds ]; do
    m=$(min "$m" "$(elapsed "$tmp/true.in" "$mproc" run -j2 true)")
    x=$(min "$x" "$(elapsed "$tmp/true.in" xargs -P2 -n1 true)")
    if $have_parallel; then
        p=$(min "$p" "$(elapsed "$tmp/true.in" parallel --will-cite -j2 true)")
    fi
    ms=$(min "$ms" "$(elapsed "$tmp/sleep.in" "$mproc" run -j2 sleep)")
    xs=$(min "$xs" "$(elapsed "$tmp/sleep.in" xargs -P2 -n1 sleep)")
    mx=$(min "$mx" "$(elapsed "$tmp/many.in" "$mproc" run -j2 -X echo)")
    xx=$(min "$xx" "$(elapsed "$tmp/many.in" xargs -P2 echo)")
    if $have_parallel; then
        px=$(min "$px" "$(elapsed "$tmp/many.in" parallel --will-cite -j2 -X echo)")
    fi
    r=$((r + 1))
done

echo "mproc run against its peers, -j2, $(nproc) CPUs, best of $rounds rounds;"
echo "the last column is their time over mproc's"
printf "%-22s %-16s %9s %9s %13s\n" workload tool seconds jobs/s "mproc faster"
row "2000 x true" "mproc run" "$m" 2000 "$m"
row "" "xargs -P2 -n1" "$x" 2000 "$m"
if $have_parallel; then
    row "" "GNU parallel" "$p" 2000 "$m"
fi
row "500 x sleep 0.01" "mproc run" "$ms" 500 "$ms"
row "" "xargs -P2 -n1" "$xs" 500 "$ms"
row "-X 100000 values" "mproc run -X" "$mx" 100000 "$mx"
row "" "xargs -P2" "$xx" 100000 "$mx"
if $have_parallel; then
    row "" "GNU parallel -X" "$px" 100000 "$mx"
fi

echo
awk -v m="$m" -v x="$x" -v p="$p" -v ms="$ms" -v xs="$xs" 'BEGIN {
    if (p != "") printf "target >= 5x GNU parallel (true):  %.3fx %s\n", p / m, (p / m >= 5 ? "met" : "MISSED")
    printf "target >= 1.2x xargs (true):       %.3fx %s\n", x / m, (x / m >= 1.2 ? "met" : "MISSED")
    printf "target no slower than xargs (sleep): %.3fx %s\n", xs / ms, (xs / ms >= 1 ? "met" : "MISSED")
}'
