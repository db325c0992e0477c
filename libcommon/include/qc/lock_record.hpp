// The lock file's contents (docs/lock-file.md): qc's format, and process_lock.py's legacy one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qc/process.hpp"

namespace qc {

struct LockRecord {
  std::string name;
  Pid pid = 0;
  std::optional<std::string> account;
  std::string timestamp;  // when the lock was taken, ISO 8601
  std::string host;
  int version = 1;
  StartToken pid_start = 0;
  std::optional<Pid> child_pid;
  std::optional<StartToken> child_start;
  std::vector<std::string> command;
  std::string tool;
  int restarts = 0;
  // What the supervisor says of the program: running, restarting (waiting out a backoff),
  // failed (given up; the name stays held), stopping, standby. Empty in older files.
  std::string state;
  std::optional<std::string> run_started;  // when the current run started, ISO 8601
  std::optional<int> last_status;          // the last run's exit status (128+N: signal N)
  std::optional<std::string> control;      // the orchestrator's control endpoint
  std::optional<std::int64_t> fencing_token;

  bool legacy = false;  // read from a process_lock.py file: only the first five keys are real

  ProcessId holder() const { return {pid, pid_start}; }
  std::optional<ProcessId> child() const;
};

// The record a tool writes for a lock it takes for itself: this process as the holder, now,
// this host.
LockRecord own_lock_record(const std::string& name, const std::string& tool,
                           const std::vector<std::string>& command,
                           const std::optional<std::string>& account);

// One JSON object and a newline, keys in docs/lock-file.md's order.
std::string serialize_lock_record(const LockRecord& record);

// A qc or legacy record, or nullopt for anything unreadable: empty, truncated, not JSON,
// not an object, or without an integer "pid". Never throws.
std::optional<LockRecord> parse_lock_record(std::string_view text);

// Whether a legacy (process_lock.py) record's holder still runs: the old module's own rule
// (the PID runs and its name contains "python"), and the process started before the file
// says the lock was taken, so a python that got the PID later is never taken for it. The one
// place this is decided; every tool asks here.
bool is_live_legacy_holder(const LockRecord& record);

// "PID 123 (sleep 20), PID 456 (python BRAIN.py)": processes as messages name them.
std::string describe_processes(const std::vector<ProcessInfo>& processes);

// "python BRAIN_ATLAS.py" (arguments that need it are quoted).
std::string join_command(const std::vector<std::string>& command);

}  // namespace qc
