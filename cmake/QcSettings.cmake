# Interface targets that carry qc's compile settings, so every target opts in by linking one.
add_library(qc_settings INTERFACE)
target_compile_features(qc_settings INTERFACE cxx_std_17)
target_compile_definitions(qc_settings INTERFACE QC_VERSION="${PROJECT_VERSION}")
if(MSVC)
  target_compile_options(qc_settings INTERFACE /W4 /utf-8 $<$<BOOL:${QC_WERROR}>:/WX>)
else()
  target_compile_options(qc_settings INTERFACE -Wall -Wextra $<$<BOOL:${QC_WERROR}>:-Werror>)
endif()

if(QC_SANITIZE)
  target_compile_options(qc_settings INTERFACE -fsanitize=${QC_SANITIZE} -fno-omit-frame-pointer
                                               -fno-sanitize-recover=all)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's flow analysis under sanitizers flags libstdc++'s own <regex> and <functional>.
    target_compile_options(qc_settings INTERFACE -Wno-maybe-uninitialized)
  endif()
  target_link_options(qc_settings INTERFACE -fsanitize=${QC_SANITIZE})
endif()

if(WIN32)
  # Windows: target Windows 10 APIs.
  target_compile_definitions(qc_settings INTERFACE _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX
                                                   UNICODE _UNICODE)
endif()
if(WIN32 AND MINGW)
  # Static executables need only system DLLs.
  target_link_options(qc_settings INTERFACE -static)
endif()
