// qc-shutdown: find what runs (lock files, and with --match the process table), ask the
// supervisors first so that nothing is restarted, ask everything else in the same breath,
// wait for all of it against one deadline, kill what remains, remove the lock files of what
// is gone. A PID is only ever signalled together with its start time (through a pidfd).
#include "shutdown_tool.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <utility>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "qc/exit_codes.hpp"
#include "qc/lock.hpp"
#include "qc/lock_table.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "qc/spawn.hpp"
#include "qc/text.hpp"

namespace qc::shutdown_tool {
namespace {

// How a target is asked to stop, in the order the requests go out.
enum class Kind {
  kOrchestrator,  // qc-launch: stops its programs itself, in reverse order
  kSupervisor,    // qc-run: stops its command itself
  kProgram,       // one program of a live qc-launch: asked through a stop request
  kWrapper,       // qc-lock: passes SIGTERM on to its command
  kOrphan,        // a command whose wrapper is gone
  kLegacy,        // a process_lock.py holder
  kUnmanaged,     // --match
};

// One process to wait for. `signalled` says whether we asked it directly.
struct Member {
  Member(ProcessId id_, std::string role_, bool group_, std::string name_ = "", std::string command_ = "",
         std::optional<std::string> account_ = std::nullopt)
      : id(id_), role(std::move(role_)), group(group_), name(std::move(name_)),
        command(std::move(command_)), account(std::move(account_)) {}
  ProcessId id;
  std::string role;  // "qc-launch", "qc-run", "qc-lock", "program", "command", "legacy", "unmanaged"
  bool group = false;  // a process-group leader: its group goes with it
  bool kill_group = false;  // at the deadline, kill its group too (a qc-lock leading a job)
  std::string name;     // a program's own name, command and account (else the target's)
  std::string command;
  std::optional<std::string> account;
  bool signalled = false;
  bool killed = false;
  std::string how;     // exited, terminated, killed, survived
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
};

bool selected(const std::vector<std::string>& globs, const std::string& name) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const auto& g) { return glob_match(g, name); });
}

std::optional<ProcessId> running_child(const LockRecord& r) {
  auto child = r.child();
  if (child && is_running(*child)) return child;
  return std::nullopt;
}

bool is_group_leader_tool(const std::string& tool) { return tool == "qc-run" || tool == "qc-launch"; }

// The qc-launch process's own lock is the one whose recorded command is its own command line.
bool is_own_lock(const LockEntry* e) {
  auto info = inspect_process(e->record->pid, true);
  return info && info->command_line == e->record->command;
}

// What holds each lock file, by PID, found by the open file itself (docs/qc-shutdown.md).
using Holders = std::vector<std::vector<ProcessInfo>>;

bool holds(const std::vector<ProcessInfo>& holders, Pid pid) {
  return std::any_of(holders.begin(), holders.end(), [pid](const ProcessInfo& p) { return p.pid == pid; });
}

struct Plan {
  std::vector<Target> targets;
  std::vector<LockEntry> stale;        // files to remove
  std::vector<std::string> unknown;    // held by something we cannot name
  std::vector<std::string> unmatched;  // names that matched nothing
};

