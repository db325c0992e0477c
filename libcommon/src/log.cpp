// spdlog, configured once: stderr for people ("qc-lock: message"), rotating files for
// supervisors (timestamped lines; rotation happens between lines, never inside one).
#include "qc/log.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace qc::log {
namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_pattern("qc: %v");
    return std::make_shared<spdlog::logger>("qc", sink);
  }();
  return instance;
}

}  // namespace

void init(std::string_view tool, bool verbose) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_pattern(std::string(tool) + ": %v");
  auto instance = std::make_shared<spdlog::logger>(std::string(tool), sink);
  instance->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  instance->flush_on(spdlog::level::trace);
  logger() = instance;
}

bool add_file(const std::string& path, std::size_t max_bytes, std::size_t max_files) {
  try {
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(path, max_bytes, max_files);
    sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
    logger()->sinks().push_back(sink);
    return true;
  } catch (const spdlog::spdlog_ex& e) {
    logger()->error("cannot open log file {}: {}", path, e.what());
    return false;
  }
}

void write_error(std::string_view message) { logger()->error("{}", message); }
void write_warn(std::string_view message) { logger()->warn("warning: {}", message); }
void write_info(std::string_view message) { logger()->info("{}", message); }
void write_debug(std::string_view message) { logger()->debug("{}", message); }
bool debug_enabled() { return logger()->should_log(spdlog::level::debug); }

}  // namespace qc::log
