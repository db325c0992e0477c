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
  // Windows service (docs/install.md): --service VERB [--name N], and --as-service N, the
  // command line the service control manager runs.
  std::string service_verb;  // install, uninstall, start, stop
  std::string service_name = "qc-launch";
  bool as_service = false;
  double service_timeout_s = 120;  // how long start, stop and uninstall wait
  bool log_attached = false;       // the service attached qc-launch.log already
};

int run(const Options& options);
// Sends options.control_action to the orchestrator of options.config: 0 done, 1 refused,
// 69 no orchestrator answers, 78 (RELOAD) the config is invalid.
int control(const Options& options);
// --service VERB: 0 done; 1 the service did not get there (stopped while starting, still
// stopping at the deadline); 64 not on Windows; 66/78 CONFIG (install); 69 no such service
// or no service manager; 73 cannot install (exists; no right: an elevated prompt is needed).
int service_command(Options& options);
// --as-service: run as the service control manager's service `options.service_name`.
int serve(Options& options);

}  // namespace qc::launch
