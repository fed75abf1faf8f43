#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# install_check.sh BUILD SOURCE: `make install` into a scratch DESTDIR, then a
# program is built against the installed copy three ways: pkg-config
# (shared), pkg-config --static, and CMake's find_package. Each must run.
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=/opt/mproc-test
DESTDIR="$tmp/root" cmake --install "$build" --prefix "$prefix" >/dev/null
root="$tmp/root$prefix"
for f in include/mproc.h lib/libmproc.a lib/pkgconfig/mproc.pc bin/mproc \
         lib/cmake/mproc/mprocConfig.cmake; do
    [ -e "$root/$f" ] || { echo "install: expected $f, not installed"; exit 1; }
done
ls "$root"/lib/libmproc.so.* >/dev/null 2>&1 || { echo "install: no versioned libmproc.so"; exit 1; }
soname=$(objdump -p "$root"/lib/libmproc.so | awk '/SONAME/ {print $2}')
[ "$soname" = libmproc.so.0.2 ] || { echo "install: expected soname libmproc.so.0.2, got '$soname'"; exit 1; }

# Only the public API is exported from the shared library.
bad=$(nm -D --defined-only "$root"/lib/libmproc.so | awk '$2 ~ /[TD]/ {print $3}' | grep -v '^mproc_' || true)
[ -z "$bad" ] || { echo "install: exported symbols outside the API: $bad"; exit 1; }

cat > "$tmp/prog.c" <<'C'
#include <mproc.h>
static int seven(void *arg) { (void)arg; return 7; }
int main(void)
{
    mproc_process *p;
    int code = -1;
    if (mproc_process_new(&p, seven, 0, 0) || mproc_process_start(p) || mproc_process_join(p, -1))
        return 1;
    mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    return code == 7 ? 0 : 2;
}
C
# pkg-config reads the prefix from mproc.pc; point it at the scratch copy.
export PKG_CONFIG_PATH="$tmp/pc"
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$root|" "$root/lib/pkgconfig/mproc.pc" > "$tmp/pc/mproc.pc"
cc -o "$tmp/shared" "$tmp/prog.c" $(pkg-config --cflags --libs mproc)
LD_LIBRARY_PATH="$root/lib" "$tmp/shared"
cc -static-libgcc -o "$tmp/static" "$tmp/prog.c" $(pkg-config --cflags mproc) \
    "$root/lib/libmproc.a" $(pkg-config --static --libs-only-other --libs-only-l mproc | sed 's/-lmproc//')
"$tmp/static"

mkdir -p "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(prog C)
find_package(mproc REQUIRED)
add_executable(prog ../prog.c)
target_link_libraries(prog PRIVATE mproc::mproc)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$root" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
LD_LIBRARY_PATH="$root/lib" "$tmp/cm/build/prog"
echo "install: 1 passed, 0 failed"
