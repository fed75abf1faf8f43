# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# MprocInstall.cmake: what `make install` / `cmake --install` puts where.
install(TARGETS mproc_shared mproc_static EXPORT mprocTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(MPROC_BUILD_TOOL)
  install(TARGETS mproc_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/scripts/mproc.bash-completion
    DESTINATION ${MPROC_BASH_COMPLETION_DIR} RENAME mproc)
endif()
foreach(h ${MPROC_PUBLIC_HEADERS})
  get_filename_component(dir ${h} DIRECTORY)
  string(REGEX REPLACE "^include/?" "" dir "${dir}")
  install(FILES ${PROJECT_SOURCE_DIR}/${h} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir})
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/include/mproc/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mproc)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
  ${PROJECT_SOURCE_DIR}/CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR})

# pkg-config: written at install time, so that the prefix in them is the one
# installed to (make install PREFIX=..., cmake --install --prefix), not the
# one the build was first configured with. mproc.pc links the shared library
# (--static adds Libs.private); mproc-static.pc links libmproc.a, whatever
# else lies beside it. Libs.private: only what a static link needs.
set(MPROC_PC_LIBS_PRIVATE "-pthread")
if(MPROC_RT_LIB)
  string(APPEND MPROC_PC_LIBS_PRIVATE " -lrt")
endif()
if(MPROC_M_LIB)
  string(APPEND MPROC_PC_LIBS_PRIVATE " -lm")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(MPROC_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(MPROC_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(MPROC_PC_PREFIX "@MPROC_INSTALL_PREFIX@")  # filled in at install time
foreach(pc mproc mproc-static)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/pc/${pc}.pc.in @ONLY)
  install(CODE "
    set(MPROC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${PROJECT_BINARY_DIR}/pc/${pc}.pc.in\" \"${PROJECT_BINARY_DIR}/pc/${pc}.pc\" @ONLY)")
  install(FILES ${PROJECT_BINARY_DIR}/pc/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# CMake: find_package(mproc) gives mproc::mproc and mproc::mproc_static,
# relocatable (paths relative to the package's own folder).
install(EXPORT mprocTargets NAMESPACE mproc:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mproc)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mprocConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mprocConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mproc)
# Before 1.0 only the same minor is compatible (the ABI policy).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_mproc_compat SameMinorVersion)
else()
  set(_mproc_compat SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  COMPATIBILITY ${_mproc_compat})
install(FILES ${PROJECT_BINARY_DIR}/mprocConfig.cmake ${PROJECT_BINARY_DIR}/mprocConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mproc)
