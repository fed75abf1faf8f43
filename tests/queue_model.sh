#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# queue_model.sh MODEL: check the queue's wake-up protocol (tests/queue.pml)
# with spin: the old rule must yield a counterexample (a getter asleep for
# ever beside a message), the rule in src/queue.c must verify. Skipped (77)
# without spin or a C compiler.
set -eu
model=$1
command -v spin >/dev/null 2>&1 || { echo "queue_model: spin not installed"; exit 77; }
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "queue_model: no C compiler"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$model" "$tmp/queue.pml"
cd "$tmp"

# run RULE: the verifier's report for that rule.
run() {
    rm -f pan pan.* ./*.trail
    spin -a -DRULE="$1" queue.pml >/dev/null
    "$cc" -O2 -DSAFETY -DCOLLAPSE -w -o pan pan.c
    ./pan -m100000 > "report.$1" 2>&1 || true
    cat "report.$1"
}

old=$(run 0)
echo "$old" | grep -q "assertion violated" && echo "$old" | grep -q "errors: [1-9]" || {
    echo "queue_model: the old rule should lose a wake-up, but spin found no counterexample:"
    echo "$old"
    exit 1
}
echo "old rule: counterexample found, as expected"
new=$(run 1)
echo "$new" | grep -q "errors: 0" && ! echo "$new" | grep -q "max search depth too small" || {
    echo "queue_model: the queue's rule failed verification:"
    echo "$new"
    exit 1
}
echo "$new" | grep -E "states, stored"
echo "queue's rule: verified"
