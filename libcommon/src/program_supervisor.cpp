// One program's supervision as a state machine (see program_supervisor.hpp).
#include "qc/program_supervisor.hpp"

#include <algorithm>
#include <cmath>

namespace qc {

const char* restart_mode_name(RestartMode mode) {
  switch (mode) {
    case RestartMode::kNo: return "no";
    case RestartMode::kOnFailure: return "on-failure";
    case RestartMode::kAlways: return "always";
  }
  return "?";
}

std::optional<RestartMode> parse_restart_mode(const std::string& text) {
  if (text == "no") return RestartMode::kNo;
  if (text == "on-failure") return RestartMode::kOnFailure;
  if (text == "always") return RestartMode::kAlways;
  return std::nullopt;
}

const char* program_state_name(ProgramState state) {
  switch (state) {
    case ProgramState::kStopped: return "STOPPED";
    case ProgramState::kStarting: return "STARTING";
    case ProgramState::kRunning: return "RUNNING";
    case ProgramState::kBackoff: return "BACKOFF";
    case ProgramState::kStopping: return "STOPPING";
    case ProgramState::kExited: return "EXITED";
    case ProgramState::kFatal: return "FATAL";
  }
  return "?";
}

const char* record_state_name(ProgramState state) {
  switch (state) {
    case ProgramState::kStarting:
    case ProgramState::kRunning: return "running";
    case ProgramState::kBackoff: return "restarting";
    case ProgramState::kFatal: return "failed";
    case ProgramState::kStopping:
    case ProgramState::kStopped:
    case ProgramState::kExited: return "stopping";  // the name is about to be released
  }
  return "running";
}

double backoff_delay_s(const RestartPolicy& policy, int attempt) {
  if (attempt < 1) attempt = 1;
  const double doubled = policy.backoff_initial_s * std::pow(2.0, std::min(attempt - 1, 60));
  return std::max(0.0, std::min(doubled, policy.backoff_max_s));
}

namespace {
// Capped at about 30 years (as deadline_after is): nanoseconds overflow past 292 years.
SteadyTime after(SteadyTime now, double seconds) {
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(std::clamp(seconds, 0.0, 1e9)));
}
}  // namespace

ProgramSupervisor::ProgramSupervisor(ProgramSpec spec, ProcessControl& control, EventSink& sink)
    : spec_(std::move(spec)), control_(control), sink_(sink) {}

std::optional<SteadyTime> ProgramSupervisor::run_started() const {
  if (!process_) return std::nullopt;
  return run_start_;
}

bool ProgramSupervisor::finished() const {
  return state_ == ProgramState::kExited || state_ == ProgramState::kFatal ||
         (state_ == ProgramState::kStopped && stop_requested_);
}

void ProgramSupervisor::emit(const std::string& event, std::optional<int> status,
                             std::string detail, std::optional<double> delay_s, bool record_only) {
  SupervisorEvent e;
  e.record_state = record_state_name(state_);
  e.record_only = record_only;
  e.event = event;
  e.name = spec_.name;
  if (process_) {
    e.pid = process_->pid;
    e.pid_start = process_->start;
  }
  e.status = status;
  e.restarts = total_restarts_;
  e.delay_s = delay_s;
  e.detail = std::move(detail);
  sink_.emit(e);
}

void ProgramSupervisor::start(SteadyTime now) {
  if (state_ != ProgramState::kStopped || stop_requested_) return;
  spawn(now);
}

void ProgramSupervisor::spawn(SteadyTime now) {
  deadline_.reset();
  auto started = control_.start(spec_);
  if (!started && is_transient_spawn_error(started.error()) && spec_.restart.mode != RestartMode::kNo) {
    // The process limit was reached for a moment: a failed run, retried under the backoff.
    process_.reset();
    emit("start_failed", std::nullopt,
         "cannot start " + spec_.name + " for now: " + started.error().message +
             " (the process or memory limit was reached; it will be retried)");
    retry_or_give_up(now, 0.0, exit_code_for_spawn_error(started.error()));
    return;
  }
  if (!started) {
    // A command that cannot be executed will not be executable a second later either.
    spawn_error_ = started.error();
    process_.reset();
    state_ = ProgramState::kFatal;
    emit("gave_up", exit_code_for_spawn_error(started.error()),
         "cannot start " + spec_.name + ": " + started.error().message);
    return;
  }
  process_ = *started;
  run_start_ = now;
  killed_ = false;
  unhealthy_ = false;
  restart_requested_ = false;
  // Readiness orders the first start; a restarted run is not waited for again.
  state_ = spec_.needs_ready && !was_ready_ ? ProgramState::kStarting : ProgramState::kRunning;
  emit("started", std::nullopt, spec_.name + " started as PID " + std::to_string(process_->pid));
}

void ProgramSupervisor::mark_ready(SteadyTime) {
  if (state_ != ProgramState::kStarting) return;
  was_ready_ = true;
  state_ = ProgramState::kRunning;
  emit("ready", std::nullopt, spec_.name + " is ready");
}

