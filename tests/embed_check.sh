#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# embed_check.sh SOURCE: the project in tests/consumer embeds mproc by
# add_subdirectory, then by FetchContent of a tarball of the source tree,
# each configured with no pkg-config at all (so no Check) and built; its
# programs, linked to mproc::mproc and mproc::mproc_static, must run.
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL
jobs=${JOBS:-2}

tar -C "$src" --exclude=./.git --exclude='./build*' -czf "$tmp/mproc.tar.gz" .
for how in subdir fetch; do
    b="$tmp/$how"
    cmake -S "$src/tests/consumer" -B "$b" -DMPROC_HOW=$how -DMPROC_SOURCE="$src" \
        -DMPROC_URL="file://$tmp/mproc.tar.gz" -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
        -DCMAKE_BUILD_TYPE=Release >"$tmp/log" 2>&1 || { cat "$tmp/log"; echo "embed: $how: configure failed"; exit 1; }
    cmake --build "$b" -j"$jobs" >"$tmp/log" 2>&1 || { cat "$tmp/log"; echo "embed: $how: build failed"; exit 1; }
    if grep -q 'warning:' "$tmp/log"; then
        grep 'warning:' "$tmp/log"
        echo "embed: $how: warnings"
        exit 1
    fi
    for p in prog_shared prog_static; do
        out=$("$b/$p") || { echo "embed: $how: $p failed"; exit 1; }
        [ "$out" = "mproc $(sed -n 's/^project(mproc VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt") MPROC_EWORKER" ] ||
            { echo "embed: $how: $p printed '$out'"; exit 1; }
    done
    readelf -d "$b/prog_shared" | grep -q 'NEEDED.*libmproc\.so' || { echo "embed: $how: prog_shared not linked to libmproc.so"; exit 1; }
    if readelf -d "$b/prog_static" | grep -q 'NEEDED.*libmproc'; then
        echo "embed: $how: prog_static linked to the shared library"; exit 1
    fi
    [ -x "$b/mproc/mproc" ] || [ -x "$b/_deps/mproc-build/mproc" ] || { echo "embed: $how: no tool built"; exit 1; }
done
echo "embed: add_subdirectory and FetchContent passed"
