// qc-lock: run a command while holding a name (docs/tools.md).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "qc/fleet_hold.hpp"

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
  FleetOptions fleet;  // --etcd or $QC_ETCD_ENDPOINTS and the rest (docs/fleet.md)
};

int run(const Options& options);

// qc-lock stays a static binary free of libcurl: an invocation with a fleet is handed over
// to qc-lock-fleet, beside it, before anything is taken (fleet_handoff.cpp); qc-lock-fleet,
// the same tool linked with the fleet, goes on (fleet_here.cpp).
void hand_fleet_over(char** argv);

}  // namespace qc::lock_tool
