# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# MprocSourceCheck.cmake: the build lists its sources by name; in a top-level
# build, a file in the tree that no list names is reported (an error under
# MPROC_WERROR), so that a module, test or example added without its line is
# never silently left out of the build or the tests.

# mproc_check_listed(GLOB LISTVAR WHERE): files matching GLOB (relative to
# the project) must appear in ${LISTVAR}, which WHERE defines. Entries may
# be paths relative to the project or to the list's own folder, or bare
# names without the .c.
function(mproc_check_listed glob listvar where)
  file(GLOB found CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/${glob})
  set(missing "")
  foreach(f ${found})
    get_filename_component(dir ${f} DIRECTORY)
    get_filename_component(base ${f} NAME)
    get_filename_component(stem ${f} NAME_WE)
    if(NOT f IN_LIST ${listvar} AND NOT base IN_LIST ${listvar} AND NOT stem IN_LIST ${listvar})
      list(APPEND missing ${f})
    endif()
  endforeach()
  if(missing)
    if(MPROC_WERROR)
      set(level FATAL_ERROR)
    else()
      set(level WARNING)
    endif()
    string(REPLACE ";" " " missing "${missing}")
    message(${level} "mproc: ${missing}: not built; add it to ${listvar} in ${where}")
  endif()
endfunction()