// A record is only a claim: anyone who can write the lock directory can name any PID in it.
// A process is signalled only when the OS confirms it: it has the lock file open (Linux
// /proc/PID/fd), or it is the recorded command and a child of a confirmed wrapper (a command
// may close the inherited descriptor), or it is a legacy holder by is_live_legacy_holder.
// Never PID 1 or ourselves, and never another user's process unless we are root. Processes
// that hold a planned lock file but are in no record (a launcher's leftover, a double-forked
// daemon, the holder of an unreadable record) join the plan: they hold the name.
void confirm_holders(Plan& plan) {
  std::vector<std::string> files;
  for (const auto& t : plan.targets) files.insert(files.end(), t.lock_files.begin(), t.lock_files.end());
  if (files.empty() || !can_see_file_holders()) {
    for (auto& t : plan.targets) {
      if (t.kind == Kind::kOrphan && t.members.empty()) plan.unknown.push_back(t.name);
    }
    plan.targets.erase(std::remove_if(plan.targets.begin(), plan.targets.end(),
                                      [](const Target& t) { return t.kind == Kind::kOrphan && t.members.empty(); }),
                       plan.targets.end());
    return;
  }
  const Holders held = processes_holding(files);
  const Pid self = current_process().pid;
  std::size_t next_file = 0;
  std::vector<Target> kept;
  for (auto& t : plan.targets) {
    std::vector<ProcessInfo> holding;
    std::vector<std::string> held_name;  // the name whose file each holder has open
    for (std::size_t i = 0; i < t.lock_files.size(); ++i) {
      const auto& h = held[next_file++];
      holding.insert(holding.end(), h.begin(), h.end());
      std::string name = std::filesystem::path(t.lock_files[i]).filename().string();
      name.resize(name.size() - std::char_traits<char>::length(kLockSuffix));
      held_name.insert(held_name.end(), h.size(), name);
    }
    // The supervisor asked to stop one program must hold that program's lock.
    if (t.kind == Kind::kProgram && !holds(holding, t.supervisor->pid)) {
      log::warn("not asking PID {} to stop {}: it does not hold {} (a forged or outdated record)",
                t.supervisor->pid, t.name, t.lock_files.front());
      t.kind = Kind::kOrphan;  // whatever really holds it is found below
      t.supervisor.reset();
      t.members.clear();
    }
    // A wrapper that holds the lock vouches for its recorded command, which may have closed
    // its copy of the descriptor.
    std::optional<Pid> wrapper;
    if (t.kind == Kind::kProgram) {
      wrapper = t.supervisor->pid;
    } else if (!t.members.empty() && t.members[0].role != "legacy" && holds(holding, t.members[0].id.pid)) {
      wrapper = t.members[0].id.pid;
    }
    std::vector<Member> confirmed;
    for (auto& m : t.members) {
      const auto info = inspect_process(m.id.pid);
      if (!info || !info->running || info->start != m.id.start) continue;  // gone already
      std::string refusal;
      if (m.id.pid <= 1 || m.id.pid == self) {
        refusal = "it is PID 1 or qc-shutdown itself";
      } else if (!running_as_root() && info->uid >= 0 && info->uid != current_uid()) {
        refusal = "it belongs to another user (uid " + std::to_string(info->uid) + ")";
      } else if (m.role == "legacy") {
        // confirmed by is_live_legacy_holder when the table was read
      } else if (!holds(holding, m.id.pid) && !(wrapper && info->parent == *wrapper)) {
        refusal = "it does not hold " + t.lock_files.front() + " (a forged or outdated record)";
      }
      if (!refusal.empty()) {
        log::warn("not stopping PID {} named by {}: {}", m.id.pid, t.name, refusal);
        continue;
      }
      confirmed.push_back(std::move(m));
    }
    t.members = std::move(confirmed);
    // Process groups that go with a member already: a holder inside one needs no request.
    std::vector<Pid> covered_groups;
    for (const auto& m : t.members) {
      if (m.group) covered_groups.push_back(m.id.pid);
      if (m.kill_group) {
        if (auto info = inspect_process(m.id.pid)) covered_groups.push_back(info->group);
      }
    }
    for (std::size_t i = 0; i < holding.size(); ++i) {  // holders in no record
      const ProcessInfo& h = holding[i];
      const bool known = std::any_of(t.members.begin(), t.members.end(),
                                     [&](const Member& m) { return m.id.pid == h.pid; }) ||
                         (t.supervisor && t.supervisor->pid == h.pid);
      const bool covered = std::find(covered_groups.begin(), covered_groups.end(), h.group) != covered_groups.end();
      const bool refused = h.pid <= 1 || h.pid == self ||
                           (!running_as_root() && h.uid >= 0 && h.uid != current_uid());
      if (known || covered || refused) continue;
      t.members.push_back({ProcessId{h.pid, h.start}, "holder", false, held_name[i],
                           h.command_line.empty() ? h.name : join_command(h.command_line)});
    }
    if (t.members.empty() && t.kind != Kind::kProgram) {
      // Whatever held it has exited since the table was read: a stale file now, or a holder
      // we cannot see (another user's process, as a non-root user).
      for (const auto& file : t.lock_files) {
        auto probe = probe_lock(file);
        if (probe && *probe == LockProbe::kHeld) {
          plan.unknown.push_back(t.name);
        } else {
          LockEntry gone;
          gone.name = t.name;
          gone.lock_file = file;
          plan.stale.push_back(std::move(gone));
        }
      }
      continue;
    }
    kept.push_back(std::move(t));
  }
  plan.targets = std::move(kept);
}

