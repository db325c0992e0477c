# Interface targets with the names Debian's package configs give, for the cross build:
# headers from QC_HEADER_ONLY_DIR (symlinks made by build-deps.sh), libzmq and libcurl from
# the prefix.
set(QC_HO "${QC_HEADER_ONLY_DIR}")
foreach(target nlohmann_json CLI11 spdlog_header_only fmt_header_only)
  add_library(qc_ho_${target} INTERFACE)
  target_include_directories(qc_ho_${target} SYSTEM INTERFACE "${QC_HO}")
endforeach()
add_library(nlohmann_json::nlohmann_json ALIAS qc_ho_nlohmann_json)
add_library(CLI11::CLI11 ALIAS qc_ho_CLI11)
add_library(spdlog::spdlog_header_only ALIAS qc_ho_spdlog_header_only)
add_library(fmt::fmt-header-only ALIAS qc_ho_fmt_header_only)

find_package(ZeroMQ REQUIRED CONFIG)
add_library(qc_ho_cppzmq INTERFACE)
target_include_directories(qc_ho_cppzmq SYSTEM INTERFACE "${QC_HO}")
target_link_libraries(qc_ho_cppzmq INTERFACE libzmq-static)
add_library(cppzmq ALIAS qc_ho_cppzmq)

# libcurl with Schannel (the fleet lock, docs/fleet.md): CURL::libcurl, static.
find_package(CURL REQUIRED CONFIG)
