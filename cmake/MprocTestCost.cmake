# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# mproc_test_costs(NAME:COST ...): the ctest COST of each named test of the
# calling directory that exists (the others are left alone).
#
# ctest -j starts the tests of highest COST first. A clean build has no
# record of earlier runs, so without these the longest tests (tens of
# seconds each: GNU parallel's own runs, sleeps, the model checker, the MPI
# jobs) would start in the order they are declared, some of them last, and
# the run would end with one of them alone on the machine. Each cost is
# about its seconds in the slowest of the CI's builds.
function(mproc_test_costs)
  foreach(tc ${ARGN})
    string(REPLACE ":" ";" pair ${tc})
    list(GET pair 0 name)
    list(GET pair 1 cost)
    if(TEST ${name})
      set_tests_properties(${name} PROPERTIES COST ${cost})
    endif()
  endforeach()
endfunction()