Result<Plan> make_plan(const Options& o, const std::string& dir) {
  auto table = read_lock_directory(dir);
  if (!table) return table.error();
  for (const auto& problem : table->problems) log::warn("{}", problem);
  Plan plan;
  for (const auto& glob : o.names) {
    const bool any = std::any_of(table->entries.begin(), table->entries.end(),
                                 [&](const LockEntry& e) { return glob_match(glob, e.name); });
    if (!any) plan.unmatched.push_back(glob);
  }

  // Group the held entries by the live wrapper holding them.
  struct Holder {
    LockRecord record;
    std::vector<const LockEntry*> entries;
  };
  std::vector<Holder> holders;
  for (const auto& e : table->entries) {
    if (!selected(o.names, e.name) && e.state != EntryState::kRunning) {
      continue;  // a wrapper's other names are looked at below
    }
    switch (e.state) {
      case EntryState::kStale:
        plan.stale.push_back(e);
        break;
      case EntryState::kLegacy: {
        Target t{Kind::kLegacy, e.name, e.record->account, "", {}, {}, {e.lock_file}};
        t.members.push_back({ProcessId{e.record->pid, 0}, "legacy", false});
        if (auto info = inspect_process(e.record->pid, true)) {
          t.members[0].id.start = info->start;
          t.command = join_command(info->command_line);
        }
        plan.targets.push_back(std::move(t));
        break;
      }
      case EntryState::kOrphaned: {
        auto child = e.record ? running_child(*e.record) : std::nullopt;
        if (!child) {  // found below by its open lock file, if it can be
          Target t{Kind::kOrphan, e.name, e.record ? e.record->account : std::nullopt,
                   e.record ? join_command(e.record->command) : "", {}, {}, {e.lock_file}};
          plan.targets.push_back(std::move(t));
          break;
        }
        Target t{Kind::kOrphan, e.name, e.record->account, join_command(e.record->command), {}, {}, {e.lock_file}};
        t.members.push_back({*child, "command", is_group_leader_tool(e.record->tool)});
        plan.targets.push_back(std::move(t));
        break;
      }
      case EntryState::kRunning: {
        if (!e.record || e.record->legacy) {  // no usable record: found by its open lock file
          if (selected(o.names, e.name)) {
            plan.targets.push_back(Target{Kind::kOrphan, e.name, std::nullopt, "", {}, {}, {e.lock_file}});
          }
          break;
        }
        auto it = std::find_if(holders.begin(), holders.end(), [&](const Holder& h) {
          return h.record.holder() == e.record->holder();
        });
        if (it == holders.end()) {
          holders.push_back({*e.record, {}});
          it = holders.end() - 1;
        }
        it->entries.push_back(&e);
        break;
      }
      default:
        break;
    }
  }

  for (const auto& h : holders) {
    const std::string& tool = h.record.tool;
    const ProcessId wrapper = h.record.holder();
    std::vector<const LockEntry*> named;
    for (const auto* e : h.entries) {
      if (selected(o.names, e->name)) named.push_back(e);
    }
    if (named.empty()) continue;
    if (tool == "qc-launch") {
      const bool whole = o.names.empty() || std::any_of(named.begin(), named.end(), is_own_lock);
      if (whole) {
        const auto own = std::find_if(h.entries.begin(), h.entries.end(), is_own_lock);
        Target t{Kind::kOrchestrator, own != h.entries.end() ? (*own)->name : h.record.name, std::nullopt,
                 own != h.entries.end() ? join_command((*own)->record->command) : "qc-launch", {}, {}, {}};
        t.members.push_back({wrapper, "qc-launch", false});
        for (const auto* e : h.entries) {
          t.lock_files.push_back(e->lock_file);
          if (auto child = running_child(*e->record)) {
            t.members.push_back({*child, "program", true, e->name, join_command(e->record->command),
                                 e->record->account});
          }
        }
        plan.targets.push_back(std::move(t));
      } else {
        for (const auto* e : named) {
          Target t{Kind::kProgram, e->name, e->record->account, join_command(e->record->command), wrapper, {}, {e->lock_file}};
          if (auto child = running_child(*e->record)) t.members.push_back({*child, "program", true});
          plan.targets.push_back(std::move(t));
        }
      }
      continue;
    }
    const auto* e = named.front();
    Target t{tool == "qc-run" ? Kind::kSupervisor : Kind::kWrapper, e->name, e->record->account,
             join_command(e->record->command), {}, {}, {e->lock_file}};
    t.members.push_back({wrapper, tool.empty() ? "wrapper" : tool, false});
    t.members.back().kill_group = tool == "qc-lock";  // its command and the command's children
    if (auto child = running_child(*e->record)) {
      t.members.push_back({*child, "command", tool == "qc-run"});
    }
    plan.targets.push_back(std::move(t));
  }

  confirm_holders(plan);

  if (o.match) {
    auto rows = scan_unmanaged(*o.match, table->entries);
    if (!rows) return Error{"--match: " + rows.error().message, EINVAL};
    for (auto& row : *rows) {
      Target t{Kind::kUnmanaged, row.name, std::nullopt, join_command(row.process->command_line), {}, {}, {}};
      t.members.push_back({ProcessId{row.process->pid, row.process->start}, "unmanaged", false});
      plan.targets.push_back(std::move(t));
    }
  }
  if (o.config) {
    auto loaded = launch::load_launch_plan(*o.config, {});
    if (auto* failure = std::get_if<launch::ConfigFailure>(&loaded)) {
      return Error{"--config: " + failure->message, failure->exit_code == exit_code::kNoInput ? ENOENT : EBADMSG};
    }
    const auto& programs = std::get<launch::LaunchPlan>(loaded).programs;
    std::vector<std::vector<std::string>> commands;
    for (const auto& p : programs) commands.push_back(p.spec.command);
    const auto copies = unmanaged_copies(commands);
    std::vector<Pid> seen;
    for (const auto& t : plan.targets) {
      for (const auto& m : t.members) seen.push_back(m.id.pid);
    }
    for (std::size_t i = 0; i < programs.size(); ++i) {
      for (const auto& c : copies[i]) {
        if (std::find(seen.begin(), seen.end(), c.pid) != seen.end()) continue;
        seen.push_back(c.pid);
        Target t{Kind::kUnmanaged, programs[i].spec.name, programs[i].spec.account, join_command(c.command_line), {}, {}, {}};
        t.members.push_back({ProcessId{c.pid, c.start}, "unmanaged", false});
        plan.targets.push_back(std::move(t));
      }
    }
  }
  std::stable_sort(plan.targets.begin(), plan.targets.end(),
                   [](const Target& a, const Target& b) { return a.kind < b.kind; });
  return plan;
}

