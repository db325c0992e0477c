// qc-run: supervise one command (docs/tools.md).
#pragma once

#include <optional>
#include <string>

#include "qc/program_supervisor.hpp"

namespace qc::run_tool {

struct Options {
  ProgramSpec program;  // name, command, account, restart policy, stop timeout
  std::optional<std::string> lock_dir;
  std::optional<std::string> log_dir;
  std::size_t log_max_bytes = 10 * 1024 * 1024;
  std::size_t log_files = 5;
  int conflict_exit_code = 75;
  bool json = false;
};

int run(const Options& options);

}  // namespace qc::run_tool
