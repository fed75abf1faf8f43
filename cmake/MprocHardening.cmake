# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# MprocHardening.cmake: _FORTIFY_SOURCE and the stack protector for optimised
# builds, unless the caller's flags (a distribution's, say) already chose.
string(TOUPPER "${CMAKE_BUILD_TYPE}" _mproc_bt)
set(_mproc_flags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_mproc_bt}}")
if(NOT MPROC_SANITIZE AND _mproc_bt MATCHES "^(RELEASE|RELWITHDEBINFO|MINSIZEREL)$")
  if(NOT _mproc_flags MATCHES "_FORTIFY_SOURCE")
    # Some compilers define it themselves when optimising (Ubuntu's gcc).
    set(CMAKE_REQUIRED_FLAGS "${CMAKE_C_FLAGS_${_mproc_bt}}")
    check_c_source_compiles("
#ifdef _FORTIFY_SOURCE
#error predefined
#endif
int main(void) { return 0; }" MPROC_FORTIFY_FREE)
    unset(CMAKE_REQUIRED_FLAGS)
    if(MPROC_FORTIFY_FREE)
      add_compile_definitions(_FORTIFY_SOURCE=2)
    endif()
  endif()
  if(NOT _mproc_flags MATCHES "-f(no-)?stack-protector")
    add_compile_options(-fstack-protector-strong)
  endif()
endif()
