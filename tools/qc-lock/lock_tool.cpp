// qc-lock's modes: run a command under a lock, --check, --list, --clear-stale, --clear-all.
#include "lock_tool.hpp"

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "qc/event_loop.hpp"
#include "qc/exit_codes.hpp"
#include "qc/lock.hpp"
#include "qc/lock_table.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "qc/supervision_io.hpp"
#include "qc/text.hpp"

namespace qc::lock_tool {
namespace {

using ordered_json = nlohmann::ordered_json;

void print_json(const ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

ordered_json conflict_json(const LockConflict& c) {
  ordered_json j;
  j["event"] = "conflict";
  j["name"] = c.name;
  j["pid"] = c.holder ? ordered_json(c.holder->pid) : ordered_json(nullptr);
  j["account"] = c.holder && c.holder->account ? ordered_json(*c.holder->account) : ordered_json(nullptr);
  j["host"] = c.holder ? ordered_json(c.holder->host) : ordered_json(nullptr);
  j["since"] = c.holder ? ordered_json(c.holder->timestamp) : ordered_json(nullptr);
  j["command"] = c.holder ? c.holder->command : std::vector<std::string>{};
  j["lock_file"] = c.path;
  j["message"] = describe_conflict(c);
  return j;
}

int report_conflict(const Options& o, const LockConflict& conflict) {
  log::error("{}", describe_conflict(conflict));
  if (o.json) print_json(conflict_json(conflict));
  return o.conflict_exit_code;
}

// A lock file that changed under us: said through qc::log (report_lock_integrity); when the
// lock is lost, also a lock_lost event with --json. True when it is lost.
bool report_integrity(const Options& o, const std::string& path, const HeldLock::Verdict& verdict) {
  if (!report_lock_integrity(verdict, path, o.name)) return false;
  log::error("lost {}: its lock file was removed and {}; stopping {} so that one copy remains",
             o.name, verdict.taken_by ? describe_conflict(*verdict.taken_by) : "another process took the name",
             join_command(o.command));
  if (o.json) {
    ordered_json j{{"event", "lock_lost"}, {"name", o.name}, {"lock_file", path}};
    j["holder_pid"] = verdict.taken_by && verdict.taken_by->holder ? ordered_json(verdict.taken_by->holder->pid)
                                                                   : ordered_json(nullptr);
    print_json(j);
  }
  return true;
}

// Asks (or makes) every living descendant stop; only processes that are still the ones we
// saw (same start token) are signalled.
void signal_descendants(const std::vector<ProcessInfo>& descendants, Signal signal) {
  for (const auto& d : descendants) {
    auto sent = signal_process_if_same({d.pid, d.start}, signal, /*whole_group=*/false);
    if (!sent) log::warn("{}", sent.error().message);
  }
}

// Runs the command with the lock inherited, forwards signals, passes its status on. The
// name is held until the command and every descendant of it have exited: we adopt orphaned
// descendants (a subreaper), so a launcher that starts the real program and exits, or a
// double-forked daemon, keeps the name held (docs/qc-lock.md).
int run_command(const Options& o, const std::string& dir) {
  LockRecord record = own_lock_record(o.name, "qc-lock", o.command, o.account);
  auto acquired = acquire_lock(dir, o.name, record, AcquireOptions{o.wait_s, {}});
  if (auto* conflict = std::get_if<LockConflict>(&acquired)) return report_conflict(o, *conflict);
  if (auto* error = std::get_if<Error>(&acquired)) {
    log::error("cannot take {}: {}", o.name, error->message);
    return exit_code::kCannotCreate;
  }
  HeldLock lock = std::move(std::get<HeldLock>(acquired));
  // The fleet (docs/fleet.md): the local lock first, then the fleet's; released in reverse.
  std::unique_ptr<FleetHold> fleet;
  if (o.fleet.configured()) {
    auto taken = take_fleet_name(FleetTake{o.fleet, o.name, serialize_lock_record(record), o.wait_s,
                                           o.stop_timeout_s, o.json, o.conflict_exit_code});
    if (auto* code = std::get_if<int>(&taken)) return *code;
    fleet = std::move(std::get<std::unique_ptr<FleetHold>>(taken));
    record.fencing_token = fleet->fencing_token();
  }

  // Signals are blocked from here on and read as events: none can be lost or half-handled.
  auto loop = EventLoop::create({Signal::kInterrupt, Signal::kTerminate, Signal::kHangup,
                                 Signal::kQuit, Signal::kUser1, Signal::kUser2});
  if (!loop) {
    log::error("{}", loop.error().message);
    return exit_code::kCannotCreate;
  }
  adopt_orphaned_descendants();  // one prctl: no process, no fork
  const NativeHandle lock_changes = lock_change_handle();
  if (lock_changes != kInvalidHandle) loop->watch_readable(lock_changes);
  if (fleet) loop->watch_readable(fleet->wake_handle());
  bool lost = false;  // another process took the name after our file was removed, or the lease went
  SpawnOptions spawn;
  spawn.argv = o.command;
  if (fleet) spawn.env.emplace_back("QC_FENCING_TOKEN", std::to_string(fleet->fencing_token()));
  spawn.inherit = {lock.inheritable_handle()};
  spawn.stop_with_parent = true;
  auto child = spawn_process(spawn);
  if (!child) {
    log::error("cannot run {}", child.error().message);
    return exit_code_for_spawn_error(child.error());
  }
  loop->watch_child(*child);
  record.child_pid = child->pid();
  record.child_start = child->id().start;
  record.run_started = iso8601_now();
  if (Status s = lock.write_record(record); !s) log::warn("{}", s.error().message);
  if (fleet) fleet->update(serialize_lock_record(record));

  std::optional<int> status;           // the command's, once it has exited
  bool stop_descendants = o.kill_descendants;  // also once we are asked to stop
  std::optional<SteadyTime> kill_at;   // descendants asked to stop: SIGKILL then
  std::optional<SteadyTime> fenced_kill_at;  // self-fencing: the command is killed then
  auto finish = [&]() {
    if (fleet) fleet->release();
    if (Status s = lock.release(); !s) log::warn("{}", s.error().message);
    return lost ? exit_code::kLockHeld : *status;
  };
  // After the command's exit: ends when no descendant is left, else keeps waiting.
  auto descendants_left = [&](SteadyTime now) {
    if (!has_child_processes()) return false;  // the usual case costs one system call
    const auto left = living_descendants();
    if (left.empty()) return false;
    if (stop_descendants && !kill_at) {
      log::info("{} exited; stopping what it left running: {}", o.name, describe_processes(left));
      signal_descendants(left, Signal::kTerminate);
      kill_at = now + std::chrono::duration_cast<SteadyTime::duration>(
                          std::chrono::duration<double>(o.stop_timeout_s));
    }
    return true;
  };

  // Self-fencing: a holder that cannot renew its lease stops its command in time for it to
  // have exited before the lease can expire (docs/fleet.md).
  auto fence = [&](SteadyTime now) {
    lost = true;
    stop_descendants = true;
    log::error("lost {} in the fleet: {}; stopping {} before the lease can expire, so that no other host "
               "runs it beside this one",
               o.name, fleet->failure(), join_command(o.command));
    if (o.json) print_json(ordered_json{{"event", "lease_lost"}, {"name", o.name}, {"why", fleet->failure()}});
    if (status) return;
    send_signal(*child, Signal::kTerminate, false);
    fenced_kill_at = now + std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(o.stop_timeout_s));
  };
  for (;;) {
    std::optional<SteadyTime> deadline = earliest(kill_at, fenced_kill_at);
    if (fleet && !lost) deadline = earliest(deadline, fleet->fence_deadline(o.stop_timeout_s));
    auto events = loop->wait(deadline);
    if (!events) {
      log::error("{}", events.error().message);
      send_signal(*child, Signal::kTerminate, false);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto& readable = events->readable;
    if (fleet && std::find(readable.begin(), readable.end(), fleet->wake_handle()) != readable.end()) {
      fleet->clear_wake();
    }
    if (fleet && !lost && now >= fleet->fence_deadline(o.stop_timeout_s)) fence(now);
    if (fenced_kill_at && !status && now >= *fenced_kill_at) {
      log::warn("{}: still running {}s after SIGTERM, killed", o.name, o.stop_timeout_s);
      send_signal(*child, Signal::kKill, false);
      fenced_kill_at.reset();
    }
    if (lock_changes != kInvalidHandle && !lost &&
        std::find(readable.begin(), readable.end(), lock_changes) != readable.end()) {
      drain_lock_changes();
      const auto verdict = lock.verify_and_restore(record);
      if (report_integrity(o, lock.path(), verdict)) {
        lost = true;
        stop_descendants = true;
        if (!status) send_signal(*child, Signal::kTerminate, false);
      }
    }
    for (const auto& s : events->signals) {
      const bool stop = s.signal == Signal::kInterrupt || s.signal == Signal::kTerminate ||
                        s.signal == Signal::kQuit;
      if (status) {  // only descendants are left: a stop request is for them
        if (stop) stop_descendants = true;
        continue;
      }
      if (stop) stop_descendants = true;  // they go with the command
      // The terminal already delivered Ctrl+C (and hangup) to the command, which shares our
      // process group: sending it again would stop it twice.
      if (s.from_terminal) continue;
      if (Status st = send_signal(*child, s.signal, false); !st) log::warn("{}", st.error().message);
    }
    for (const auto& exit : events->exits) {
      if (exit.pid != child->pid()) continue;  // an adopted descendant: counted below
      status = exit.status.as_exit_code();
      if (!has_child_processes()) continue;
      const auto left = living_descendants();
      if (left.empty()) continue;
      // The record names what now holds the name, so qc-ps and qc-shutdown find it.
      record.child_pid = left.front().pid;
      record.child_start = left.front().start;
      record.last_status = *status;
      if (Status st = lock.write_record(record); !st) log::warn("{}", st.error().message);
      if (!stop_descendants) {
        const bool one = left.size() == 1;
        log::warn("{} exited with status {}, but it left {} running, which still hold{} {}: {}; "
                  "keeping {} until {} (stop {} with qc-shutdown {}, or run with --kill-descendants)",
                  join_command(o.command), *status, one ? "a process" : "processes", one ? "s" : "",
                  o.name, describe_processes(left), o.name, one ? "it exits" : "they exit",
                  one ? "it" : "them", o.name);
      }
    }
    if (!status) continue;
    if (kill_at && now >= *kill_at) {
      const auto left = living_descendants();
      log::warn("{}: still running after {}s, killed: {}", o.name, o.stop_timeout_s, describe_processes(left));
      signal_descendants(left, Signal::kKill);
      kill_at = now + std::chrono::seconds(2);  // then look again
    }
    if (!descendants_left(now)) return finish();
  }
}

int check(const Options& o, const std::string& dir) {
  auto entry = read_lock_entry(dir, o.name);
  if (!entry) {
    if (entry.error().sys_errno == ENOENT) {
      if (o.json) print_json({{"event", "free"}, {"name", o.name}});
      return exit_code::kOk;
    }
    log::error("cannot check {}: {}", o.name, entry.error().message);
    return exit_code::kNoInput;
  }
  if (!entry->live()) {
    if (o.json) print_json({{"event", "free"}, {"name", o.name}});
    return exit_code::kOk;
  }
  return report_conflict(o, LockConflict{o.name, entry->lock_file, entry->record});
}

Result<LockTable> read_table(const std::string& dir) {
  auto table = read_lock_directory(dir);
  if (table) {
    for (const auto& problem : table->problems) log::warn("{}", problem);
  }
  return table;
}

int list(const Options& o, const std::string& dir) {
  auto table = read_table(dir);
  if (!table) {
    log::error("{}", table.error().message);
    return exit_code::kNoInput;
  }
  const OutputFormat format =
      o.json ? OutputFormat::kJson : (o.tsv ? OutputFormat::kTsv : OutputFormat::kTable);
  if (table->entries.empty() && format == OutputFormat::kTable) {
    log::info("No locks in {}.", dir);
    return exit_code::kOk;
  }
  render_entries(std::cout, table->entries, format, std::chrono::system_clock::now());
  return exit_code::kOk;
}

// Removes the files of `candidates` that no OS lock holds; returns the exit code.
int remove_files(const Options& o, const std::vector<LockEntry>& candidates, bool legacy_too) {
  int removed = 0;
  int failed = 0;
  for (const auto& entry : candidates) {
    auto done = remove_unheld_lock_file(entry.lock_file, [legacy_too](const auto& record) {
      // Checked again under the lock: a legacy holder may have appeared since the listing.
      return legacy_too || !(record && is_live_legacy_holder(*record));
    });
    if (!done) {
      log::error("{}", done.error().message);
      ++failed;
      continue;
    }
    if (!*done) continue;  // taken or changed meanwhile: it is not stale any more
    ++removed;
    if (o.json) {
      print_json({{"event", "removed"}, {"name", entry.name}, {"lock_file", entry.lock_file},
                  {"state", state_name(entry.state)}});
    }
  }
  log::info("removed {} lock file{}", removed, removed == 1 ? "" : "s");
  return failed > 0 ? exit_code::kCannotCreate : exit_code::kOk;
}

int clear_stale(const Options& o, const std::string& dir) {
  auto table = read_table(dir);
  if (!table) {
    log::error("{}", table.error().message);
    return exit_code::kNoInput;
  }
  std::vector<LockEntry> stale;
  for (auto& e : table->entries) {
    if (e.state == EntryState::kStale) stale.push_back(std::move(e));
  }
  return remove_files(o, stale, /*legacy_too=*/false);
}

int clear_all(const Options& o, const std::string& dir) {
  if (!o.yes && !stdin_is_terminal()) {
    log::error("--clear-all removes lock files: confirm with --yes when stdin is not a terminal");
    return exit_code::kUsage;
  }
  auto table = read_table(dir);
  if (!table) {
    log::error("{}", table.error().message);
    return exit_code::kNoInput;
  }
  std::vector<LockEntry> removable;
  for (auto& e : table->entries) {
    if (e.held()) {
      log::info("keeping {}: held by a live process (PID {}); stop it with: qc-shutdown {}", e.name,
                e.record ? std::to_string(e.record->pid) : "unknown", e.name);
    } else {
      removable.push_back(std::move(e));
    }
  }
  if (removable.empty()) {
    log::info("removed 0 lock files");
    return exit_code::kOk;
  }
  if (!o.yes) {
    for (const auto& e : removable) {
      log::info("will remove {} ({}{})", e.lock_file, state_name(e.state),
                e.record ? ", PID " + std::to_string(e.record->pid) : "");
    }
    if (!confirm_yes("Type YES to remove " + std::to_string(removable.size()) + " lock files: ")) {
      log::info("nothing removed");
      return exit_code::kNo;
    }
  }
  return remove_files(o, removable, /*legacy_too=*/true);
}

}  // namespace

int run(const Options& o) {
  const std::string dir = resolve_lock_dir(o.lock_dir);
  if (o.mode == Mode::kRun || o.mode == Mode::kCheck) {
    if (Status s = validate_lock_name(o.name); !s) {
      log::error("{}", s.error().message);
      return exit_code::kUsage;
    }
  }
  switch (o.mode) {
    case Mode::kCheck: return check(o, dir);
    case Mode::kList: return list(o, dir);
    case Mode::kClearStale: return clear_stale(o, dir);
    case Mode::kClearAll: return clear_all(o, dir);
    case Mode::kRun: break;
  }
  if (Status s = ensure_directory(dir); !s) {
    log::error("{}", s.error().message);
    return exit_code::kCannotCreate;
  }
  return run_command(o, dir);
}

}  // namespace qc::lock_tool
