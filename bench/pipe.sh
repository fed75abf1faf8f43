#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# pipe.sh BUILD_DIR [BASE_BUILD_DIR]: `mproc run --pipe` and `--pipe-part`
# against GNU parallel's same commands over a generated file of PIPE_BENCH_MB MiB
# (default 1024), beside `cat FILE > /dev/null`, the read floor. The rows
# are run in PIPE_BENCH_REPEAT rounds (default 5), each round every row
# once, so that a noisy moment falls on every row alike; each row's best
# time (the floor's too), its spread (worst over best), throughput, and
# the runner's max RSS in its best run, and the least CPU time of a run
# (all its processes'); then the ratios of the best times, and what the
# --pipe-part row's CPU time allows over this machine's CPUs. With a base
# build (another checkout's, say main's) its --pipe-part row runs in the
# same rounds, right after ours, for an interleaved A/B of the two.
set -eu
build=${1:-build}
base=${2:-}
[ -x "$build/mproc" ] || { echo "pipe.sh: no $build/mproc (build first)" >&2; exit 1; }
mproc="$(cd "$build" && pwd)/mproc"
rows="1 2 3 4 5 6"
if [ -n "$base" ]; then
    [ -x "$base/mproc" ] || { echo "pipe.sh: no $base/mproc (build it first)" >&2; exit 1; }
    basemproc="$(cd "$base" && pwd)/mproc"
    rows="$rows 7"
fi
mb=${PIPE_BENCH_MB:-1024}
repeat=${PIPE_BENCH_REPEAT:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export HOME="$tmp"
mkdir -p "$tmp/.parallel" && : > "$tmp/.parallel/will-cite"
file="$tmp/in.txt"

# Lines of 1 to 100 bytes, the same file every run.
awk -v want=$((mb * 1048576)) 'BEGIN {
    s = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    s = s s; n = 0; i = 0;
    while (n < want) { l = (i * 7919) % 100; print substr(s, 1, l); n += l + 1; i++ }
}' > "$file"
bytes=$(wc -c < "$file")
want_lines=$(wc -l < "$file")
cat "$file" > /dev/null # warm the page cache

# run ROW LABEL CMD...: CMD < FILE once; appends LABEL|seconds|max RSS KiB
# to row ROW's file.
run() {
    row=$1 label=$2
    shift 2
    # time(1) gives the max RSS and the CPU time (its children's too), but
    # its seconds have two decimals, coarse beside the read floor's 0.1 s:
    # the wall time is taken here.
    # The floor's output goes straight to /dev/null (no shell around it).
    out=$tmp/out
    case $label in cat*) out=/dev/null ;; esac
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M %U %S" -o "$tmp/time" "$@" < "$file" > "$out" 2>"$tmp/err" || {
        echo "pipe.sh: $label failed:" >&2; cat "$tmp/err" >&2; exit 1; }
    t1=$(date +%s.%N)
    case $label in cat*) ;; *)
        lines=$(awk '{ n += $1 } END { print n + 0 }' "$tmp/out")
        [ "$lines" = "$want_lines" ] || {
            echo "pipe.sh: $label counted $lines lines, not $want_lines" >&2; exit 1; } ;;
    esac
    read -r kib usr sys < "$tmp/time"
    awk -v l="$label" -v a="$t0" -v b="$t1" -v k="$kib" -v c="$usr + $sys" \
        'BEGIN { split(c, x, " [+] "); printf "%s|%.4f|%s|%.2f\n", l, b - a, k, x[1] + x[2] }' \
        >> "$tmp/row$row"
}

i=0
while [ "$i" -lt "$repeat" ]; do
    run 1 "cat FILE > /dev/null" cat
    run 2 "mproc run --pipe --block 1M wc -l" "$mproc" run --pipe --block 1M wc -l
    run 3 "parallel --pipe --block 1M wc -l" parallel --pipe --block 1M wc -l
    run 4 "mproc run --pipe --block 1M wc -l, from cat" sh -c "cat | '$mproc' run --pipe --block 1M wc -l"
    run 5 "mproc run --pipe-part --block 10M -a FILE wc -l" \
        "$mproc" run --pipe-part --block 10M -a "$file" wc -l
    [ -z "$base" ] || run 7 "base build: mproc run --pipe-part ... wc -l" \
        "$basemproc" run --pipe-part --block 10M -a "$file" wc -l
    run 6 "parallel --pipe-part --block 10M -a FILE wc -l" \
        parallel --pipe-part --block 10M -a "$file" wc -l
    i=$((i + 1))
done
# Each row: LABEL|best seconds|worst seconds|max RSS KiB of the best run|
# least CPU seconds.
for row in $rows; do
    awk -F'|' 'NR == 1 || $2 < best { best = $2; rss = $3 } NR == 1 || $2 > worst { worst = $2 }
        NR == 1 || $4 < cpu { cpu = $4 }
        { label = $1 } END { print label "|" best "|" worst "|" rss "|" cpu }' "$tmp/row$row"
done > "$tmp/rows"

printf '%d MiB file (%d bytes), best of %d interleaved rounds\n' "$mb" "$bytes" "$repeat"
printf '%-48s %8s %7s %9s %12s %6s\n' command best spread MB/s "max RSS KiB" CPU
while IFS='|' read -r label best worst rss cpu; do
    printf '%-48s %8.3f %6.2fx %9.0f %12s %6.2f\n' "$label" "$best" \
        "$(awk -v a="$worst" -v b="$best" 'BEGIN { print (b > 0 ? a / b : 1) }')" \
        "$(awk -v b="$bytes" -v s="$best" 'BEGIN { print (s > 0 ? b / s / 1e6 : 0) }')" "$rss" "$cpu"
done < "$tmp/rows"
awk -F'|' -v ncpu="$(nproc)" 'NR == 1 { f = $2; fc = $5 } NR == 2 { m = $2 } NR == 3 { g = $2 } NR == 4 { s = $2 }
    NR == 5 { pm = $2; pc = $5 } NR == 6 { pg = $2 } NR == 7 { bm = $2; bc = $5 } END {
    printf "ratio: mproc --pipe is %.2fx GNU parallel --pipe (%.2fx from a pipe); %.2fx the read floor\n",
        (m > 0 ? g / m : 0), (s > 0 ? g / s : 0), (m > 0 ? f / m : 0);
    printf "ratio: mproc --pipe-part is %.2fx GNU parallel --pipe-part; %.2fx the read floor\n",
        (pm > 0 ? pg / pm : 0), (pm > 0 ? f / pm : 0);
    # The CPU time of the best-spent run over every CPU: no wall time is
    # shorter, so no ratio better (two-decimal CPU seconds: a rough bound);
    # on a quiet machine the floor takes about its CPU time.
    printf "bound: mproc --pipe-part takes %.2f s of CPU (the floor %.2f s); over %d CPUs no less than %.3f s: at most %.2fx the floor'"'"'s best time, %.2fx its CPU time\n",
        pc, fc, ncpu, pc / ncpu, (pc > 0 ? f / (pc / ncpu) : 0), (pc > 0 ? fc / (pc / ncpu) : 0);
    if (bm > 0)
        printf "base: mproc --pipe-part is %.2fx the base build'"'"'s (which is %.2fx the read floor); CPU %.2f s against its %.2f s\n",
            (pm > 0 ? bm / pm : 0), f / bm, pc, bc }' "$tmp/rows"
