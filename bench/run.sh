#!/bin/sh
# run.sh BUILD_DIR: `mproc run` against GNU parallel and xargs -P, at -j2.
#   2000 jobs of `true`: jobs per second (spawn cost and wakeups);
#   500 jobs of `sleep 0.01`: how soon the next job starts when a slot frees.
# mproc keeps its default grouped output. Each figure is the best of three
# runs, to keep other load on the machine out of it. One table, with ratios.
set -eu
build=${1:-build}
mproc="$build/mproc"
[ -x "$mproc" ] || { echo "run.sh: no $mproc (build first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

seq 2000 > "$tmp/true.in"
i=0; while [ $i -lt 500 ]; do echo 0.01; i=$((i + 1)); done > "$tmp/sleep.in"

now() { date +%s.%N; }

# best_of3 INPUT COMMAND...: the least wall time of three runs, in seconds.
best_of3() {
    in=$1; shift
    best=""
    for _ in 1 2 3; do
        t0=$(now)
        "$@" < "$in" > /dev/null
        t1=$(now)
        best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
            'BEGIN { t = b - a; if (best == "" || t < best) best = t; printf "%.4f", best }')
    done
    echo "$best"
}

have_parallel=false
command -v parallel >/dev/null 2>&1 && have_parallel=true

row() { # WORKLOAD TOOL SECONDS JOBS OURS
    awk -v w="$1" -v tool="$2" -v s="$3" -v n="$4" -v ours="$5" 'BEGIN {
        printf "%-22s %-16s %9.3f %9.0f %12.2fx\n", w, tool, s, n / s, s / ours }'
}

echo "mproc run against its peers, -j2, $(nproc) CPUs; ratio = their time / mproc's"
printf "%-22s %-16s %9s %9s %13s\n" workload tool seconds jobs/s "mproc faster"

m=$(best_of3 "$tmp/true.in" "$mproc" run -j2 true)
x=$(best_of3 "$tmp/true.in" xargs -P2 -n1 true)
row "2000 x true" "mproc run" "$m" 2000 "$m"
row "" "xargs -P2 -n1" "$x" 2000 "$m"
p=""
if $have_parallel; then
    p=$(best_of3 "$tmp/true.in" parallel --will-cite -j2 true)
    row "" "GNU parallel" "$p" 2000 "$m"
fi

ms=$(best_of3 "$tmp/sleep.in" "$mproc" run -j2 sleep)
xs=$(best_of3 "$tmp/sleep.in" xargs -P2 -n1 sleep)
row "500 x sleep 0.01" "mproc run" "$ms" 500 "$ms"
row "" "xargs -P2 -n1" "$xs" 500 "$ms"

echo
awk -v m="$m" -v x="$x" -v p="$p" -v ms="$ms" -v xs="$xs" 'BEGIN {
    if (p != "") printf "target >= 5x GNU parallel (true):  %.2fx %s\n", p / m, (p / m >= 5 ? "met" : "MISSED")
    printf "target >= 1.2x xargs (true):       %.2fx %s\n", x / m, (x / m >= 1.2 ? "met" : "MISSED")
    printf "target no slower than xargs (sleep): %.2fx %s\n", xs / ms, (xs / ms >= 1 ? "met" : "MISSED")
}'
