#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# queue_model.sh MODEL: check the queue's wake-up protocol (tests/queue.pml)
# with spin: the old getters' rule, and putters registering after their last
# look, and one wake-up rule for several messages published at once, must
# each yield a counterexample (a getter asleep for ever beside a message, a
# putter beside room); the rules in src/queue.c must verify, with putters
# sleeping (a ring of one message) and without, and with copies made
# outside the locks (each either way) as well as under them. Skipped (77)
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

# run RULE PRULE CAP SPLIT [WAKEK]: the verifier's report for those rules,
# that ring, copies under the locks only (0) or either way (1), and the
# getters' rule applied once per message published (1) or once per
# publication (0).
run() {
    rm -f pan pan.* ./*.trail
    spin -a -DRULE="$1" -DPRULE="$2" -DCAP="$3" -DSPLIT="$4" -DWAKEK="${5:-1}" queue.pml >/dev/null
    "$cc" -O2 -DSAFETY -DCOLLAPSE -w -o pan pan.c
    ./pan -m100000 > report 2>&1 || true
    cat report
}

# must_fail WHAT RULE PRULE CAP SPLIT [WAKEK]
must_fail() {
    what=$1
    shift
    r=$(run "$@")
    echo "$r" | grep -q "assertion violated" && echo "$r" | grep -q "errors: [1-9]" || {
        echo "queue_model: $what should lose a wake-up, but spin found no counterexample:"
        echo "$r"
        exit 1
    }
    echo "$what: counterexample found, as expected"
}

# must_verify WHAT RULE PRULE CAP SPLIT [WAKEK]
must_verify() {
    what=$1
    shift
    r=$(run "$@")
    echo "$r" | grep -q "errors: 0" && ! echo "$r" | grep -q "max search depth too small" || {
        echo "queue_model: $what failed verification:"
        echo "$r"
        exit 1
    }
    echo "$r" | grep -E "states, stored"
    echo "$what: verified"
}

must_fail "the old getters' rule" 0 1 2 0
must_fail "the old getters' rule, copies outside the locks" 0 1 2 1
must_fail "putters registering after the last look" 1 0 1 1
must_fail "one getters' rule for several messages published at once" 1 1 2 1 0
must_verify "the queue's rules, copies under the locks" 1 1 2 0
must_verify "the queue's rules" 1 1 2 1
must_verify "the queue's rules, putters asleep" 1 1 1 1
