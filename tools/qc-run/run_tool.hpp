// qc-run: supervise one command (docs/tools.md).
#pragma once

#include <optional>
#include <string>

#include "qc/fleet_hold.hpp"
#include "qc/probe.hpp"
#include "qc/program_supervisor.hpp"

namespace qc::run_tool {

struct Options {
  ProgramSpec program;  // name, command, account, restart policy, stop timeout and signal
  bool stop_signal_given = false;  // --stop-signal: stops send it, not the signal qc-run got
  std::optional<std::string> lock_dir;
  std::optional<std::string> log_dir;
  std::size_t log_max_bytes = 10 * 1024 * 1024;
  std::size_t log_files = 5;
  int conflict_exit_code = 75;
  bool json = false;
  std::optional<std::string> on_event;  // --on-event: the alert command (docs/events.md)
  ReadySpec health;                     // --health-heartbeat / --health-tcp; kNone: no checks
  double health_interval_s = 10;
  int health_failures = 3;
  double wait_s = 0;   // -w: wait this long for the name (here, then in the fleet)
  FleetOptions fleet;  // --etcd or $QC_ETCD_ENDPOINTS and the rest (docs/fleet.md)
};

int run(const Options& options);

}  // namespace qc::run_tool
