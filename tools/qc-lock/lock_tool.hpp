// qc-lock: run a command while holding a name (SPEC §4).
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
};

int run(const Options& options);

}  // namespace qc::lock_tool
