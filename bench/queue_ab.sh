#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# queue_ab.sh OLD NEW [ROUNDS]: two builds' queues side by side (OLD and NEW
# are bench/queue programs, e.g. a copy of main's and this tree's), mproc
# only, 1->1 and 2->2 at 64 B, 4 KiB and 1 MiB, in interleaved rounds
# (default 7): per row each build's best wall and best CPU time per
# message (all processes), NEW over OLD, and each build's 2->2 over 1->1.
# On a shared machine decide by the CPU time and by many rounds.
# MPROC_BENCH_CPUS=0,1,0,1 (bench/queue.c) holds each process to a CPU.
set -eu
old=$1 new=$2 rounds=${3:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
r=0
while [ "$r" -lt "$rounds" ]; do
    for size in 64 4096 1048576; do
        for shape in "1 1" "2 2"; do
            for which in old new; do
                eval prog=\$$which
                echo "$which $size ${shape% *}x${shape#* } $("$prog" --mproc $shape $size)" >> "$tmp/runs"
            done
        done
    done
    r=$((r + 1))
done
awk -v rounds="$rounds" '
function fmt(ns) { return ns >= 10000 ? sprintf("%8.1fus", ns / 1000) : sprintf("%8dns", ns) }
{ k = $2 " " $3; b = $1 " " k
  if (!(b in wall) || $4 < wall[b]) wall[b] = $4
  if (!(b in cpu) || $5 < cpu[b]) cpu[b] = $5 }
END {
  printf "queue A/B, mproc only, best of %d interleaved rounds (ns per message)\n", rounds
  printf "  %-14s %10s %10s %6s   %10s %10s %6s\n", "", "old wall", "new wall", "new/old", "old CPU", "new CPU", "new/old"
  split("64 4096 1048576", sz, " "); split("1x1 2x2", sh, " ")
  for (i = 1; i <= 3; i++) for (j = 1; j <= 2; j++) {
    k = sz[i] " " sh[j]
    printf "  %-14s %10s %10s %6.2f   %10s %10s %6.2f\n", k, fmt(wall["old " k]), fmt(wall["new " k]),
      wall["new " k] / wall["old " k], fmt(cpu["old " k]), fmt(cpu["new " k]), cpu["new " k] / cpu["old " k]
  }
  printf "  2->2 over 1->1, wall:"
  for (i = 1; i <= 3; i++)
    printf "  %s old %.2f new %.2f", sz[i], wall["old " sz[i] " 2x2"] / wall["old " sz[i] " 1x1"],
      wall["new " sz[i] " 2x2"] / wall["new " sz[i] " 1x1"]
  printf "\n"
}' "$tmp/runs"
