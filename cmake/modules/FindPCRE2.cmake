# FindPCRE2: PCRE2's 8-bit library (Debian: libpcre2-dev; the Windows cross build: the
# prefix cmake/windows/build-deps.sh installs it into). Defines PCRE2::8BIT.
find_path(PCRE2_INCLUDE_DIR pcre2.h)
# The static archive first: qc-lock, qc-run, qc-ps and qc-shutdown are linked statically.
find_library(PCRE2_LIBRARY NAMES libpcre2-8.a libpcre2-8-static.a pcre2-8)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PCRE2 REQUIRED_VARS PCRE2_LIBRARY PCRE2_INCLUDE_DIR)
if(PCRE2_FOUND AND NOT TARGET PCRE2::8BIT)
  add_library(PCRE2::8BIT UNKNOWN IMPORTED)
  set_target_properties(PCRE2::8BIT PROPERTIES
    IMPORTED_LOCATION "${PCRE2_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${PCRE2_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "PCRE2_CODE_UNIT_WIDTH=8;$<$<BOOL:${WIN32}>:PCRE2_STATIC>")
endif()
mark_as_advanced(PCRE2_INCLUDE_DIR PCRE2_LIBRARY)
