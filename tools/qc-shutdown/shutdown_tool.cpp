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
#include "plan.hpp"
#include "qc/control.hpp"
#include "qc/exit_codes.hpp"
#include "qc/heartbeat.hpp"
#include "qc/lock.hpp"
#include "qc/lock_table.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "qc/spawn.hpp"
#include "qc/text.hpp"

namespace qc::shutdown_tool {
namespace {

Result<Plan> make_plan(const Options& o, const std::string& dir) {
  auto table = read_lock_directory(dir);
  if (!table) return table.error();
  for (const auto& problem : table->problems) log::warn("{}", problem);
  Plan plan = plan_shutdown(*table, o.names, SystemProcessView());
  for (const auto& refusal : plan.refusals) log::warn("{}", refusal);

  if (o.match) {
    auto rows = scan_unmanaged(*o.match, table->entries);
    if (!rows) return Error{"--match: " + rows.error().message, EINVAL};
    for (const auto& row : *rows) add_unmanaged(plan, row.name, std::nullopt, *row.process);
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
    for (std::size_t i = 0; i < programs.size(); ++i) {
      for (const auto& c : copies[i]) add_unmanaged(plan, programs[i].spec.name, programs[i].spec.account, c);
    }
  }
  order_targets(plan);
  return plan;
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

// One program of a running orchestrator: STOP on its control channel, as `qc-launch --stop`
// sends it (it stays stopped until --start). False when the channel did not answer: the
// caller then asks by signal.
bool stop_through_control(const Target& t, const std::string& dir) {
  nlohmann::json payload{{"name", t.name}};
  if (control_needs_secret()) {
    auto secret = read_control_secret(dir, t.orchestrator);
    if (!secret) {
      log::warn("{}", secret.error().message);
      return false;
    }
    payload["secret"] = *secret;
  }
  heartbeat::ProbeOptions probe;
  probe.endpoint = *t.control;
  probe.action = "STOP";
  probe.payload_json = payload.dump();
  probe.timeout_s = 2;
  heartbeat::Client client;
  const auto report = client.probe(probe, kInvalidHandle);
  if (!report.status) {
    log::warn("{} did not answer on {} ({}); asking it by signal", t.orchestrator, probe.endpoint, report.problem);
    return false;
  }
  if (report.outcome != heartbeat::Outcome::kOk) log::warn("{}: {}", t.orchestrator, report.problem);
  return true;
}

// Sends the graceful requests, supervisors first, all in one burst.
void ask_all(Plan& plan, const std::string& dir) {
  for (auto& t : plan.targets) {
    if (t.kind == Kind::kProgram) {
      if (t.control && stop_through_control(t, dir)) continue;
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
  ask_all(plan, dir);
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
