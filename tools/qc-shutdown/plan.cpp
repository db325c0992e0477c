// qc-shutdown's plan (plan.hpp): the lock table and a view of the processes in, the targets
// out. Nothing here signals, logs or reads the OS except through the view.
#include "plan.hpp"

#include <algorithm>
#include <filesystem>

#include "qc/lock.hpp"
#include "qc/names.hpp"
#include "qc/paths.hpp"
#include "qc/text.hpp"

namespace qc::shutdown_tool {
namespace {

bool selected(const std::vector<std::string>& globs, const std::string& name) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const auto& g) { return glob_match(g, name); });
}

std::optional<ProcessId> running_child(const LockRecord& r, const ProcessView& view) {
  auto child = r.child();
  if (!child) return std::nullopt;
  auto info = view.inspect(child->pid, false);
  if (info && info->running && info->start != 0 && info->start == child->start) return child;
  return std::nullopt;
}

bool is_group_leader_tool(const std::string& tool) { return tool == "qc-run" || tool == "qc-launch"; }

// The qc-launch process's own lock is the one whose recorded command is its own command line.
bool is_own_lock(const LockEntry* e, const ProcessView& view) {
  auto info = view.inspect(e->record->pid, true);
  return info && info->command_line == e->record->command;
}

// What holds each lock file, by PID, found by the open file itself (docs/qc-shutdown.md).
using Holders = std::vector<std::vector<ProcessInfo>>;

bool holds(const std::vector<ProcessInfo>& holders, Pid pid) {
  return std::any_of(holders.begin(), holders.end(), [pid](const ProcessInfo& p) { return p.pid == pid; });
}


