// The lock directory as a table of entries: what qc-ps, qc-lock --list, qc-shutdown and
// qc-launch's pre-check all read. Reading never takes a lock.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "qc/clock.hpp"
#include "qc/lock_record.hpp"
#include "qc/process.hpp"
#include "qc/result.hpp"

namespace qc {

enum class EntryState {
  kRunning,    // held, and the wrapper in the file runs
  kOrphaned,   // held, but the wrapper is gone: its command is winding down
  kStale,      // a file that nobody holds
  kLegacy,     // a process_lock.py file whose python PID runs
  kUnmanaged,  // a process found by --scan, not under any lock
  kDuplicate,  // an unmanaged process whose script runs more than once
};
const char* state_name(EntryState state);

struct LockEntry {
  std::string name;
  EntryState state = EntryState::kStale;
  std::optional<LockRecord> record;  // nullopt: the file is unreadable (or an unmanaged row)
  std::string lock_file;             // empty for unmanaged rows
  std::optional<ProcessInfo> process;  // unmanaged rows: the process found

  bool held() const { return state == EntryState::kRunning || state == EntryState::kOrphaned; }
  // running or legacy-alive: something a supervisor must stop
  bool live() const { return held() || state == EntryState::kLegacy; }
};

// The STATE qc-ps shows: the entry's state, except that a held name whose supervisor says
// more (restarting, failed, stopping, standby) shows that.
const char* shown_state(const LockEntry& entry);

struct LockTable {
  std::vector<LockEntry> entries;   // sorted by name
  std::vector<std::string> problems;  // files that cannot be lock files (a directory, a symlink)
};

// Every <NAME>.lock in `dir` with a valid name, classified. A missing directory is an
// empty table; an unreadable one is an error.
Result<LockTable> read_lock_directory(const std::string& dir);

// The entry for one lock file (state from the OS lock, then from the contents).
Result<LockEntry> read_lock_entry(const std::string& dir, const std::string& name);

// Processes whose command line matches `pattern` (a PCRE2 regex, qc/pattern.hpp) and that are neither
// the wrapper nor the command of a held entry, nor a qc tool, nor us. Each is an unmanaged
// row; scripts seen more than once (managed copies included) become duplicates.
Result<std::vector<LockEntry>> scan_unmanaged(const std::string& pattern,
                                              const std::vector<LockEntry>& managed);

// "BRAIN_ATLAS.py --account X": what makes two processes the same program, whichever
// interpreter runs it.
std::string script_key(const std::vector<std::string>& command_line);

// For each command, the running processes that run the same program (same script_key)
// outside qc: not under any qc tool (a process with a qc-* ancestor is managed by one) and
// not this process. What qc-launch's pre-check refuses to start beside.
std::vector<std::vector<ProcessInfo>> unmanaged_copies(const std::vector<std::vector<std::string>>& commands);

enum class OutputFormat { kTable, kTsv, kJson, kPids };

// docs/tools.md's columns: NAME STATE PID CHILD ACCOUNT HOST UPTIME RESTARTS COMMAND.
void render_entries(std::ostream& out, const std::vector<LockEntry>& entries,
                    OutputFormat format, WallTime now);

}  // namespace qc
