// MASTER_CONFIG.json's LAUNCH section (docs/tools.md) turned into a launch plan: programs in start
// order, placeholders expanded, paths resolved, every value checked.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "qc/engine_runner.hpp"
#include "qc/probe.hpp"
#include "qc/program_supervisor.hpp"

namespace qc::launch {

using qc::ReadySpec;  // qc/probe.hpp

using qc::HealthSpec;  // qc/engine_runner.hpp

// A program as the runner supervises it, and the ACCOUNTS key it was made for (for_each),
// else empty.
struct PlannedProgram : SupervisedProgram {
  std::string account_key;
};

struct LaunchPlan {
  std::string config_path;
  std::string name = "MASTER_LAUNCH";  // the orchestrator's own lock
  std::string lock_dir;
  std::optional<std::string> log_dir;
  std::vector<PlannedProgram> programs;
  std::vector<std::string> on_event;  // the alert command (docs/events.md), empty: none
  std::optional<FleetOptions> fleet;  // LAUNCH.fleet (docs/fleet.md): every program's name across hosts
};

// Why a config cannot be used, with the exit code that says so: 66 missing file, 78 invalid
// configuration, 64 a bad --accounts argument.
struct ConfigFailure {
  int exit_code;
  std::string message;
};

struct LoadOptions {
  std::vector<std::string> accounts;  // --accounts: only these (default: every enabled one)
  std::optional<std::string> lock_dir;  // --lock-dir, overriding the config
  std::optional<std::string> log_dir;   // --log-dir, overriding the config
};

std::variant<LaunchPlan, ConfigFailure> load_launch_plan(const std::string& path,
                                                         const LoadOptions& options);

// The same from text already read (`path` names it in messages and anchors relative paths).
std::variant<LaunchPlan, ConfigFailure> parse_launch_plan(const std::string& text,
                                                          const std::string& path,
                                                          const LoadOptions& options);

// Where a running orchestrator of this config keeps its lock, read as leniently as possible
// (only LAUNCH.name and LAUNCH.lock_dir, defaults for what is missing or unreadable), so that
// `qc-launch --reload` finds the orchestrator even when the config it is asked to reload is
// broken.
struct OrchestratorAddress {
  std::string lock_dir;
  std::string name = "MASTER_LAUNCH";
};
OrchestratorAddress orchestrator_address(const std::string& path, const LoadOptions& options);

}  // namespace qc::launch
