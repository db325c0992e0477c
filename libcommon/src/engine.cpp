// The supervision engine (engine.hpp): start order, readiness waits, stops, the end.
#include "qc/engine.hpp"

#include <algorithm>
#include <sstream>

#include "qc/exit_codes.hpp"

namespace qc {
namespace {

std::string seconds_text(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

SteadyTime after(SteadyTime now, double seconds) {
  return now + std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

SupervisionEngine::SupervisionEngine(std::vector<EngineProgram> programs, ProcessControl& control,
                                     EngineHost& host)
    : programs_(std::move(programs)),
      started_(programs_.size(), false),
      stop_sent_(programs_.size(), false),
      done_(programs_.size(), false),
      held_(programs_.size(), false),
      removed_(programs_.size(), false),
      standby_(programs_.size(), false),
      health_(programs_.size()),
      control_(control),
      host_(host) {
  for (auto& p : programs_) supervisors_.push_back(std::make_unique<ProgramSupervisor>(p.spec, control_, *p.sink));
}

std::optional<std::size_t> SupervisionEngine::find(Pid pid) const {
  for (std::size_t i = 0; i < supervisors_.size(); ++i) {
    auto process = supervisors_[i]->process();
    if (process && process->pid == pid) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> SupervisionEngine::find(const std::string& name) const {
  auto i = find_any(name);
  if (i && removed_[*i]) return std::nullopt;
  return i;
}

std::optional<std::size_t> SupervisionEngine::find_any(const std::string& name) const {
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (programs_[i].spec.name == name) return i;
  }
  return std::nullopt;
}

std::size_t SupervisionEngine::add(EngineProgram program, SteadyTime now) {
  programs_.push_back(std::move(program));
  const EngineProgram& p = programs_.back();
  supervisors_.push_back(std::make_unique<ProgramSupervisor>(p.spec, control_, *p.sink));
  started_.push_back(false);
  stop_sent_.push_back(false);
  done_.push_back(false);
  held_.push_back(false);
  removed_.push_back(false);
  standby_.push_back(false);
  health_.emplace_back();
  start_next(now);
  advance(now);
  return programs_.size() - 1;
}

void SupervisionEngine::remove(std::size_t index, SteadyTime now) {
  removed_[index] = true;
  held_[index] = false;
  if (checking_ == index) {  // it was being waited for: the order moves on without it
    host_.cancel_ready_check();
    checking_.reset();
  }
  stop_for_good(index, now);
  start_next(now);
  advance(now);
}

void SupervisionEngine::update(std::size_t index, EngineProgram program, SteadyTime now) {
  const bool health_changed = program.health.has_value() != programs_[index].health.has_value() ||
                              (program.health && (program.health->interval_s != programs_[index].health->interval_s ||
                                                  program.health->timeout_s != programs_[index].health->timeout_s ||
                                                  program.health->failures != programs_[index].health->failures));
  program.spec.needs_ready = programs_[index].spec.needs_ready;  // the start order is settled
  programs_[index] = std::move(program);
  supervisors_[index]->update_spec(programs_[index].spec);
  if (health_changed) {
    if (health_[index].in_flight) host_.cancel_health_check(index);
    health_[index] = HealthState{};
  }
  advance(now);
}

void SupervisionEngine::replace(std::size_t index, EngineProgram program, SteadyTime now) {
  update(index, std::move(program), now);
  // A program held by STOP stays stopped; one that has not had its turn starts in it, and
  // one that is stopping already ends this run (the next uses the new spec): RESTART
  // refuses both, which is what a reload wants here.
  if (!held_[index]) restart_program(index, now);
}

std::optional<std::string> SupervisionEngine::readd(std::size_t index, EngineProgram program, SteadyTime now) {
  if (stopping_) return std::string("everything is stopping");
  ProgramSupervisor& sup = *supervisors_[index];
  if (!sup.finished()) return programs_[index].spec.name + " is still stopping; reload again once it has stopped";
  update(index, std::move(program), now);
  removed_[index] = false;
  held_[index] = false;
  if (!started_[index]) return std::nullopt;  // removed before its turn: it starts in its turn
  return start_program(index, now);
}

void SupervisionEngine::start(SteadyTime now) {
  start_next(now);
  advance(now);
}

void SupervisionEngine::start_next(SteadyTime now) {
  while (!stopping_ && !checking_) {
    if (!takeovers_.empty()) {  // taken over in the fleet: in its place, before the next
      const std::size_t i = takeovers_.front();
      takeovers_.erase(takeovers_.begin());
      start_takeover(i, now);
      continue;
    }
    if (next_ >= programs_.size()) return;
    if (!start_at_) start_at_ = after(now, programs_[next_].start_delay_s);
    if (now < *start_at_) return;
    start_at_.reset();
    const std::size_t i = next_++;
    started_[i] = true;
    ProgramSupervisor& sup = *supervisors_[i];
    if (sup.finished()) continue;  // stopped on request before its turn
    if (host_.in_standby(i)) {    // it runs on another host: this one waits
      started_[i] = false;
      standby_[i] = true;
      continue;
    }
    if (auto refusal = host_.refuse_start(i)) {
      stop_all(exit_code::kNo, *refusal, now);
      return;
    }
    sup.start(now);
    if (sup.gave_up()) {
      stop_all(exit_code::kNo, "cannot start " + programs_[i].spec.name, now);
      return;
    }
    if (!programs_[i].spec.needs_ready) {
      host_.ready_without_check(i);
      continue;
    }
    checking_ = i;
    check_deadline_ = after(now, programs_[i].ready_timeout_s);
    if (Status s = host_.begin_ready_check(i, programs_[i].ready_timeout_s, now); !s) {
      checking_.reset();
      stop_all(exit_code::kNo, "cannot check " + programs_[i].spec.name + ": " + s.error().message, now);
      return;
    }
  }
}

void SupervisionEngine::on_ready_result(bool ready, const std::string& why_not, SteadyTime now) {
  if (!checking_) return;
  const std::size_t i = *checking_;
  ProgramSupervisor& sup = *supervisors_[i];
  const std::string& name = programs_[i].spec.name;
  const std::string timeout = seconds_text(programs_[i].ready_timeout_s);
  const bool takeover = checking_takeover_;
  checking_.reset();
  checking_takeover_ = false;
  auto not_ready = [&](const std::string& why) {
    if (!takeover) {
      stop_all(exit_code::kNo, why, now);
      return;
    }
    takeover_failed(i, why, now);
    start_next(now);
    advance(now);
  };
  if (ready && !sup.process()) {
    // An answer while the program is not running (it crashed, a restart is pending) is not
    // its answer: look again for what is left of the timeout.
    const double left_s = std::chrono::duration<double>(check_deadline_ - now).count();
    if (left_s > 0) {
      checking_ = i;
      checking_takeover_ = takeover;
      if (host_.begin_ready_check(i, left_s, now)) return;
      checking_.reset();
      checking_takeover_ = false;
    }
    not_ready(name + " was not ready within " + timeout + "s (" + programs_[i].ready_check +
              " answered while it was not running)");
    return;
  }
  if (!ready) {
    not_ready(name + " was not ready within " + timeout + "s (" + programs_[i].ready_check + ": " + why_not + ")");
    return;
  }
  sup.mark_ready(now);
  start_next(now);
  advance(now);
}

void SupervisionEngine::on_health_result(std::size_t index, bool healthy, const std::string& why_not,
                                         SteadyTime now) {
  HealthState& h = health_[index];
  if (!h.in_flight) return;
  h.in_flight = false;
  ProgramSupervisor& sup = *supervisors_[index];
  const auto process = sup.process();
  if (!process || process->pid != h.run || stopping_) return;  // an answer about a run that is over
  const HealthCheck& check = *programs_[index].health;
  if (healthy) {
    h.failed = 0;
  } else if (++h.failed >= check.failures) {
    const std::string why = std::to_string(h.failed) + " health check" + (h.failed == 1 ? "" : "s") +
                            " failed in a row (" + why_not + ")";
    h.failed = 0;
    h.next.reset();
    sup.restart_unhealthy(why, now);
    advance(now);
    return;
  }
  const SteadyTime due = after(h.started, check.interval_s);
  h.next = due > now ? due : now;
}

void SupervisionEngine::follow_health(SteadyTime now) {
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (!programs_[i].health) continue;
    HealthState& h = health_[i];
    const ProgramSupervisor& sup = *supervisors_[i];
    const auto process = sup.process();
    const bool checkable = !stopping_ && process && sup.state() == ProgramState::kRunning;
    if (!checkable || (h.run && process && *h.run != process->pid)) {
      if (h.in_flight) host_.cancel_health_check(i);
      h = HealthState{};
    }
    if (!checkable) continue;
    if (!h.run) {  // a run that became RUNNING: its first check one interval from now
      h.run = process->pid;
      h.next = after(now, programs_[i].health->interval_s);
    }
    if (h.in_flight || !h.next || now < *h.next) continue;
    h.next.reset();
    h.in_flight = true;
    h.started = now;
    if (Status s = host_.begin_health_check(i, programs_[i].health->timeout_s, now); !s) {
      on_health_result(i, false, s.error().message, now);
    }
  }
}

void SupervisionEngine::on_exit(Pid pid, const ExitStatus& status, SteadyTime now) {
  auto i = find(pid);
  if (!i) return;
  supervisors_[*i]->on_exit(status, now);
  if (!stopping_ && supervisors_[*i]->gave_up() && checking_ == *i) {
    if (checking_takeover_) {
      host_.cancel_ready_check();
      checking_.reset();
      checking_takeover_ = false;
      takeover_failed(*i, programs_[*i].spec.name + " gave up before it was ready", now);
      start_next(now);
    } else {
      stop_all(exit_code::kNo, programs_[*i].spec.name + " gave up before it was ready", now);
    }
  }
  advance(now);
}

void SupervisionEngine::on_deadline(SteadyTime now) {
  for (auto& sup : supervisors_) sup->on_deadline(now);
  start_next(now);
  advance(now);
}

std::optional<SteadyTime> SupervisionEngine::next_deadline() const {
  std::optional<SteadyTime> deadline;
  for (const auto& sup : supervisors_) deadline = earliest(deadline, sup->next_deadline());
  if (!stopping_) deadline = earliest(deadline, start_at_);
  for (const auto& h : health_) {
    if (!stopping_ && !h.in_flight) deadline = earliest(deadline, h.next);
  }
  return deadline;
}

void SupervisionEngine::stop_all(int exit_code, const std::string& why, SteadyTime now,
                                 std::optional<Signal> signal) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = exit_code;
  stop_signal_ = signal;
  host_.note(exit_code != 0, exit_code == 0 ? why : why + "; stopping what was started");
  if (checking_) {
    host_.cancel_ready_check();
    checking_.reset();
    checking_takeover_ = false;
  }
  takeovers_.clear();
  for (std::size_t i = 0; i < supervisors_.size(); ++i) {
    if (started_[i]) supervisors_[i]->no_more_restarts();
  }
  stop_cursor_ = static_cast<int>(next_) - 1;
  advance(now);
}

void SupervisionEngine::kill_all() {
  killing_ = true;
  for (std::size_t i = 0; i < supervisors_.size(); ++i) {
    if (started_[i]) supervisors_[i]->kill_now();
  }
}

void SupervisionEngine::stop_for_good(std::size_t index, SteadyTime now) {
  ProgramSupervisor& sup = *supervisors_[index];
  sup.no_more_restarts();  // also when it has not started yet: it never will
  sup.stop(programs_[index].spec.stop_signal, now);
  stop_sent_[index] = true;
  advance(now);
}

std::optional<std::string> SupervisionEngine::not_controllable(std::size_t index) const {
  const std::string& name = programs_[index].spec.name;
  if (stopping_) return "everything is stopping";
  if (!started_[index] && !held_[index]) {
    return name + " has not started yet: it starts in its turn, after the programs before it are ready";
  }
  return std::nullopt;
}

std::optional<std::string> SupervisionEngine::start_program(std::size_t index, SteadyTime now) {
  if (auto why = not_controllable(index)) return why;
  ProgramSupervisor& sup = *supervisors_[index];
  const std::string& name = programs_[index].spec.name;
  switch (sup.state()) {
    case ProgramState::kStarting:
    case ProgramState::kRunning:
      return name + " is already running (PID " + std::to_string(sup.process()->pid) + ")";
    case ProgramState::kBackoff:
      return name + " is waiting to restart; RESTART starts it now";
    case ProgramState::kStopping:
      return name + " is stopping; START it once it has stopped";
    default:
      break;
  }
  if (!sup.finished()) return name + " is not running yet";
  if (done_[index]) {
    if (auto refusal = host_.take_back(index)) return refusal;
    done_[index] = false;
  }
  held_[index] = false;
  stop_sent_[index] = false;
  started_[index] = true;  // also when it was stopped before its turn: it starts now instead
  sup.revive(now);
  if (sup.gave_up()) {
    std::string why = sup.spawn_error() ? sup.spawn_error()->message : "it could not be started";
    advance(now);
    return "cannot start " + name + ": " + why;
  }
  if (sup.state() == ProgramState::kStarting) sup.mark_ready(now);  // the start order is long settled
  advance(now);
  return std::nullopt;
}

std::optional<std::string> SupervisionEngine::stop_program(std::size_t index, SteadyTime now) {
  if (stopping_) return std::string("everything is stopping");
  const std::string& name = programs_[index].spec.name;
  if (held_[index]) return name + " is already stopped";
  held_[index] = true;
  stop_for_good(index, now);
  return std::nullopt;
}

std::optional<std::string> SupervisionEngine::restart_program(std::size_t index, SteadyTime now) {
  if (auto why = not_controllable(index)) return why;
  ProgramSupervisor& sup = *supervisors_[index];
  const std::string& name = programs_[index].spec.name;
  switch (sup.state()) {
    case ProgramState::kStarting:
    case ProgramState::kRunning:
    case ProgramState::kBackoff:
      sup.restart_now(now);
      advance(now);
      return std::nullopt;
    case ProgramState::kStopping:
      return name + " is stopping; START it once it has stopped";
    default:
      return start_program(index, now);
  }
}

// The fleet --------------------------------------------------------------------------------

bool SupervisionEngine::take_over(std::size_t index, SteadyTime now) {
  if (!standby_[index] || stopping_ || removed_[index]) return false;
  if (started_[index] && !supervisors_[index]->finished()) return false;  // still stopping
  standby_[index] = false;
  takeovers_.insert(std::upper_bound(takeovers_.begin(), takeovers_.end(), index), index);
  start_next(now);
  advance(now);
  return true;
}

void SupervisionEngine::start_takeover(std::size_t i, SteadyTime now) {
  ProgramSupervisor& sup = *supervisors_[i];
  held_[i] = false;
  done_[i] = false;  // what serves it is the host's again (its names were just taken)
  stop_sent_[i] = false;
  started_[i] = true;
  if (sup.finished()) {
    sup.revive(now, /*fresh=*/true);
  } else {
    sup.start(now);
  }
  if (sup.gave_up()) {
    takeover_failed(i, "cannot start " + programs_[i].spec.name +
                           (sup.spawn_error() ? ": " + sup.spawn_error()->message : std::string()),
                    now);
    return;
  }
  if (!programs_[i].spec.needs_ready) {
    host_.ready_without_check(i);
    return;
  }
  checking_ = i;
  checking_takeover_ = true;
  check_deadline_ = after(now, programs_[i].ready_timeout_s);
  if (Status s = host_.begin_ready_check(i, programs_[i].ready_timeout_s, now); !s) {
    checking_.reset();
    checking_takeover_ = false;
    takeover_failed(i, "cannot check " + programs_[i].spec.name + ": " + s.error().message, now);
  }
}

void SupervisionEngine::takeover_failed(std::size_t i, const std::string& why, SteadyTime now) {
  host_.note(true, why + "; it stops here and its name goes back to the fleet");
  stop_for_good(i, now);
}

void SupervisionEngine::to_standby(std::size_t index, SteadyTime now) {
  if (stopping_ || removed_[index]) return;
  if (!started_[index] && !standby_[index] && !held_[index]) return;  // before its turn
  takeovers_.erase(std::remove(takeovers_.begin(), takeovers_.end(), index), takeovers_.end());
  if (checking_ == index) {
    host_.cancel_ready_check();
    checking_.reset();
    checking_takeover_ = false;
  }
  held_[index] = false;
  standby_[index] = true;
  stop_for_good(index, now);
  start_next(now);
}

void SupervisionEngine::mark_done(std::size_t index) {
  if (done_[index]) return;
  done_[index] = true;
  host_.program_done(index);
}

// Moves whatever can move: the reverse-order stop, programs stopped for good that have
// ended, and the end of it all.
void SupervisionEngine::advance(SteadyTime now) {
  if (finished_) return;
  follow_health(now);
  if (stopping_) {
    while (stop_cursor_ >= 0) {
      const auto i = static_cast<std::size_t>(stop_cursor_);
      ProgramSupervisor& sup = *supervisors_[i];
      if (!started_[i] || sup.finished()) {
        mark_done(i);
        --stop_cursor_;
        continue;
      }
      if (!stop_sent_[i]) {
        stop_sent_[i] = true;
        sup.stop(stop_signal_.value_or(programs_[i].spec.stop_signal), now);
        if (killing_) sup.kill_now();
        continue;  // it may have finished at once (it was waiting to restart)
      }
      return;  // wait for its exit or its stop timeout
    }
    for (std::size_t i = 0; i < supervisors_.size(); ++i) mark_done(i);
    finished_ = true;
    return;
  }
  for (std::size_t i = 0; i < supervisors_.size(); ++i) {
    if (stop_sent_[i] && supervisors_[i]->finished()) mark_done(i);
  }
  if (next_ < programs_.size() || checking_ || !takeovers_.empty()) return;
  bool any_gave_up = false;
  bool any_left = false;
  for (std::size_t i = 0; i < supervisors_.size(); ++i) {
    // A held program waits for START, one in standby for its name.
    if (!supervisors_[i]->finished() || held_[i] || standby_[i]) return;
    if (removed_[i]) continue;
    any_left = true;
    any_gave_up = any_gave_up || supervisors_[i]->gave_up();
  }
  if (!any_left) return;  // a reload removed every program: the next one may add some
  for (std::size_t i = 0; i < supervisors_.size(); ++i) mark_done(i);
  exit_code_ = any_gave_up ? exit_code::kNo : exit_code::kOk;
  host_.note(false, std::string("every program has ended") + (any_gave_up ? "; some gave up" : ""));
  finished_ = true;
}

}  // namespace qc
