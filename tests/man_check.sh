#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# man_check.sh MANDIR LIBRARY: every function libmproc exports has a page
# (a page of its own or a .so link), and every page renders with no warning
# from man --warnings (groff's).
set -eu
man=$1
lib=$2
cd "$man"
fail=0
for f in $(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^mproc_[^_]/ {print $3}'); do
    [ -f "man3/$f.3" ] || { echo "man: $f has no page (document it in its header)"; fail=1; }
done
pages=0
for p in man1/*.1 man3/*.3; do
    pages=$((pages + 1))
    out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null) || {
        echo "man: $p: man failed: $out"; fail=1; continue; }
    [ -z "$out" ] || { echo "man: $p: $out"; fail=1; }
    grep -q '^\.TH .*"mproc [0-9]' "$p" || head -n1 "$p" | grep -q '^\.so ' ||
        { echo "man: $p: no version in .TH"; fail=1; }
done
echo "man: $pages pages checked"
exit $fail