std::size_t process_count(const Plan& plan) {
  std::size_t n = 0;
  for (const auto& t : plan.targets) n += t.members.size();
  return n;
}

const std::string& name_of(const Target& t, const Member& m) { return m.name.empty() ? t.name : m.name; }
const std::string& command_of(const Target& t, const Member& m) {
  return m.command.empty() ? t.command : m.command;
}

void list_plan(const Plan& plan) {
  std::vector<std::vector<std::string>> rows{{"NAME", "PID", "ROLE", "ACCOUNT", "COMMAND"}};
  for (const auto& t : plan.targets) {
    if (t.members.empty()) {  // a program of qc-launch that has not started yet
      rows.push_back({t.name, "-", "program (not started: it never will be)", t.account.value_or("-"),
                      t.command});
    }
    for (const auto& m : t.members) {
      const std::string& command = command_of(t, m);
      rows.push_back({name_of(t, m), std::to_string(m.id.pid), m.role,
                      m.account.value_or(t.account.value_or("-")), command.empty() ? "-" : command});
    }
  }
  print_columns(std::cerr, rows);
}

// Sends the graceful requests, supervisors first, all in one burst.
void ask_all(Plan& plan) {
  for (auto& t : plan.targets) {
    if (t.kind == Kind::kProgram) {
      auto asked = request_program_stop(*t.supervisor, t.name);
      if (!asked) log::warn("{}", asked.error().message);
      continue;
    }
    for (std::size_t i = 0; i < t.members.size(); ++i) {
      // The one asked, and whatever holds the name outside any record (a leftover daemon):
      // its supervisor, if any, would not know it.
      Member& m = t.members[i];
      if (i != 0 && m.role != "holder") continue;
      auto sent = signal_process_if_same(m.id, Signal::kTerminate, m.group);
      if (!sent) {
        log::warn("{}", sent.error().message);
      } else {
        m.signalled = *sent;
      }
    }
  }
}

