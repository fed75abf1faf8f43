#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# pipe.sh BUILD_DIR: `mproc run --pipe` against GNU parallel's --pipe over a
# generated file of PIPE_BENCH_MB MiB (default 1024), beside `cat FILE >
# /dev/null`, the read floor. One table, with ratios and throughput, and
# each runner's max RSS.
set -eu
build=${1:-build}
[ -x "$build/mproc" ] || { echo "pipe.sh: no $build/mproc (build first)" >&2; exit 1; }
mproc="$(cd "$build" && pwd)/mproc"
mb=${PIPE_BENCH_MB:-1024}
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
cat "$file" > /dev/null # warm the page cache

# run LABEL CMD...: wall seconds and max RSS (KiB) of CMD < FILE.
run() {
    label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" < "$file" > "$tmp/out" 2>"$tmp/err" || {
        echo "pipe.sh: $label failed:" >&2; cat "$tmp/err" >&2; exit 1; }
    read -r secs rss < "$tmp/time"
    lines=$(awk '{ n += $1 } END { print n }' "$tmp/out")
    echo "$label|$secs|$rss|$lines"
}

floor=$(run "cat" sh -c 'cat > /dev/null' | cut -d'|' -f2)
{
    run "mproc run --pipe --block 1M wc -l" "$mproc" run --pipe --block 1M wc -l
    run "parallel --pipe --block 1M wc -l" parallel --pipe --block 1M wc -l
} > "$tmp/rows"

printf '%d MiB file (%d bytes); read floor, cat FILE > /dev/null: %.2f s\n' "$mb" "$bytes" "$floor"
printf '%-40s %8s %10s %12s %10s\n' command seconds MB/s "max RSS KiB" lines
while IFS='|' read -r label secs rss lines; do
    printf '%-40s %8.2f %10.0f %12s %10s\n' "$label" "$secs" \
        "$(awk -v b="$bytes" -v s="$secs" 'BEGIN { print (s > 0 ? b / s / 1e6 : 0) }')" "$rss" "$lines"
done < "$tmp/rows"
awk -F'|' -v f="$floor" 'NR == 1 { m = $2 } NR == 2 { g = $2 } END {
    printf "ratio: mproc --pipe is %.2fx GNU parallel --pipe; %.2fx the read floor (time floor / time)\n",
        (m > 0 ? g / m : 0), (m > 0 ? f / m : 0) }' "$tmp/rows"
