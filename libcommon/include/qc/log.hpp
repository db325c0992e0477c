// Logging: spdlog behind a small facade, so that spdlog stays out of every header.
// Human messages go to stderr as "qc-lock: message"; log files get timestamps.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

namespace qc::log {

// Configures the stderr logger for `tool` ("qc-lock"). Call once, first thing in main.
void init(std::string_view tool, bool verbose = false);

// Adds a size-rotated log file: every later message goes there too, with a timestamp.
// Returns false (and says why on stderr) when the file cannot be opened.
bool add_file(const std::string& path, std::size_t max_bytes, std::size_t max_files);

void write_error(std::string_view message);
void write_warn(std::string_view message);
void write_info(std::string_view message);
void write_debug(std::string_view message);
bool debug_enabled();

template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  write_error(fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  write_warn(fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  write_info(fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (debug_enabled()) write_debug(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace qc::log