// A record is only a claim: anyone who can write the lock directory can name any PID in it.
// A process is signalled only when the OS confirms it: it has the lock file open (Linux
// /proc/PID/fd), or it is the recorded command and a child of a confirmed wrapper (a command
// may close the inherited descriptor), or it is a legacy holder by is_live_legacy_holder.
// Never PID 1 or ourselves, and never another user's process unless we are root. Processes
// that hold a planned lock file but are in no record (a launcher's leftover, a double-forked
// daemon, the holder of an unreadable record) join the plan: they hold the name.
void confirm_holders(Plan& plan, const ProcessView& view) {
  std::vector<std::string> files;
  for (const auto& t : plan.targets) files.insert(files.end(), t.lock_files.begin(), t.lock_files.end());
  if (files.empty() || !view.can_see_holders()) {
    for (auto& t : plan.targets) {
      if (t.kind == Kind::kOrphan && t.members.empty()) plan.unknown.push_back(t.name);
    }
    plan.targets.erase(std::remove_if(plan.targets.begin(), plan.targets.end(),
                                      [](const Target& t) { return t.kind == Kind::kOrphan && t.members.empty(); }),
                       plan.targets.end());
    return;
  }
  const Holders held = view.holding(files);
  const Pid self = view.self();
  std::size_t next_file = 0;
  std::vector<Target> kept;
  for (auto& t : plan.targets) {
    std::vector<ProcessInfo> holding;
    std::vector<std::string> held_name;  // the name whose file each holder has open
    for (std::size_t i = 0; i < t.lock_files.size(); ++i) {
      const auto& h = held[next_file++];
      holding.insert(holding.end(), h.begin(), h.end());
      std::string name = path_string(to_path(t.lock_files[i]).filename());
      name.resize(name.size() - std::char_traits<char>::length(kLockSuffix));
      held_name.insert(held_name.end(), h.size(), name);
    }
    // The supervisor asked to stop one program must hold that program's lock.
    if (t.kind == Kind::kProgram && !holds(holding, t.supervisor->pid)) {
      plan.refusals.push_back("not asking PID " + std::to_string(t.supervisor->pid) + " to stop " + t.name +
                              ": it does not hold " + t.lock_files.front() + " (a forged or outdated record)");
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
      const auto info = view.inspect(m.id.pid, false);
      if (!info || !info->running || info->start != m.id.start) continue;  // gone already
      std::string refusal;
      if (m.id.pid <= 1 || m.id.pid == self) {
        refusal = "it is PID 1 or qc-shutdown itself";
      } else if (!view.root() && info->uid >= 0 && info->uid != view.uid()) {
        refusal = "it belongs to another user (uid " + std::to_string(info->uid) + ")";
      } else if (m.role == "legacy") {
        // confirmed by is_live_legacy_holder when the table was read
      } else if (!holds(holding, m.id.pid) && !(wrapper && info->parent == *wrapper)) {
        refusal = "it does not hold " + t.lock_files.front() + " (a forged or outdated record)";
      }
      if (!refusal.empty()) {
        plan.refusals.push_back("not stopping PID " + std::to_string(m.id.pid) + " named by " + t.name + ": " +
                                refusal);
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
        if (auto info = view.inspect(m.id.pid, false)) covered_groups.push_back(info->group);
      }
    }
    for (std::size_t i = 0; i < holding.size(); ++i) {  // holders in no record
      const ProcessInfo& h = holding[i];
      const bool known = std::any_of(t.members.begin(), t.members.end(),
                                     [&](const Member& m) { return m.id.pid == h.pid; }) ||
                         (t.supervisor && t.supervisor->pid == h.pid);
      const bool covered = std::find(covered_groups.begin(), covered_groups.end(), h.group) != covered_groups.end();
      const bool refused = h.pid <= 1 || h.pid == self ||
                           (!view.root() && h.uid >= 0 && h.uid != view.uid());
      if (known || covered || refused) continue;
      t.members.push_back({ProcessId{h.pid, h.start}, "holder", false, held_name[i],
                           h.command_line.empty() ? h.name : join_command(h.command_line)});
    }
    if (t.members.empty() && t.kind != Kind::kProgram) {
      // Whatever held it has exited since the table was read: a stale file now, or a holder
      // we cannot see (another user's process, as a non-root user).
      for (const auto& file : t.lock_files) {
        if (view.held(file)) {
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

}  // namespace

Plan plan_shutdown(const LockTable& table, const std::vector<std::string>& names, const ProcessView& view) {
  Plan plan;
  for (const auto& glob : names) {
    const bool any = std::any_of(table.entries.begin(), table.entries.end(),
                                 [&](const LockEntry& e) { return glob_match(glob, e.name); });
    if (!any) plan.unmatched.push_back(glob);
  }

  // Group the held entries by the live wrapper holding them.
  struct Holder {
    LockRecord record;
    std::vector<const LockEntry*> entries;
  };
  std::vector<Holder> holders;
  for (const auto& e : table.entries) {
    if (!selected(names, e.name) && e.state != EntryState::kRunning) {
      continue;  // a wrapper's other names are looked at below
    }
    switch (e.state) {
      case EntryState::kStale:
        plan.stale.push_back(e);
        break;
      case EntryState::kLegacy: {
        Target t{Kind::kLegacy, e.name, e.record->account, "", {}, {}, {e.lock_file}, {}, {}};
        t.members.push_back({ProcessId{e.record->pid, 0}, "legacy", false});
        if (auto info = view.inspect(e.record->pid, true)) {
          t.members[0].id.start = info->start;
          t.command = join_command(info->command_line);
        }
        plan.targets.push_back(std::move(t));
        break;
      }
      case EntryState::kOrphaned: {
        auto child = e.record ? running_child(*e.record, view) : std::nullopt;
        if (!child) {  // found below by its open lock file, if it can be
          Target t{Kind::kOrphan, e.name, e.record ? e.record->account : std::nullopt,
                   e.record ? join_command(e.record->command) : "", {}, {}, {e.lock_file}, {}, {}};
          plan.targets.push_back(std::move(t));
          break;
        }
        Target t{Kind::kOrphan, e.name, e.record->account, join_command(e.record->command), {}, {}, {e.lock_file}, {}, {}};
        t.members.push_back({*child, "command", is_group_leader_tool(e.record->tool)});
        plan.targets.push_back(std::move(t));
        break;
      }
      case EntryState::kRunning: {
        if (!e.record || e.record->legacy) {  // no usable record: found by its open lock file
          if (selected(names, e.name)) {
            plan.targets.push_back(Target{Kind::kOrphan, e.name, std::nullopt, "", {}, {}, {e.lock_file}, {}, {}});
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
      if (selected(names, e->name)) named.push_back(e);
    }
    if (named.empty()) continue;
    if (tool == "qc-launch") {
      const bool whole = names.empty() || std::any_of(named.begin(), named.end(), [&](const LockEntry* e) { return is_own_lock(e, view); });
      const auto own = std::find_if(h.entries.begin(), h.entries.end(), [&](const LockEntry* e) { return is_own_lock(e, view); });
      if (whole) {
        Target t{Kind::kOrchestrator, own != h.entries.end() ? (*own)->name : h.record.name, std::nullopt,
                 own != h.entries.end() ? join_command((*own)->record->command) : "qc-launch", {}, {}, {}, {}, {}};
        t.members.push_back({wrapper, "qc-launch", false});
        for (const auto* e : h.entries) {
          t.lock_files.push_back(e->lock_file);
          if (auto child = running_child(*e->record, view)) {
            t.members.push_back({*child, "program", true, e->name, join_command(e->record->command),
                                 e->record->account});
          }
        }
        plan.targets.push_back(std::move(t));
      } else {
        for (const auto* e : named) {
          Target t{Kind::kProgram, e->name, e->record->account, join_command(e->record->command), wrapper, {}, {e->lock_file}, {}, {}};
          if (own != h.entries.end()) {
            t.control = (*own)->record->control;
            t.orchestrator = (*own)->name;
          }
          if (auto child = running_child(*e->record, view)) t.members.push_back({*child, "program", true});
          plan.targets.push_back(std::move(t));
        }
      }
      continue;
    }
    const auto* e = named.front();
    Target t{tool == "qc-run" ? Kind::kSupervisor : Kind::kWrapper, e->name, e->record->account,
             join_command(e->record->command), {}, {}, {e->lock_file}, {}, {}};
    t.members.push_back({wrapper, tool.empty() ? "wrapper" : tool, false});
    t.members.back().kill_group = tool == "qc-lock";  // its command and the command's children
    if (auto child = running_child(*e->record, view)) {
      t.members.push_back({*child, "command", tool == "qc-run"});
    }
    plan.targets.push_back(std::move(t));
  }

  confirm_holders(plan, view);
  return plan;
}

void add_unmanaged(Plan& plan, const std::string& name, const std::optional<std::string>& account,
                   const ProcessInfo& process) {
  for (const auto& t : plan.targets) {
    for (const auto& m : t.members) {
      if (m.id.pid == process.pid) return;
    }
  }
  Target t{Kind::kUnmanaged, name, account, join_command(process.command_line), {}, {}, {}, {}, {}};
  t.members.push_back({ProcessId{process.pid, process.start}, "unmanaged", false});
  plan.targets.push_back(std::move(t));
}

void order_targets(Plan& plan) {
  std::stable_sort(plan.targets.begin(), plan.targets.end(),
                   [](const Target& a, const Target& b) { return a.kind < b.kind; });
}

std::size_t process_count(const Plan& plan) {
  std::size_t n = 0;
  for (const auto& t : plan.targets) n += t.members.size();
  return n;
}

std::optional<ProcessInfo> SystemProcessView::inspect(Pid pid, bool with_command_line) const {
  return inspect_process(pid, with_command_line);
}
std::vector<std::vector<ProcessInfo>> SystemProcessView::holding(const std::vector<std::string>& files) const {
  return processes_holding(files);
}
bool SystemProcessView::can_see_holders() const { return can_see_file_holders(); }
bool SystemProcessView::held(const std::string& file) const {
  auto probe = probe_lock(file);
  return probe && *probe == LockProbe::kHeld;
}
Pid SystemProcessView::self() const { return current_process().pid; }
std::int64_t SystemProcessView::uid() const { return current_uid(); }
bool SystemProcessView::root() const { return running_as_root(); }

}  // namespace qc::shutdown_tool
