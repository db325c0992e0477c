// qc-lock: run a command while holding a name (docs/qc-lock.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qc::lock_tool {

enum class Mode { kRun, kCheck, kList, kClearStale, kClearAll };

struct Options {
  Mode mode = Mode::kRun;
  std::string name;
  std::vector<std::string> command;
  std::optional<std::string> account;
  double wait_s = 0;
  int conflict_exit_code = 75;
  std::optional<std::string> lock_dir;
  bool json = false;
  bool tsv = false;
  bool yes = false;
  // When COMMAND exits and descendants of it still run: stop them (SIGTERM, then SIGKILL
  // after stop_timeout_s) instead of keeping the name until they exit.
  bool kill_descendants = false;
  double stop_timeout_s = 10;
};

int run(const Options& options);

}  // namespace qc::lock_tool