void ProgramSupervisor::on_exit(const ExitStatus& status, SteadyTime now) {
  if (!process_) return;
  last_status_ = status;
  const int code = status.as_exit_code();
  const std::string how = spec_.name + " (PID " + std::to_string(process_->pid) + ") " + status.describe();
  const double ran_s =
      run_start_ ? std::chrono::duration<double>(now - *run_start_).count() : 0.0;

  if (state_ == ProgramState::kStopping && restart_requested_ && !stop_requested_) {
    emit("stopped", code, how + " (restarted on request)");
    process_.reset();
    spawn(now);
    return;
  }
  if (state_ == ProgramState::kStopping && unhealthy_ && !stop_requested_) {
    // Stopped because it failed its health checks: a failed run like a crash.
    unhealthy_ = false;
    emit("exited", code, how + " (stopped as unhealthy)");
    process_.reset();
    deadline_.reset();
    retry_or_give_up(now, ran_s, code);
    return;
  }
  if (state_ == ProgramState::kStopping) {
    emit("stopped", code, spec_.name + " (PID " + std::to_string(process_->pid) + ") stopped: " +
                              status.describe());
    process_.reset();
    deadline_.reset();
    state_ = ProgramState::kStopped;
    return;
  }
  emit("exited", code, how);
  process_.reset();
  deadline_.reset();

  // A death by a signal we did not send is a failure (docs/tools.md).
  const bool failed = !status.success();
  const RestartPolicy& p = spec_.restart;
  const bool restart = !stop_requested_ && (p.mode == RestartMode::kAlways ||
                                            (p.mode == RestartMode::kOnFailure && failed));
  if (!restart) {
    state_ = ProgramState::kExited;
    return;
  }
  retry_or_give_up(now, ran_s, code);
}

void ProgramSupervisor::retry_or_give_up(SteadyTime now, double ran_s, int code) {
  const RestartPolicy& p = spec_.restart;
  if (ran_s >= p.reset_after_s) consecutive_failures_ = 0;  // a long run earns a fresh start
  if (consecutive_failures_ >= p.max_restarts) {
    state_ = ProgramState::kFatal;
    emit("gave_up", code,
         "giving up on " + spec_.name + " after " + std::to_string(consecutive_failures_) +
             " restart" + (consecutive_failures_ == 1 ? "" : "s"));
    return;
  }
  ++consecutive_failures_;
  ++total_restarts_;
  const double delay = backoff_delay_s(p, consecutive_failures_);
  state_ = ProgramState::kBackoff;
  deadline_ = after(now, delay);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", delay);
  emit("restarting", code, "restarting " + spec_.name + " in " + buf + "s (restart " +
                                std::to_string(consecutive_failures_) + " of " +
                                std::to_string(p.max_restarts) + ")",
       delay);
}

void ProgramSupervisor::on_deadline(SteadyTime now) {
  if (!deadline_ || now < *deadline_) return;
  deadline_.reset();
  if (state_ == ProgramState::kBackoff) {
    spawn(now);
  } else if (state_ == ProgramState::kStopping && process_ && !killed_) {
    killed_ = true;
    control_.signal_group(process_->pid, Signal::kKill);
  }
}

void ProgramSupervisor::stop(Signal signal, SteadyTime now) {
  stop_requested_ = true;
  switch (state_) {
    case ProgramState::kStarting:
    case ProgramState::kRunning:
      state_ = ProgramState::kStopping;
      control_.signal_group(process_->pid, signal);
      deadline_ = after(now, spec_.stop_timeout_s);
      emit("stopping", std::nullopt, "", std::nullopt, /*record_only=*/true);
      break;
    case ProgramState::kBackoff:
      deadline_.reset();
      state_ = ProgramState::kStopped;
      emit("stopped", std::nullopt, spec_.name + " stopped while waiting to restart");
      break;
    default:
      break;
  }
}

void ProgramSupervisor::restart_unhealthy(const std::string& why, SteadyTime now) {
  if (state_ != ProgramState::kRunning || !process_ || stop_requested_) return;
  emit("unhealthy", std::nullopt,
       spec_.name + " (PID " + std::to_string(process_->pid) + ") is unhealthy: " + why + "; restarting it");
  unhealthy_ = true;
  state_ = ProgramState::kStopping;
  control_.signal_group(process_->pid, spec_.stop_signal);
  deadline_ = after(now, spec_.stop_timeout_s);
}

void ProgramSupervisor::no_more_restarts() {
  stop_requested_ = true;
  if (state_ == ProgramState::kBackoff) {
    deadline_.reset();
    state_ = ProgramState::kStopped;
    emit("stopped", std::nullopt, spec_.name + " stopped while waiting to restart");
  }
}

void ProgramSupervisor::revive(SteadyTime now, bool fresh) {
  if (!finished()) return;
  if (fresh) was_ready_ = false;
  stop_requested_ = false;
  consecutive_failures_ = 0;
  total_restarts_ = 0;
  spawn_error_.reset();
  state_ = ProgramState::kStopped;
  spawn(now);
}

void ProgramSupervisor::restart_now(SteadyTime now) {
  if (stop_requested_) return;
  if (state_ == ProgramState::kBackoff) {
    spawn(now);
    return;
  }
  if ((state_ != ProgramState::kRunning && state_ != ProgramState::kStarting) || !process_) return;
  restart_requested_ = true;
  unhealthy_ = false;
  state_ = ProgramState::kStopping;
  control_.signal_group(process_->pid, spec_.stop_signal);
  deadline_ = after(now, spec_.stop_timeout_s);
  emit("stopping", std::nullopt, "", std::nullopt, /*record_only=*/true);
}

void ProgramSupervisor::kill_now() {
  if (state_ == ProgramState::kBackoff || state_ == ProgramState::kStopped) {
    stop_requested_ = true;
    if (state_ == ProgramState::kBackoff) {
      deadline_.reset();
      state_ = ProgramState::kStopped;
      emit("stopped", std::nullopt, spec_.name + " stopped while waiting to restart");
    }
    return;
  }
  if (state_ == ProgramState::kStopping || state_ == ProgramState::kStarting ||
      state_ == ProgramState::kRunning) {
    if (process_ && !killed_) {
      killed_ = true;
      stop_requested_ = true;
      state_ = ProgramState::kStopping;
      control_.signal_group(process_->pid, Signal::kKill);
      deadline_.reset();
    }
  }
}

}  // namespace qc
