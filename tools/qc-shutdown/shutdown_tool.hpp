// qc-shutdown: SAFE_SHUTDOWN that nothing undoes (docs/tools.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qc/fleet_hold.hpp"

namespace qc::shutdown_tool {

struct Options {
  std::vector<std::string> names;  // lock names or shell wildcards; empty: everything held
  bool yes = false;
  bool ask = false;  // ask even when stdin is not a terminal (wrappers that pipe the answer)
  bool dry_run = false;
  double timeout_s = 10;
  std::optional<std::string> match;
  std::optional<std::string> config;  // --config: every program of a MASTER_CONFIG.json as a match
  bool keep_locks = false;
  bool json = false;
  std::optional<std::string> lock_dir;
  // --fleet: stop the names fleet-wide (--release: let them run again), docs/fleet.md.
  bool fleet = false;
  bool release = false;
  FleetOptions fleet_options;
};

int run(const Options& options);
int fleet_stop(const Options& options);

}  // namespace qc::shutdown_tool
