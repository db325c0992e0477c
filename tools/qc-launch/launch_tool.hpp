// qc-launch: the orchestrator (docs/tools.md).
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace qc::launch {

struct Options {
  std::string config = "MASTER_CONFIG.json";
  LoadOptions load;
  bool dry_run = false;
  bool no_scan = false;  // skip the pre-check's scan for copies running outside qc
  bool json = false;
  double status_interval_s = 300;
  std::size_t log_max_bytes = 10 * 1024 * 1024;
  std::size_t log_files = 5;
  std::vector<std::string> invocation;  // our own argv, for the orchestrator's lock record
  char** argv = nullptr;                // the same, for qc-launch-fleet (LAUNCH.fleet)
  // A control command to a running orchestrator instead of running one (docs/control.md):
  // STATUS, START, STOP, RESTART or RELOAD, and the program it names.
  std::string control_action;
  std::string control_name;
  double control_timeout_s = 10;
};

int run(const Options& options);
// Sends options.control_action to the orchestrator of options.config: 0 done, 1 refused,
// 69 no orchestrator answers, 78 (RELOAD) the config is invalid.
int control(const Options& options);

}  // namespace qc::launch
