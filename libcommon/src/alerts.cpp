// Alerts (alerts.hpp): a command per event worth telling, beside supervision.
#include "qc/alerts.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "qc/log.hpp"
#include "qc/spawn.hpp"
#include "qc/supervision_io.hpp"
#include "qc/text.hpp"

namespace qc {
namespace {

const std::set<std::string> kAlerted = {"gave_up", "unhealthy", "restarting", "start_failed", "stopped", "lock_lost", "lease_lost"};

SteadyTime after(SteadyTime now, double seconds) {
  return now + std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

struct AlertRunner::Running {
  Child child;
  SteadyTime kill_at;
  std::string what;  // "BRAIN_ATLAS's gave_up"
  bool killed = false;
};

class AlertRunner::ProgramSink : public EventSink {
 public:
  ProgramSink(AlertRunner& runner, std::optional<std::string> account)
      : runner_(runner), account_(std::move(account)) {}
  void emit(const SupervisorEvent& event) override { runner_.fire(event, account_); }

 private:
  AlertRunner& runner_;
  std::optional<std::string> account_;
};

AlertRunner::AlertRunner(std::vector<std::string> command, EventLoop& loop)
    : command_(std::move(command)), loop_(loop) {}

AlertRunner::~AlertRunner() {
  for (auto& r : running_) send_signal(r->child, Signal::kKill, true);
}

EventSink& AlertRunner::sink_for(const std::optional<std::string>& account) {
  sinks_.push_back(std::make_unique<ProgramSink>(*this, account));
  return *sinks_.back();
}

void AlertRunner::fire(const SupervisorEvent& event, const std::optional<std::string>& account) {
  if (event.record_only || kAlerted.count(event.event) == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (event.event == "restarting") {
    auto last = last_restarting_.find(event.name);
    if (last != last_restarting_.end() && now < after(last->second, kRestartingEveryS)) {
      ++suppressed_[event.name];
      return;
    }
    last_restarting_[event.name] = now;
  }
  std::ostringstream line;
  JsonEventWriter(line).emit(event);
  auto json = nlohmann::ordered_json::parse(line.str(), nullptr, false);
  if (json.is_discarded()) return;
  if (account) json["account"] = *account;
  if (int held_back = std::exchange(suppressed_[event.name], 0); held_back > 0) json["suppressed"] = held_back;
  Pending alert{json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", event.event, event.name,
                account.value_or(""), event.status ? std::to_string(*event.status) : ""};
  if (waiting_.size() >= kQueued) {
    log::warn("alert for {}'s {} dropped: {} alerts already wait for {} to finish", event.name, event.event,
              waiting_.size(), join_command(command_));
    return;
  }
  waiting_.push_back(std::move(alert));
  start_waiting();
}

void AlertRunner::start_waiting() {
  const auto now = std::chrono::steady_clock::now();
  while (!waiting_.empty() && running_.size() < kAtOnce) {
    Pending alert = std::move(waiting_.front());
    waiting_.pop_front();
    start(alert, now);
  }
}

void AlertRunner::start(const Pending& alert, SteadyTime now) {
  const std::string what = alert.name + "'s " + alert.event;
  auto input = make_input_pipe();
  if (!input) {
    log::warn("alert for {} not sent: {}", what, input.error().message);
    return;
  }
  SpawnOptions spawn;
  spawn.argv = command_;
  spawn.env = {{"QC_EVENT", alert.event}, {"QC_NAME", alert.name}, {"QC_ACCOUNT", alert.account},
               {"QC_STATUS", alert.status}};
  spawn.stdin_from = input->read_end;
  spawn.own_process_group = true;
  auto child = spawn_process(spawn);
  close_handle(input->read_end);
  if (!child) {
    close_handle(input->write_end);
    log::warn("alert for {} not sent: cannot run {}", what, child.error().message);
    return;
  }
  if (!write_now(input->write_end, alert.json)) {
    log::warn("alert for {}: {} did not take the event on its stdin", what, join_command(command_));
  }
  close_handle(input->write_end);
  loop_.watch_child(*child);
  auto running = std::make_unique<Running>();
  running->child = std::move(*child);
  running->kill_at = after(now, kTimeoutS);
  running->what = what;
  running_.push_back(std::move(running));
}

bool AlertRunner::on_exit(Pid pid, const ExitStatus& status) {
  auto it = std::find_if(running_.begin(), running_.end(), [pid](const auto& r) { return r->child.pid() == pid; });
  if (it == running_.end()) return false;
  loop_.unwatch_child(pid);
  if ((*it)->killed) {
    log::warn("alert for {}: {} ran longer than {}s and was killed", (*it)->what, join_command(command_), kTimeoutS);
  } else if (!status.success()) {
    log::warn("alert for {}: {} {}", (*it)->what, join_command(command_), status.describe());
  }
  running_.erase(it);
  start_waiting();
  return true;
}

std::optional<SteadyTime> AlertRunner::next_deadline() const {
  std::optional<SteadyTime> deadline;
  for (const auto& r : running_) {
    if (!r->killed && (!deadline || r->kill_at < *deadline)) deadline = r->kill_at;
  }
  return deadline;
}

void AlertRunner::on_deadline(SteadyTime now) {
  for (auto& r : running_) {
    if (r->killed || now < r->kill_at) continue;
    r->killed = true;
    send_signal(r->child, Signal::kKill, true);
  }
}

bool AlertRunner::busy() const { return !running_.empty() || !waiting_.empty(); }

void AlertRunner::kill_remaining() {
  for (auto& r : running_) {
    log::warn("alert for {}: {} still ran at exit and was killed", r->what, join_command(command_));
    send_signal(r->child, Signal::kKill, true);
  }
  running_.clear();
  for (const auto& w : waiting_) log::warn("alert for {}'s {} not sent: qc is exiting", w.name, w.event);
  waiting_.clear();
}

}  // namespace qc
