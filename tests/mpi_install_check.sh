#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# mpi_install_check.sh BUILD SOURCE MPIRUN: `make install` into a scratch
# DESTDIR, then a program using libmproc-mpi is built against the installed
# copy with pkg-config mproc-mpi and with CMake's mproc::mpi, and run alone
# (a local pool) and under mpirun -np 2.
set -eu
build=$1
src=$2
mpirun=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=/opt/mproc-test
DESTDIR="$tmp/root" cmake --install "$build" --prefix "$prefix" >/dev/null
root="$tmp/root$prefix"
for f in include/mproc/mpi.h lib/libmproc-mpi.a lib/pkgconfig/mproc-mpi.pc \
         lib/cmake/mproc/mproc-mpi.cmake share/man/man3/mproc_mpi_pool_new.3; do
    [ -e "$root/$f" ] || { echo "mpi install: expected $f, not installed"; exit 1; }
done
bad=$(nm -D --defined-only "$root"/lib/libmproc-mpi.so | awk '$2 ~ /[TD]/ {print $3}' | grep -v '^mproc_mpi_' || true)
[ -z "$bad" ] || { echo "mpi install: exported symbols outside the API: $bad"; exit 1; }
if nm -D "$root"/lib/libmproc.so | grep -q ' U MPI_'; then
    echo "mpi install: libmproc itself needs MPI"; exit 1
fi

cat > "$tmp/prog.c" <<'C'
#include <mproc.h>
#include <mproc/mpi.h>
#include <string.h>
static int twice(const void *arg, size_t len, mproc_out *out)
{
    int v;
    memcpy(&v, arg, sizeof v);
    v *= 2;
    (void)len;
    return mproc_out_write(out, &v, sizeof v);
}
int main(int argc, char **argv)
{
    mproc_mpi_opts o = { .pool.processes = 1, .owner_processes = -1 };
    mproc_pool *p;
    if (mproc_mpi_pool_new(&p, &o, &argc, &argv) < 0)
        return 1;
    int v = 21, *r;
    size_t n;
    int e = mproc_pool_apply(p, twice, &v, sizeof v, (void **)&r, &n);
    int ok = e == 0 && n == sizeof v && *r == 42;
    mproc_pool_free(p);
    return ok ? 0 : 2;
}
C
mkdir -p "$tmp/pc"
for pc in mproc mproc-mpi; do
    sed "s|^prefix=.*|prefix=$root|" "$root/lib/pkgconfig/$pc.pc" > "$tmp/pc/$pc.pc"
done
export PKG_CONFIG_PATH="$tmp/pc"
cc -o "$tmp/shared" "$tmp/prog.c" $(pkg-config --cflags --libs mproc-mpi)
export LD_LIBRARY_PATH="$root/lib"
"$tmp/shared"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
timeout 120 "$mpirun" --oversubscribe --bind-to none -np 2 "$tmp/shared"

mkdir -p "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(prog C)
find_package(mproc REQUIRED)
add_executable(prog ../prog.c)
target_link_libraries(prog PRIVATE mproc::mpi)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$root" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
timeout 120 "$mpirun" --oversubscribe --bind-to none -np 2 "$tmp/cm/build/prog"
# mproc run --mpi from the installed tool: its modules under <libdir>/mproc,
# found from the tool's own place; the tool itself never links MPI.
if ls "$build"/mproc-run-mpi-*.so >/dev/null 2>&1; then
    for m in "$build"/mproc-run-mpi-*.so; do
        [ -e "$root/lib/mproc/$(basename "$m")" ] ||
            { echo "mpi install: expected lib/mproc/$(basename "$m"), not installed"; exit 1; }
    done
    if nm -D "$root/bin/mproc" | grep -q ' U MPI_'; then
        echo "mpi install: the mproc tool itself needs MPI"; exit 1
    fi
    out=$(timeout 120 "$mpirun" --oversubscribe --bind-to none -np 2 "$root/bin/mproc" run --mpi \
          --mpi-no-local -k echo ::: a b)
    [ "$out" = "a
b" ] || { echo "mpi install: mproc run --mpi printed '$out'"; exit 1; }
fi
echo "mpi install: 1 passed, 0 failed"