void kill_remaining(Plan& plan, ExitWatcher& watcher) {
  for (auto& t : plan.targets) {
    // Programs and commands first, so a supervisor killed next cannot restart them.
    for (auto it = t.members.rbegin(); it != t.members.rend(); ++it) {
      if (watcher.gone(it->id)) continue;
      auto sent = signal_process_if_same(it->id, Signal::kKill, it->group || it->kill_group);
      if (sent) {
        // Still running at the deadline, so the deadline ended it: a supervisor whose command
        // was killed a moment ago may be gone before its own SIGKILL is sent.
        it->killed = true;
      } else {
        it->kill_errno = sent.error().sys_errno;
        log::warn("{}", sent.error().message);
      }
    }
  }
}

}  // namespace

int run(const Options& o) {
  const std::string dir = resolve_lock_dir(o.lock_dir);
  for (const auto& name : o.names) {
    if (!is_valid_lock_name(name) && name.find_first_of("*?[") == std::string::npos) {
      log::error("{}", validate_lock_name(name).error().message);
      return exit_code::kUsage;
    }
  }
  auto planned = make_plan(o, dir);
  if (!planned) {
    log::error("{}", planned.error().message);
    if (planned.error().sys_errno == EBADMSG) return exit_code::kConfig;  // --config invalid
    return planned.error().sys_errno == EINVAL ? exit_code::kUsage : exit_code::kNoInput;
  }
  Plan& plan = *planned;
  for (const auto& name : plan.unmatched) log::info("no lock named {} in {}", name, dir);
  for (const auto& name : plan.unknown) {
    log::error("{} is held by a process that cannot be identified; find it with: {}", name,
               holder_search_hint(lock_file_path(dir, name)));
  }

  const std::size_t n = std::max<std::size_t>(process_count(plan), plan.targets.empty() ? 0 : 1);
  if (plan.targets.empty()) {
    log::info("Nothing to stop{}.", o.names.empty() ? "" : " under those names");
  } else {
    log::info("will stop {} process{}:", n, n == 1 ? "" : "es");
    list_plan(plan);
  }
  if (o.dry_run) {
    if (!plan.stale.empty()) log::info("would remove {} stale lock file{}", plan.stale.size(), plan.stale.size() == 1 ? "" : "s");
    return exit_code::kOk;
  }
  if (!plan.targets.empty() && !o.yes) {
    if (!o.ask && !stdin_is_terminal()) {
      log::error("not stopping {} process{} without confirmation: pass --yes (stdin is not a terminal)",
                 n, n == 1 ? "" : "es");
      return exit_code::kUsage;
    }
    if (!confirm_yes("Type YES to stop " + std::to_string(n) + " process" + (n == 1 ? "" : "es") + ": ")) {
      log::info("nothing stopped");
      return exit_code::kNo;
    }
  }

  ExitWatcher watcher;
  for (const auto& t : plan.targets) {
    for (const auto& m : t.members) watcher.add(m.id);
  }
  ask_all(plan);
  bool all_gone = watcher.wait_all(deadline_after(o.timeout_s));
  if (!all_gone) {
    kill_remaining(plan, watcher);
    // A SIGKILL takes effect at once unless the process is stuck in the kernel.
    all_gone = watcher.wait_all(deadline_after(2));
  }

  int terminated = 0, exited = 0, killed = 0, survived = 0;
  for (auto& t : plan.targets) {
    if (t.kind == Kind::kProgram && t.members.empty()) {
      log::info("{} had not started yet; qc-launch will not start it", t.name);
    }
    for (auto& m : t.members) {
      if (!watcher.gone(m.id)) {
        m.how = "survived";
        ++survived;
        std::string hint = m.kill_errno == EPERM
                               ? "it belongs to another user: run qc-shutdown as that user or as root"
                               : "it did not die even after SIGKILL (stuck in the kernel?); look at /proc/" +
                                     std::to_string(m.id.pid) + "/status";
        log::error("PID {} ({}, {}: {}) survived: {}", m.id.pid, name_of(t, m), m.role, command_of(t, m), hint);
      } else if (m.killed) {
        m.how = "killed";
        ++killed;
      } else if (m.signalled) {
        m.how = "terminated";
        ++terminated;
      } else {
        m.how = "exited";
        ++exited;
      }
      if (o.json) {
        nlohmann::ordered_json j;
        j["name"] = name_of(t, m);
        j["pid"] = m.id.pid;
        j["role"] = m.role;
        j["how"] = m.how;
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
      }
    }
  }

  // Every name asked for must be free now: children of what was stopped may hold an
  // inherited lock a moment longer, and anything still holding one after that survived.
  std::vector<std::string> stopped_files;
  for (const auto& t : plan.targets) {
    stopped_files.insert(stopped_files.end(), t.lock_files.begin(), t.lock_files.end());
  }
  std::vector<std::string> still_held;
  const auto release_deadline = deadline_after(2);
  for (const auto& file : stopped_files) {
    auto free = wait_until_unheld(file, release_deadline);
    if (free && !*free) still_held.push_back(file);
  }
  if (!still_held.empty()) {
    const auto holders = processes_holding(still_held);
    for (std::size_t i = 0; i < still_held.size(); ++i) {
      const std::string who = describe_processes(holders[i]);
      ++survived;
      log::error("{} is still held{}; stop {} as {}, or find it with: {}", still_held[i],
                 who.empty() ? " by a process that cannot be seen (another user's?)" : " by " + who,
                 who.empty() ? "it" : "those", who.empty() ? superuser_name() : "their owner or " + superuser_name(),
                 holder_search_hint(still_held[i]));
    }
  }

  int removed = 0;
  if (!o.keep_locks) {
    std::vector<std::string> files = stopped_files;
    for (const auto& e : plan.stale) files.push_back(e.lock_file);
    for (const auto& file : files) {
      // Only files nobody holds; a legacy file only when its python process is gone.
      auto done = remove_unheld_lock_file(file, [](const std::optional<LockRecord>& r) {
        return !(r && is_live_legacy_holder(*r));
      });
      if (done && *done) ++removed;
      if (!done) log::warn("{}", done.error().message);
    }
  }
  const std::size_t processes = process_count(plan);
  std::string summary = "stopped " + std::to_string(terminated + exited + killed) + " of " +
                        std::to_string(processes) + " process" + (processes == 1 ? "" : "es");
  summary += " (" + std::to_string(terminated) + " terminated, " + std::to_string(exited) + " exited, " +
             std::to_string(killed) + " killed";
  summary += survived ? ", " + std::to_string(survived) + " survived)" : ")";
  summary += "; removed " + std::to_string(removed) + " lock file" + (removed == 1 ? "" : "s");
  if (!plan.targets.empty() || removed > 0) log::info("{}", summary);
  if (survived > 0 && killed + survived > 0) {
    log::info("to give them longer to stop gracefully, use a higher --timeout (it was {}s)", o.timeout_s);
  }
  return (all_gone && plan.unknown.empty() && still_held.empty()) ? exit_code::kOk : exit_code::kNo;
}

}  // namespace qc::shutdown_tool
