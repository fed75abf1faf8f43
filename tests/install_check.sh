#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# install_check.sh BUILD SOURCE: after the build, `make install PREFIX=` into
# one prefix and then a second, new one (the first removed), as a user who
# installs again elsewhere; then programs are built against the second copy,
# rewriting nothing: pkg-config mproc (shared), pkg-config mproc-static, and
# CMake's find_package with mproc::mproc and mproc::mproc_static. Each must
# run and be linked the way it asked.
set -eu
build=$(cd "$1" && pwd)
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR
fail() { echo "install: $*"; exit 1; }
cc=${CC:-cc} # the build's compiler (tests/CMakeLists.txt sets it; CMake reads it too)

make -s -C "$src" BUILD="$build" PREFIX="$tmp/first" install >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make install failed"; }
make -s -C "$src" BUILD="$build" PREFIX="$tmp/prefix" install >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "second make install failed"; }
rm -rf "$tmp/first"
root=$tmp/prefix
pc=$(find "$root" -name mproc.pc)
[ -n "$pc" ] || fail "no mproc.pc installed"
libdir=$(dirname "$(dirname "$pc")")
version=$(sed -n 's/^Version: //p' "$pc")

for f in include/mproc.h include/mproc/version.h include/mproc/pool.h include/mproc/ipc.h bin/mproc \
         share/man/man1/mproc.1 share/man/man3/mproc.3 share/man/man3/mproc_pool_new.3 \
         share/man/man3/mproc_queue_put.3 share/doc/mproc/LICENSE share/doc/mproc/CHANGELOG.md \
         share/bash-completion/completions/mproc; do
    [ -e "$root/$f" ] || fail "expected $f, not installed"
done
for f in libmproc.a pkgconfig/mproc-static.pc cmake/mproc/mprocConfig.cmake; do
    [ -e "$libdir/$f" ] || fail "expected $libdir/$f, not installed"
done
soname=$(objdump -p "$libdir/libmproc.so" | awk '/SONAME/ {print $2}')
want=libmproc.so.$(echo "$version" | awk -F. '$1 == 0 {print $1 "." $2; next} {print $1}')
[ "$soname" = "$want" ] || fail "expected soname $want, got '$soname'"
[ -e "$libdir/$soname" ] || fail "no $soname"

# Only the public API is exported from the shared library (and, with musl,
# the _init and _fini its crti.o, linked into every shared object, exports).
bad=$(nm -D --defined-only "$libdir/libmproc.so" | awk '$2 ~ /[TD]/ {print $3}' |
    grep -v -e '^mproc_' -e '^_init$' -e '^_fini$' || true)
[ -z "$bad" ] || fail "exported symbols outside the API: $bad"

# The .pc files name this prefix and push no linker flags onto consumers.
grep -qx "prefix=$root" "$pc" || fail "mproc.pc: expected prefix=$root, got $(grep ^prefix= "$pc")"
if grep -h '^Libs' "$pc" "$libdir/pkgconfig/mproc-static.pc" | grep -q -- '-Wl,'; then
    fail "linker flags in the .pc files: $(grep -h '^Libs' "$pc" "$libdir/pkgconfig/mproc-static.pc")"
fi

prog=$src/tests/consumer/prog.c
expect="mproc $version MPROC_EWORKER"
check_run() { # name, linked shared (yes/no)
    out=$(LD_LIBRARY_PATH="$libdir" "$tmp/$1") || fail "$1: exited $?"
    [ "$out" = "$expect" ] || fail "$1: printed '$out', expected '$expect'"
    if readelf -d "$tmp/$1" | grep -q "NEEDED.*$soname"; then linked=yes; else linked=no; fi
    [ "$linked" = "$2" ] || fail "$1: linked to $soname: $linked, expected $2"
}
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion mproc)" = "$version" ] || fail "pkg-config --modversion mproc"
# shellcheck disable=SC2046
"$cc" -o "$tmp/pc_shared" "$prog" $(pkg-config --cflags --libs mproc)
check_run pc_shared yes
# shellcheck disable=SC2046
"$cc" -o "$tmp/pc_static" "$prog" $(pkg-config --cflags --libs mproc-static)
check_run pc_static no
pkg-config --static --libs mproc | grep -q -- -pthread || fail "mproc.pc: no Libs.private"
# The headers are C++-clean too.
if command -v c++ >/dev/null 2>&1; then
    # shellcheck disable=SC2046
    c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ "$prog" $(pkg-config --cflags mproc) ||
        fail "the installed headers do not compile as C++"
fi

mkdir -p "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(prog C)
find_package(mproc $version REQUIRED)
add_executable(cm_shared $prog)
target_link_libraries(cm_shared PRIVATE mproc::mproc)
add_executable(cm_static $prog)
target_link_libraries(cm_static PRIVATE mproc::mproc_static)
set_target_properties(cm_shared cm_static PROPERTIES RUNTIME_OUTPUT_DIRECTORY $tmp)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$root" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake configure failed"; }
cmake --build "$tmp/cm/build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake build failed"; }
check_run cm_shared yes
check_run cm_static no
echo "install: 6 programs built against the second install passed"
