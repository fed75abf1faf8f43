#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# spdx_check.sh SOURCE: every source file (C, headers, CMake, scripts, man
# pages, Promela models; git's tracked files, or the whole tree outside a
# checkout) says its licence in its first lines. Fuzz inputs are data.
set -eu
cd "$1"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files)
else
    files=$(find . -path ./build -prune -o -path './build-*' -prune -o -type f -print | sed 's|^\./||')
fi
bad=0 n=0
for f in $files; do
    [ -f "$f" ] || continue
    case "$f" in
        fuzz/corpus/*|fuzz/regress/*|*/testdata/*) continue ;;
    esac
    case "$f" in
        *.c|*.h|*.py|*.sh|*.cmake|*.in|*.pml|*.[1-9]|CMakeLists.txt|*/CMakeLists.txt|Makefile|*.bash-completion) ;;
        *) head -c 2 "$f" | grep -q '^#!' || continue ;;
    esac
    n=$((n + 1))
    if ! head -n 5 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "spdx: $f: no 'SPDX-License-Identifier: MIT' in its first lines"
        bad=$((bad + 1))
    fi
done
[ "$n" -gt 0 ] || { echo "spdx: no source files found"; exit 1; }
echo "spdx: $n files, $bad without the licence line"
[ "$bad" -eq 0 ]
