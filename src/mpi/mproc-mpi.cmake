# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# mproc::mpi for find_package(mproc): loaded by mprocConfig.cmake when
# libmproc-mpi is installed.
include(CMakeFindDependencyMacro)
find_dependency(MPI COMPONENTS C)
include("${CMAKE_CURRENT_LIST_DIR}/mprocMpiTargets.cmake")
if(NOT TARGET mproc::mpi)
  add_library(mproc::mpi ALIAS mproc::mproc_mpi_shared)
endif()
