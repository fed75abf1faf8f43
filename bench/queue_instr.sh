#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# queue_instr.sh BUILD_DIR: instructions for one put+get of 64 B in one
# process, counted by callgrind: mproc's queue beside Boost.Interprocess
# message_queue (bench-peers/queue_boost). Two runs of each, of 1000 and
# 21000 pairs, so that set-up and tear-down cancel out.
set -eu
build=${1:-build}
command -v valgrind >/dev/null 2>&1 || { echo "queue_instr: valgrind not installed"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# total PROGRAM N: instructions callgrind counts for PROGRAM --instr N.
total() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$1" --instr "$2" >/dev/null 2>&1
    awk '/^(summary|totals):/ { print $2; exit }' "$tmp/out"
}

# per PROGRAM: instructions per put+get.
per() {
    a=$(total "$1" 1000)
    b=$(total "$1" 21000)
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (b - a) / 20000 }'
}

m=$(per "$build/bench/queue")
printf 'queue put+get, 64 B, one process (callgrind instructions)\n'
printf '  %-28s %8s\n' "mproc_queue" "$m"
if [ -x "$build/bench-peers/queue_boost" ]; then
    b=$(per "$build/bench-peers/queue_boost")
    printf '  %-28s %8s   %.2fx mproc'"'"'s\n' "Boost.Interprocess mq" "$b" "$(awk -v a="$b" -v m="$m" 'BEGIN { print a / m }')"
else
    printf '  %-28s %8s\n' "Boost.Interprocess mq" "n/a"
fi
