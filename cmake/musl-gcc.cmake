# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# musl-gcc.cmake: a toolchain file for building against musl with Debian's
# musl-gcc (package musl-tools): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/musl-gcc.cmake
#
# musl-gcc's include path holds the C library alone. The kernel's UAPI
# headers (linux/, asm/, asm-generic/), which a musl system installs beside
# the C library (Alpine's linux-headers), are taken from the host: a folder
# of links to them, and nothing else of /usr/include, goes on the path.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER musl-gcc)

execute_process(COMMAND gcc -print-multiarch OUTPUT_VARIABLE _mproc_triplet
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT _mproc_triplet)
  set(_mproc_triplet ${CMAKE_HOST_SYSTEM_PROCESSOR}-linux-gnu)
endif()
set(_mproc_kh ${CMAKE_BINARY_DIR}/musl-kernel-headers)
file(MAKE_DIRECTORY ${_mproc_kh})
foreach(_d linux asm-generic)
  if(NOT EXISTS ${_mproc_kh}/${_d})
    file(CREATE_LINK /usr/include/${_d} ${_mproc_kh}/${_d} SYMBOLIC)
  endif()
endforeach()
if(NOT EXISTS ${_mproc_kh}/asm)
  if(EXISTS /usr/include/${_mproc_triplet}/asm)
    file(CREATE_LINK /usr/include/${_mproc_triplet}/asm ${_mproc_kh}/asm SYMBOLIC)
  else()
    file(CREATE_LINK /usr/include/asm ${_mproc_kh}/asm SYMBOLIC)
  endif()
endif()
set(CMAKE_C_FLAGS_INIT "-isystem ${_mproc_kh}")

# pkg-config finds no .pc file of the host's (Debian's are for its glibc
# libraries), only those under CMAKE_PREFIX_PATH (scripts/musl-deps), unless
# the caller names a PKG_CONFIG_LIBDIR of its own.
if(NOT DEFINED ENV{PKG_CONFIG_LIBDIR})
  set(ENV{PKG_CONFIG_LIBDIR} ${CMAKE_BINARY_DIR}/musl-no-host-pkgconfig)
endif()
