# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# MprocDocs.cmake: the man pages, in ${PROJECT_BINARY_DIR}/man: mproc(1) and
# the map mproc(3) from docs/, and one page per documented function (or
# group documented together) generated from the public headers' comments,
# with a .so link for every other function of a group.
configure_file(${PROJECT_SOURCE_DIR}/docs/mproc.1 ${PROJECT_BINARY_DIR}/man/man1/mproc.1 @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/docs/mproc.3 ${PROJECT_BINARY_DIR}/man/man3/mproc.3 @ONLY)

list(TRANSFORM MPROC_PUBLIC_HEADERS PREPEND ${PROJECT_SOURCE_DIR}/ OUTPUT_VARIABLE headers)
if(MPROC_BUILD_MAN)
  find_package(Python3 COMPONENTS Interpreter)
  if(NOT Python3_Interpreter_FOUND)
    message(WARNING "mproc: no python3, so no man pages per function (MPROC_BUILD_MAN=OFF to silence)")
  else()
    # Reproducible: string(TIMESTAMP) honours SOURCE_DATE_EPOCH.
    string(TIMESTAMP MPROC_MAN_DATE "%Y-%m-%d" UTC)
    # Outside man/, which is installed as it is.
    set(stamp ${PROJECT_BINARY_DIR}/mproc_man3.stamp)
    add_custom_command(OUTPUT ${stamp}
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/mkman
        --version ${PROJECT_VERSION} --date ${MPROC_MAN_DATE}
        --out ${PROJECT_BINARY_DIR}/man/man3 --root ${PROJECT_SOURCE_DIR}/include
        ${headers}
      COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
      DEPENDS ${PROJECT_SOURCE_DIR}/scripts/mkman ${headers}
      COMMENT "Man pages from the headers"
      VERBATIM)
    add_custom_target(mproc_man ALL DEPENDS ${stamp})
  endif()
endif()
