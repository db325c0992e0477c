// Starting supervised programs, pumping their output, reporting their events.
#include "qc/supervision_io.hpp"

#include <ostream>

#include "line_writer.hpp"
#include "qc/guardian.hpp"

#include <nlohmann/json.hpp>

namespace qc {

namespace {
constexpr std::size_t kMaxLine = 64 * 1024;
}  // namespace

void LineWriter::append(const char* data, std::size_t size) {
  partial_.append(data, size);
  std::size_t begin = 0;
  for (;;) {
    const auto newline = partial_.find('\n', begin);
    if (newline == std::string::npos) break;
    std::size_t end = newline;
    if (end > begin && partial_[end - 1] == '\r') --end;
    file_->write_line(std::string_view(partial_).substr(begin, end - begin));
    begin = newline + 1;
  }
  partial_.erase(0, begin);
  while (partial_.size() >= kMaxLine) {
    file_->write_line(std::string_view(partial_).substr(0, kMaxLine));
    partial_.erase(0, kMaxLine);
  }
}

void LineWriter::flush() {
  if (!partial_.empty()) {
    file_->write_line(partial_);
    partial_.clear();
  }
  file_->flush();
}

void ChildProcesses::set_handles(const std::string& name, const HeldLock* lock, NativeHandle output) {
  handles_[name] = Handles{lock, output};
}

Result<ProcessId> ChildProcesses::start(const ProgramSpec& spec) {
  SpawnOptions options;
  options.argv = spec.command;
  options.cwd = spec.cwd;
  options.env = spec.env;
  options.own_process_group = true;
  options.stop_with_parent = true;
  options.stdin_null = true;
  auto it = handles_.find(spec.name);
  if (it != handles_.end()) {
    if (it->second.lock != nullptr) options.inherit.push_back(it->second.lock->inheritable_handle());
    options.stdout_to = it->second.output;
    options.stderr_to = it->second.output;
  }
  auto child = spawn_process(options);
  if (!child) return child.error();
  loop_.watch_child(*child, /*kill_group=*/true);
  const ProcessId id = child->id();
  guardian::watch_group(id.pid);  // its group leader: the group has its PID
  children_.emplace(id.pid, std::move(*child));
  names_[id.pid] = spec.name;
  return id;
}

void ChildProcesses::signal_group(Pid pid, Signal signal) {
  auto it = children_.find(pid);
  if (it == children_.end()) return;  // already reaped: never signal a PID we no longer own
  if (Status s = send_signal(it->second, signal, /*whole_group=*/true); !s) {
    log::warn("{}", s.error().message);
  }
}

void ChildProcesses::reaped(Pid pid) {
  loop_.unwatch_child(pid);
  children_.erase(pid);
  guardian::forget_group(pid);
  auto named = names_.find(pid);
  if (named == names_.end()) return;
  const std::string name = named->second;
  names_.erase(named);
  auto it = handles_.find(name);
  if (it == handles_.end() || it->second.lock == nullptr || !can_see_file_holders()) return;
  // Orphaned descendants are adopted by us (a subreaper): only when a child of ours is
  // neither a program nor the guardian is the process table worth a scan.
  bool adopted = false;
  for (Pid kid : child_pids()) adopted = adopted || (children_.count(kid) == 0 && kid != guardian::pid());
  if (!adopted) return;
  const Pid self = current_process().pid;
  const auto holders = processes_holding({it->second.lock->path()});
  for (const auto& left : holders.front()) {
    if (left.pid == self) continue;
    const std::string what = left.command_line.empty() ? left.name : join_command(left.command_line);
    log::warn("{}: PID {} ({}) outlived its run outside its process group and still holds the name; "
              "killed before the next run",
              name, left.pid, what);
    signal_process_if_same({left.pid, left.start}, Signal::kKill, false);
  }
}

void JsonEventWriter::emit(const SupervisorEvent& e) {
  if (e.record_only) return;
  nlohmann::ordered_json j;
  j["event"] = e.event;
  j["name"] = e.name;
  j["pid"] = e.pid ? nlohmann::ordered_json(*e.pid) : nlohmann::ordered_json(nullptr);
  j["status"] = e.status ? nlohmann::ordered_json(*e.status) : nlohmann::ordered_json(nullptr);
  j["restarts"] = e.restarts;
  j["time"] = iso8601_now();
  if (e.delay_s) j["delay_s"] = *e.delay_s;
  out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  if (!out_ && !lost_) {  // its reader went away: supervision goes on, events go to the log
    lost_ = true;
    log::warn("stdout is closed (its reader went away); --json events are no longer written");
  }
}

void LogEventWriter::emit(const SupervisorEvent& e) {
  if (e.record_only) return;
  if (e.event == "gave_up" || e.event == "failed" || e.event == "lock_lost" || e.event == "lease_lost") {
    log::error("{}", e.detail);
  } else {
    log::info("{}", e.detail);
  }
}

bool report_lock_integrity(const HeldLock::Verdict& verdict, const std::string& path, const std::string& name) {
  switch (verdict.integrity) {
    case HeldLock::Integrity::kIntact:
      return false;
    case HeldLock::Integrity::kRestored:
      log::warn("{} was removed or replaced; put back, {} is still held", path, name);
      return false;
    case HeldLock::Integrity::kUnrestorable:
      log::warn("{} was removed and cannot be put back: {}; {} stays held by its open file only", path,
                verdict.detail, name);
      return false;
    case HeldLock::Integrity::kLost:
      break;
  }
  return true;
}

bool LockRecordUpdater::verify(EventSink& events) {
  const auto verdict = lock_.verify_and_restore(record_);
  if (!report_lock_integrity(verdict, lock_.path(), record_.name)) return false;
  SupervisorEvent e;
  e.event = "lock_lost";
  e.name = record_.name;
  e.pid = record_.child_pid;
  e.restarts = record_.restarts;
  e.record_state = "stopping";
  e.detail = "lost " + record_.name + ": its lock file was removed and " +
             (verdict.taken_by ? describe_conflict(*verdict.taken_by) : std::string("another process took the name")) +
             "; stopping it so that one copy remains";
  events.emit(e);
  return true;
}

void LockRecordUpdater::emit(const SupervisorEvent& e) {
  if (e.event == "started") {
    record_.child_pid = e.pid;
    record_.child_start = e.pid_start;
    record_.run_started = iso8601_now();
  } else if (e.event == "exited" || e.event == "stopped" || e.event == "gave_up") {
    record_.child_pid.reset();
    record_.child_start.reset();
    record_.run_started.reset();
    if (e.status) record_.last_status = e.status;
  }
  record_.state = e.record_state;
  record_.restarts = e.restarts;
  if (Status s = lock_.write_record(record_); !s) log::warn("{}", s.error().message);
}

}  // namespace qc
