# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# queue_boost.cmake: the Boost.Interprocess peer of bench/queue.c, built only
# where a C++ compiler and Boost's headers are found (C++ is enabled for it
# alone); bench/queue.c then runs it. It goes to bench-peers/, not bench/,
# so that `make bench` does not run it as a benchmark of its own.
include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER AND TARGET bench_queue)
  enable_language(CXX)
  include(CheckIncludeFileCXX)
  check_include_file_cxx(boost/interprocess/ipc/message_queue.hpp MPROC_HAVE_BOOST_IPC)
  if(MPROC_HAVE_BOOST_IPC)
    add_executable(bench_queue_boost ${CMAKE_CURRENT_LIST_DIR}/queue_boost.cpp)
    set_target_properties(bench_queue_boost PROPERTIES OUTPUT_NAME queue_boost
      CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench-peers)
    # The project's C warnings, less the one C++ does not know.
    get_target_property(opts bench_queue_boost COMPILE_OPTIONS)
    list(REMOVE_ITEM opts -Wstrict-prototypes)
    set_target_properties(bench_queue_boost PROPERTIES COMPILE_OPTIONS "${opts}")
    target_link_libraries(bench_queue_boost PRIVATE Threads::Threads rt)
    target_compile_definitions(bench_queue PRIVATE
      MPROC_BOOST_PEER="$<TARGET_FILE:bench_queue_boost>")
    add_dependencies(bench_queue bench_queue_boost)
  endif()
endif()
