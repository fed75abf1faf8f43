#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# sem.sh BUILD_DIR: `mproc sem` against GNU's sem.
#   10 x `sem --fg true`: the cost of one call (start, take, run, give back);
#   a holder killed with SIGKILL: how soon a caller already waiting runs.
# One table, with ratios.
set -eu
build=${1:-build}
[ -x "$build/mproc" ] || { echo "sem.sh: no $build/mproc (build first)" >&2; exit 1; }
mproc="$(cd "$build" && pwd)/mproc"
tmp=$(mktemp -d)
jobs_left=""
cleanup() {
    for p in $jobs_left; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
export HOME="$tmp" # GNU's sem keeps its locks under ~/.parallel
mkdir -p "$tmp/.parallel" && : > "$tmp/.parallel/will-cite"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.4f", b - a }'; }

# calls SEM...: the wall time of 10 foreground calls in a row.
calls() {
    t0=$(now)
    i=0
    while [ $i -lt 10 ]; do "$@" --fg --id bench-calls true; i=$((i + 1)); done
    since "$t0"
}

# after_kill SEM...: a holder runs a command that records its PID and its
# holder's; a second caller waits for the unit; the holder is killed; the
# time until the second caller is done.
after_kill() {
    rm -f "$tmp/ids"
    "$@" --id bench-kill 'echo $PPID $$ > ids.new; mv ids.new ids; exec sleep 100' \
        > /dev/null 2>&1
    n=0
    while [ ! -s "$tmp/ids" ]; do
        n=$((n + 1))
        [ $n -lt 1000 ] || { echo "sem.sh: the holder never started" >&2; exit 1; }
        sleep 0.01
    done
    read -r holder job < "$tmp/ids"
    jobs_left="$jobs_left $job"
    "$@" --fg --id bench-kill true &
    waiter=$!
    sleep 1 # the waiter is waiting by now
    t0=$(now)
    kill -9 "$holder"
    wait "$waiter"
    since "$t0"
    kill "$job" 2>/dev/null || true # GNU's command outlives its holder
}

cd "$tmp"
have_gnu=false
command -v sem >/dev/null 2>&1 && [ "$(command -v sem)" != "$mproc" ] && have_gnu=true

mc=$(calls "$mproc" sem)
mk=$(after_kill "$mproc" sem)
gc="" gk=""
if $have_gnu; then
    gc=$(calls sem)
    gk=$(after_kill sem)
fi

row() { # WORKLOAD TOOL SECONDS OURS
    awk -v w="$1" -v tool="$2" -v s="$3" -v ours="$4" 'BEGIN {
        printf "%-26s %-10s %9.3f %12.1fx\n", w, tool, s, s / ours }'
}
echo "mproc sem against GNU's sem; the last column is their time over mproc's"
printf "%-26s %-10s %9s %13s\n" workload tool seconds "mproc faster"
row "10 x sem --fg true" "mproc sem" "$mc" "$mc"
$have_gnu && row "" "GNU sem" "$gc" "$mc"
row "next caller after SIGKILL" "mproc sem" "$mk" "$mk"
$have_gnu && row "" "GNU sem" "$gk" "$mk"
exit 0
