// qc-shutdown's plan: what to stop, how, and in which order, decided from the lock table and a
// view of the processes alone. No signal is sent and nothing is logged here: the caller
// confirms with the person, signals, waits and reports (shutdown_tool.cpp). Unit-tested with
// a fake ProcessView (tests/unit/shutdown_plan_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qc/lock_table.hpp"
#include "qc/process.hpp"

namespace qc::shutdown_tool {

// How a target is asked to stop, in the order the requests go out.
enum class Kind {
  kOrchestrator,  // qc-launch: stops its programs itself, in reverse order
  kSupervisor,    // qc-run: stops its command itself
  kProgram,       // one program of a live qc-launch: asked through a stop request
  kWrapper,       // qc-lock: passes SIGTERM on to its command
  kOrphan,        // a command whose wrapper is gone
  kLegacy,        // a process_lock.py holder
  kUnmanaged,     // --match, --config
};

// One process to wait for. `signalled` says whether we asked it directly.
struct Member {
  Member(ProcessId id_, std::string role_, bool group_, std::string name_ = "", std::string command_ = "",
         std::optional<std::string> account_ = std::nullopt)
      : id(id_), role(std::move(role_)), group(group_), name(std::move(name_)),
        command(std::move(command_)), account(std::move(account_)) {}
  ProcessId id;
  std::string role;  // "qc-launch", "qc-run", "qc-lock", "program", "command", "legacy", "holder", "unmanaged"
  bool group = false;       // a process-group leader: its group goes with it
  bool kill_group = false;  // at the deadline, kill its group too (a qc-lock leading a job)
  std::string name;         // a program's own name, command and account (else the target's)
  std::string command;
  std::optional<std::string> account;
  bool signalled = false;
  bool killed = false;
  std::string how;  // exited, terminated, killed, survived
  int kill_errno = 0;
};

struct Target {
  Kind kind;
  std::string name;
  std::optional<std::string> account;
  std::string command;
  std::optional<ProcessId> supervisor;  // kProgram: the qc-launch to ask
  std::vector<Member> members;          // members[0] is the one asked (not for kProgram)
  std::vector<std::string> lock_files;
  // kProgram: the orchestrator's control endpoint (its own lock file's "control" key) and
  // its name, when it has one: STOP goes there; otherwise a stop request by signal.
  std::optional<std::string> control;
  std::string orchestrator;
};

struct Plan {
  std::vector<Target> targets;          // in the order the requests go out
  std::vector<LockEntry> stale;         // files to remove
  std::vector<std::string> unknown;     // held by something we cannot name
  std::vector<std::string> unmatched;   // names that matched nothing
  std::vector<std::string> refusals;    // processes a record named that will not be signalled, and why
};

// What the plan needs to know about processes. The real one asks the OS (SystemProcessView).
class ProcessView {
 public:
  virtual ~ProcessView() = default;
  virtual std::optional<ProcessInfo> inspect(Pid pid, bool with_command_line) const = 0;
  // For each file, the processes that have it open (empty lists when holders cannot be seen).
  virtual std::vector<std::vector<ProcessInfo>> holding(const std::vector<std::string>& files) const = 0;
  virtual bool can_see_holders() const = 0;
  // Whether a file's OS lock is held right now.
  virtual bool held(const std::string& file) const = 0;
  virtual Pid self() const = 0;
  virtual std::int64_t uid() const = 0;
  virtual bool root() const = 0;
};

class SystemProcessView : public ProcessView {
 public:
  std::optional<ProcessInfo> inspect(Pid pid, bool with_command_line) const override;
  std::vector<std::vector<ProcessInfo>> holding(const std::vector<std::string>& files) const override;
  bool can_see_holders() const override;
  bool held(const std::string& file) const override;
  Pid self() const override;
  std::int64_t uid() const override;
  bool root() const override;
};

// The plan for the entries of `table` selected by `names` (lock names or shell wildcards;
// empty: everything held). A record is only a claim: a process it names is planned only when
// the view confirms it (docs/tools.md, qc-shutdown).
Plan plan_shutdown(const LockTable& table, const std::vector<std::string>& names, const ProcessView& view);

// Adds an unmanaged process (--match, --config) unless the plan already has it.
void add_unmanaged(Plan& plan, const std::string& name, const std::optional<std::string>& account,
                   const ProcessInfo& process);

// Puts the targets in the order the requests go out (supervisors first), stably.
void order_targets(Plan& plan);

std::size_t process_count(const Plan& plan);

}  // namespace qc::shutdown_tool
