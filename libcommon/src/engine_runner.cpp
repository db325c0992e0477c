// The supervision engine run for real (qc/engine_runner.hpp): the event loop of qc-run and
// qc-launch. What starts when and what stops in which order is the engine's (engine.cpp);
// this file does what the engine asks and tells it what happened.
#include "qc/engine_runner.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "qc/alerts.hpp"
#include "qc/control.hpp"
#include "qc/engine.hpp"
#include "qc/exit_codes.hpp"
#include "qc/guardian.hpp"
#include "qc/health.hpp"
#include "qc/lock_record.hpp"
#include "qc/lock_table.hpp"
#include "qc/net.hpp"
#include "qc/paths.hpp"
#include "qc/text.hpp"

namespace qc {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// Whether a program's ready target already answers before the program starts (a TCP
// connect within 200 ms): then a check could pass on someone else's listener. Says who
// answered, as far as a connect can tell.
std::optional<std::string> ready_target_taken(const ReadySpec& r) {
  if (r.kind == ReadySpec::Kind::kNone) return std::nullopt;
  std::string target = r.target;
  if (target.rfind("tcp://", 0) == 0) target = target.substr(6);
  std::string host, port;
  if (!split_host_port(target, host, port)) return std::nullopt;
  auto never = Notifier::create();
  if (!never) return std::nullopt;
  std::string why;
  if (tcp_connect_probe(host, port, 200, (*never)->handle(), why) != ProbeOutcome::kSucceeded) {
    return std::nullopt;
  }
  return "a TCP connect to " + target + " succeeded";
}

EngineProgram engine_program(const SupervisedProgram& p, EventSink* sink) {
  std::optional<HealthCheck> health;
  if (p.health) health = HealthCheck{p.health->interval_s, p.health->check.timeout_s, p.health->failures};
  return {p.spec, p.start_delay_s, p.ready.timeout_s, check_text(p.ready), sink, health};
}

}  // namespace

// What the engine asks of the runner (EngineHost, engine.hpp).
class EngineRunner::Host : public EngineHost {
 public:
  explicit Host(EngineRunner& r) : r_(r) {}

  // A ready target that answers before its program starts could pass a check on someone
  // else's listener.
  std::optional<std::string> refuse_start(std::size_t index) override {
    const SupervisedProgram& plan = r_.slots_[index].plan;
    auto taken = ready_target_taken(plan.ready);
    if (!taken) return std::nullopt;
    const std::string what = plan.spec.name + "'s ready check " + check_text(plan.ready) + " already answers before " +
                             plan.spec.name + " starts (" + *taken + "): another process listens there";
    if (plan.ready.kind == ReadySpec::Kind::kTcp) {
      // A connect cannot tell whose listener answered: readiness cannot be observed.
      return what + ", so a connect cannot tell whether " + plan.spec.name +
             " is ready; stop that process or change \"ready\"";
    }
    // A heartbeat must still say SUCCESS, and only while the program itself runs.
    log::warn("{}; an answer counts only while {} runs", what, plan.spec.name);
    return std::nullopt;
  }

  Status begin_ready_check(std::size_t index, double timeout_s, SteadyTime) override {
    ReadySpec check = r_.slots_[index].plan.ready;
    const bool again = check.timeout_s != timeout_s;
    check.timeout_s = timeout_s;
    auto probe = ReadinessProbe::start(check);
    if (!probe) return probe.error();
    r_.probe_ = std::move(*probe);
    r_.loop_->watch_readable(r_.probe_->wake_handle());
    if (!again) {
      log::info("waiting for {} to be ready ({}, up to {}s)", r_.slots_[index].plan.spec.name, check_text(check),
                timeout_s);
    }
    return {};
  }

  void cancel_ready_check() override {
    if (!r_.probe_) return;
    r_.loop_->unwatch_readable(r_.probe_->wake_handle());
    r_.probe_.reset();
  }

  void ready_without_check(std::size_t index) override {
    if (!r_.settings_.json || !r_.settings_.ready_events) return;
    SupervisorEvent e;
    e.event = "ready";
    e.name = r_.slots_[index].plan.spec.name;
    if (auto proc = r_.engine_->program(index).process()) e.pid = proc->pid;
    e.restarts = r_.engine_->program(index).restarts();
    r_.json_events_.emit(e);
  }

  void program_done(std::size_t index) override {
    Slot& s = r_.slots_[index];
    if (s.pump) s.pump->drain_rest();
    // A fleet program that waits in standby (or for START) keeps this host's lock.
    r_.release_names(s, r_.member_ && !r_.engine_->stopping() && !r_.engine_->removed(index));
  }

  bool in_standby(std::size_t index) override { return r_.member_ && r_.slots_[index].fleet_token == 0; }

  // A program stopped by STOP gave its name back: START takes it again, unless someone else
  // has taken it meanwhile.
  std::optional<std::string> take_back(std::size_t index) override {
    Slot& s = r_.slots_[index];
    if (s.lock) return std::nullopt;
    const auto& spec = s.plan.spec;
    if (s.in_fleet) return spec.name + "'s fleet name was given back; it is taken again when its supervisor starts";
    auto got = acquire_lock(r_.settings_.lock_dir, spec.name, r_.record_for(spec.name, spec.command, spec.account));
    if (auto* conflict = std::get_if<LockConflict>(&got)) return describe_conflict(*conflict);
    if (auto* error = std::get_if<Error>(&got)) return "cannot take " + spec.name + ": " + error->message;
    s.lock.emplace(std::move(std::get<HeldLock>(got)));
    r_.children_->set_handles(spec.name, &*s.lock, s.output);
    guardian::watch_lock_file(s.lock->path());
    return std::nullopt;
  }

  Status begin_health_check(std::size_t index, double timeout_s, SteadyTime) override {
    r_.health_->set(index, r_.slots_[index].plan.health->check);
    return r_.health_->begin(index, timeout_s);
  }

  void cancel_health_check(std::size_t index) override { r_.health_->cancel(index); }

  void note(bool error, const std::string& text) override {
    if (!r_.settings_.engine_notes || text.empty()) return;
    if (error) {
      log::error("{}", text);
    } else {
      log::info("{}", text);
    }
  }

 private:
  EngineRunner& r_;
};

EngineRunner::EngineRunner(RunnerSettings settings, RunnerHooks& hooks)
    : settings_(std::move(settings)), hooks_(hooks), json_events_(std::cout) {}

EngineRunner::~EngineRunner() {
  if (guardian_started_) guardian::dismiss();  // idempotent: tear_down() may have done it
}

void EngineRunner::start_guardian(double stop_timeout_s) {
  if (guardian_started_) return;
  guardian_started_ = true;
  if (!guardian::start(stop_timeout_s)) {
    log::warn("cannot start the guardian process: if {} is killed, descendants outside its programs' "
              "process groups may run on",
              settings_.tool);
  }
}

LockRecord EngineRunner::record_for(const std::string& name, const std::vector<std::string>& command,
                                    const std::optional<std::string>& account) const {
  return own_lock_record(name, settings_.tool, command, account);
}

void EngineRunner::hold_own_lock(HeldLock lock, LockRecord record) {
  own_lock_.emplace(std::move(lock));
  own_record_ = std::move(record);
}

void EngineRunner::join_fleet(std::unique_ptr<FleetMember> member) { member_ = std::move(member); }

void EngineRunner::add(SupervisedProgram program, HeldLock lock, std::unique_ptr<FleetHold> fleet) {
  Slot& s = slots_.emplace_back();
  s.plan = std::move(program);
  s.lock.emplace(std::move(lock));
  if (fleet) s.plan.spec.env.emplace_back("QC_FENCING_TOKEN", std::to_string(fleet->fencing_token()));
  s.in_fleet = fleet != nullptr;
  s.fleet = std::move(fleet);
}

// Its log file and output pipe, its lock record, where its events go.
int EngineRunner::set_up(Slot& s) {
  const std::string& name = s.plan.spec.name;
  if (settings_.log_dir) {
    const std::string path = path_string(to_path(*settings_.log_dir) / (name + ".log"));
    std::string error;
    s.log = log::File::open(path, settings_.log_max_bytes, settings_.log_files, error);
    if (!s.log) {
      log::error("cannot open log file {}: {}", path, error);
      return exit_code::kCannotCreate;
    }
    if (settings_.log_ours_to_program_log) log::attach(s.log);
    auto pipe = make_output_pipe();
    if (!pipe) {
      log::error("{}", pipe.error().message);
      return exit_code::kCannotCreate;
    }
    s.pump = std::make_unique<OutputPump>(pipe->read_end, s.log);
    s.output = pipe->write_end;
    s.pump->attach(*loop_);
  }
  children_->set_handles(name, &*s.lock, s.output);
  LockRecord record = record_for(name, s.plan.spec.command, s.plan.spec.account);
  if (s.fleet) {
    record.fencing_token = s.fleet->fencing_token();
    loop_->watch_readable(s.fleet->wake_handle());
  }
  s.record = std::make_unique<LockRecordUpdater>(*s.lock, std::move(record));
  s.sink.add(s.record.get());
  s.sink.add(&log_events_);
  if (settings_.json) s.sink.add(&json_events_);
  if (alerts_) {
    s.alerts = &alerts_->sink_for(s.plan.spec.account);
    s.sink.add(s.alerts);
  }
  return exit_code::kOk;
}

int EngineRunner::run() {
  // If we are killed, the guardian stops what we started: forked before the event loop
  // blocks signals and before any thread exists (start_guardian()).
  double longest_stop_s = 0;
  for (const auto& s : slots_) longest_stop_s = std::max(longest_stop_s, s.plan.spec.stop_timeout_s);
  start_guardian(longest_stop_s);
  for (const auto& s : slots_) guardian::watch_lock_file(s.lock->path());
  adopt_orphaned_descendants();
  auto fail = [this](int code) {
    tear_down();
    return code;
  };
  auto loop = EventLoop::create({Signal::kInterrupt, Signal::kTerminate, Signal::kHangup,
                                 Signal::kUser1, Signal::kUser2});
  if (!loop) {
    log::error("{}", loop.error().message);
    return fail(exit_code::kCannotCreate);
  }
  loop_.emplace(std::move(*loop));
  if (settings_.stop_requests) {
    std::vector<std::int32_t> tokens;
    for (const auto& s : slots_) tokens.push_back(program_stop_token(s.plan.spec.name));
    loop_->accept_stop_requests(tokens);
  }
  if (!settings_.on_event.empty()) alerts_ = std::make_unique<AlertRunner>(settings_.on_event, *loop_);
  health_ = std::make_unique<EngineHealthChecks>(*loop_);
  children_ = std::make_unique<ChildProcesses>(*loop_);
  host_ = std::make_unique<Host>(*this);
  std::vector<EngineProgram> programs;
  for (auto& s : slots_) {
    if (int rc = set_up(s); rc != exit_code::kOk) return fail(rc);
    programs.push_back(engine_program(s.plan, &s.sink));
  }
  engine_ = std::make_unique<SupervisionEngine>(std::move(programs), *children_, *host_);
  lock_changes_ = lock_change_handle();
  if (lock_changes_ != kInvalidHandle) loop_->watch_readable(lock_changes_);
  if (settings_.control && own_lock_) start_control();
  if (member_ && !settle_fleet()) {
    tear_down();
    return exit_code::kOk;
  }

  engine_->start(Clock::now());
  if (member_) show_standbys();
  for (;;) {
    const auto before = Clock::now();
    hooks_.on_wake(before);
    if (engine_->finished()) {
      if (!alerts_ || !alerts_->busy()) break;
      if (!alerts_until_) alerts_until_ = before + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(AlertRunner::kExitGraceS));
      if (before >= *alerts_until_) break;
    }
    auto events = loop_->wait(next_deadline());
    if (!events) {
      log::error("{}", events.error().message);
      if (!engine_->stopping()) {
        engine_->stop_all(exit_code::kNo, "the event loop failed", Clock::now());
      } else {
        engine_->kill_all();
      }
      continue;
    }
    const auto now = Clock::now();
    const auto& readable = events->readable;
    auto woke = [&readable](NativeHandle h) {
      return h != kInvalidHandle && std::find(readable.begin(), readable.end(), h) != readable.end();
    };
    if (woke(lock_changes_)) verify_locks(now);
    check_fleet(readable, now);
    if (member_) on_fleet_updates(now);
    for (const auto& exit : events->exits) {
      if (alerts_ && alerts_->on_exit(exit.pid, exit.status)) continue;
      if (!engine_->find(exit.pid)) continue;  // an adopted descendant, or the guardian
      children_->reaped(exit.pid);
      engine_->on_exit(exit.pid, exit.status, now);
    }
    on_signals(events->signals, now);
    if (control_ && woke(control_->wake_handle())) {
      control_->answer([this, now](const std::string& action, const std::string& payload) {
        return on_control(action, payload, now);
      });
    }
    on_probe(now);
    health_->deliver(readable, *engine_, now);
    engine_->on_deadline(now);
    if (alerts_) alerts_->on_deadline(now);
    // Output last, and a bounded share of it per program: signals, exits and deadlines first.
    for (auto& s : slots_) {
      if (!s.pump) continue;
      if (woke(s.pump->handle())) s.pump->drain();
      s.pump->on_deadline(now);
    }
  }
  tear_down();
  return engine_->exit_code();
}

void EngineRunner::on_signals(const std::vector<SignalEvent>& signals, SteadyTime now) {
  for (const auto& s : signals) {
    if (s.signal == Signal::kUser2 && s.value && settings_.stop_requests) {
      if (!engine_->stopping()) stop_by_token(*s.value, now);
    } else if (s.signal == Signal::kUser1 || s.signal == Signal::kUser2 || s.signal == Signal::kHangup) {
      hooks_.on_signal(s, now);
    } else if (engine_->finished()) {  // only alerts are left: no more waiting for them
      alerts_until_ = now;
    } else if (!engine_->stopping()) {
      stop_requested_ = true;
      std::optional<Signal> stop;
      if (settings_.stop_with_received_signal) stop = s.signal;
      if (slots_.size() == 1) {
        const Signal sent = stop ? *stop : slots_[0].plan.spec.stop_signal;
        log::info("stopping {} ({} to its process group)", slots_[0].plan.spec.name, signal_name(signal_number(sent)));
      } else {
        log::info("stopping every program ({})", signal_name(s.number));
      }
      engine_->stop_all(exit_code::kOk, "", now, stop);
    } else if (!engine_->killing()) {  // a second request: no more waiting
      log::info("stopping now: SIGKILL to every program");
      engine_->kill_all();
    }
  }
}

void EngineRunner::signal_program(std::size_t index, Signal signal) {
  if (auto process = engine_->program(index).process()) children_->signal_group(process->pid, signal);
}

// qc-shutdown NAME: stop that program for good (no restart) and give its name back.
void EngineRunner::stop_by_token(std::int32_t token, SteadyTime now) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (engine_->removed(i) || program_stop_token(slots_[i].plan.spec.name) != token) continue;
    log::info("stopping {} on request; the others run on", slots_[i].plan.spec.name);
    if (auto refusal = engine_->stop_program(i, now)) log::info("{}", *refusal);  // as a control STOP
    return;
  }
  log::warn("a stop request named no program of {} (token {})", settings_.tool, token);
}

// A lock file removed or replaced under us is put back; a name another process took meanwhile
// is lost: that program stops for good (the supervisor's own name: everything stops), so
// that one copy remains.
void EngineRunner::verify_locks(SteadyTime now) {
  drain_lock_changes();
  FanoutSink to_people;
  to_people.add(&log_events_);
  if (settings_.json) to_people.add(&json_events_);
  if (own_lock_ && !engine_->stopping()) {
    const auto verdict = own_lock_->verify_and_restore(own_record_);
    if (verdict.integrity == HeldLock::Integrity::kLost) {
      engine_->stop_all(exit_code::kLockHeld,
                        "lost " + own_record_.name + ": its lock file was removed and " +
                            (verdict.taken_by ? describe_conflict(*verdict.taken_by)
                                              : std::string("another process took it")),
                        now);
      return;
    }
    if (verdict.integrity == HeldLock::Integrity::kRestored) {
      log::warn("{} was removed or replaced; put back", own_lock_->path());
    }
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.lock || !s.record || s.lock_lost) continue;
    FanoutSink told = to_people;
    if (s.alerts) told.add(s.alerts);
    if (!s.record->verify(told)) continue;
    s.lock_lost = true;
    engine_->stop_for_good(i, now);
  }
}

// A lease_lost event for program `index` (its sinks: log, JSON, record, alerts).
void EngineRunner::tell_lease_lost(std::size_t index, const std::string& why, const std::string& then) {
  Slot& s = slots_[index];
  SupervisorEvent e;
  e.event = "lease_lost";
  e.name = s.plan.spec.name;
  if (auto process = engine_->program(index).process()) e.pid = process->pid;
  e.restarts = engine_->program(index).restarts();
  e.record_state = "stopping";
  e.detail = "lost " + e.name + " in the fleet: " + why +
             "; stopping it before the lease can expire, so that no other host runs it beside this one" + then;
  s.sink.emit(e);
}

// Self-fencing (docs/fleet.md): a program whose lease could not be renewed in time stops for
// good before the lease can expire, so that no other host runs it beside this one.
void EngineRunner::check_fleet(const std::vector<NativeHandle>& readable, SteadyTime now) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.fleet) continue;
    if (std::find(readable.begin(), readable.end(), s.fleet->wake_handle()) != readable.end()) s.fleet->clear_wake();
    if (s.lock_lost || now < s.fleet->fence_deadline(s.plan.spec.stop_timeout_s)) continue;
    s.lock_lost = true;
    tell_lease_lost(i, s.fleet->failure(), "");
    engine_->stop_for_good(i, now);
  }
}

// The fleet name first, then the local lock (docs/fleet.md).
void EngineRunner::release_names(Slot& s, bool keep_local) {
  if (s.fleet) {
    if (loop_) loop_->unwatch_readable(s.fleet->wake_handle());
    s.fleet->release();
    s.fleet.reset();
  }
  if (member_ && s.fleet_token != 0) {
    member_->give_back(s.plan.spec.name, s.fleet_token);
    s.fleet_token = 0;
    if (s.record) s.record->set_fencing_token(std::nullopt);
  }
  if (s.lock && !keep_local) {
    if (Status st = s.lock->release(); !st) log::warn("{}", st.error().message);
    s.lock.reset();
  }
}

void EngineRunner::on_probe(SteadyTime now) {
  if (!probe_) return;
  auto outcome = probe_->outcome();
  if (!outcome) return;
  const std::string failure = probe_->last_failure();
  host_->cancel_ready_check();
  engine_->on_ready_result(*outcome, failure, now);
}

std::optional<SteadyTime> EngineRunner::next_deadline() const {
  std::optional<SteadyTime> deadline = earliest(engine_->next_deadline(), alerts_until_);
  if (alerts_) deadline = earliest(deadline, alerts_->next_deadline());
  for (const auto& s : slots_) {
    if (s.pump) deadline = earliest(deadline, s.pump->deadline());
    if (s.fleet && !s.lock_lost) deadline = earliest(deadline, s.fleet->fence_deadline(s.plan.spec.stop_timeout_s));
    if (member_ && s.fleet_token != 0) deadline = earliest(deadline, member_->fence_deadline(s.plan.spec.stop_timeout_s));
  }
  deadline = earliest(deadline, fleet_retry_at_);
  return earliest(deadline, hooks_.deadline());
}

void EngineRunner::tear_down() {
  for (auto& s : slots_) {
    close_handle(s.output);  // first: a reader thread (Windows) sees the end once every writer is gone
    s.output = kInvalidHandle;
    if (s.pump) {
      s.pump->drain_rest();
      s.pump->flush();
    }
    release_names(s);
  }
  if (member_) member_->leave();  // the lease revoked: whatever it still held goes at once
  // The control endpoint and its secret go before the name: a successor's are never removed.
  control_.reset();
  if (!control_secret_.empty()) {
    std::error_code ignored;
    fs::remove(to_path(control_secret_path(settings_.lock_dir, own_record_.name)), ignored);
  }
  own_lock_.reset();
  if (alerts_) alerts_->kill_remaining();
  guardian::dismiss();
}

// Reload ---------------------------------------------------------------------------------

std::optional<std::string> EngineRunner::add_running(SupervisedProgram program, HeldLock lock, SteadyTime now) {
  Slot& s = slots_.emplace_back();
  s.plan = std::move(program);
  s.lock.emplace(std::move(lock));
  if (set_up(s) != exit_code::kOk) {
    slots_.pop_back();  // every slot is the engine's program of the same index
    return "its log file or output pipe cannot be set up (see the log)";
  }
  guardian::watch_lock_file(s.lock->path());
  if (settings_.stop_requests) loop_->accept_stop_requests({program_stop_token(s.plan.spec.name)});
  engine_->add(engine_program(s.plan, &s.sink), now);  // in the fleet: in standby until taken
  if (member_) try_take(slots_.size() - 1);
  return std::nullopt;
}

void EngineRunner::remove(std::size_t index, SteadyTime now) { engine_->remove(index, now); }

void EngineRunner::update(std::size_t index, SupervisedProgram program, SteadyTime now) {
  Slot& s = slots_[index];
  s.plan = std::move(program);
  engine_->update(index, engine_program(s.plan, &s.sink), now);
}

void EngineRunner::replace(std::size_t index, SupervisedProgram program, SteadyTime now) {
  Slot& s = slots_[index];
  s.plan = std::move(program);
  s.record->describe(s.plan.spec.command, s.plan.spec.account);
  engine_->replace(index, engine_program(s.plan, &s.sink), now);
}

std::optional<std::string> EngineRunner::readd(std::size_t index, SupervisedProgram program, SteadyTime now) {
  if (member_) return program.spec.name + " was removed earlier; in a fleet it comes back when qc-launch starts again";
  Slot& s = slots_[index];
  s.plan = std::move(program);
  s.record->describe(s.plan.spec.command, s.plan.spec.account);
  return engine_->readd(index, engine_program(s.plan, &s.sink), now);
}

// Status and control ----------------------------------------------------------------------

std::string EngineRunner::state_word(std::size_t i) const {
  if (engine_->held(i)) return "stopped";
  if (engine_->standby(i)) return member_ && member_->stopped(slots_[i].plan.spec.name) ? "stopped" : "standby";
  if (!engine_->started(i)) return "waiting";
  switch (engine_->program(i).state()) {
    case ProgramState::kStarting: return "starting";
    case ProgramState::kRunning: return "running";
    case ProgramState::kBackoff: return "restarting";
    case ProgramState::kStopping: return "stopping";
    case ProgramState::kStopped: return "stopped";
    case ProgramState::kExited: return "exited";
    case ProgramState::kFatal: return "failed";
  }
  return "?";
}

void EngineRunner::report_status() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (engine_->removed(i)) continue;
    const auto& name = slots_[i].plan.spec.name;
    const auto& sup = engine_->program(i);
    const auto process = sup.process();
    std::optional<long long> uptime;
    if (auto started = sup.run_started()) {
      uptime = std::chrono::duration_cast<std::chrono::seconds>(now - *started).count();
    }
    log::info("status: {} {} pid={} uptime={} restarts={}", name, program_state_name(sup.state()),
              process ? std::to_string(process->pid) : "-",
              uptime ? format_duration(std::chrono::seconds(*uptime)) : "-", sup.restarts());
    if (settings_.json) {
      ordered_json j;
      j["event"] = "status";
      j["name"] = name;
      j["state"] = program_state_name(sup.state());
      j["pid"] = process ? ordered_json(process->pid) : ordered_json(nullptr);
      j["uptime_s"] = uptime ? ordered_json(*uptime) : ordered_json(nullptr);
      j["restarts"] = sup.restarts();
      j["time"] = iso8601_now();
      std::cout << dump(j) << std::endl;
    }
  }
}

std::string EngineRunner::status_json() const {
  const auto now = Clock::now();
  ordered_json programs = ordered_json::array();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (engine_->removed(i)) continue;
    const auto& spec = slots_[i].plan.spec;
    const auto& sup = engine_->program(i);
    const auto process = sup.process();
    ordered_json j;
    j["name"] = spec.name;
    j["account"] = spec.account ? ordered_json(*spec.account) : ordered_json(nullptr);
    j["state"] = state_word(i);
    j["pid"] = own_record_.pid;
    j["child_pid"] = process ? ordered_json(process->pid) : ordered_json(nullptr);
    if (auto started = sup.run_started()) {
      j["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(now - *started).count();
    } else {
      j["uptime_s"] = nullptr;
    }
    j["restarts"] = sup.restarts();
    j["last_status"] = sup.last_status() ? ordered_json(sup.last_status()->as_exit_code()) : ordered_json(nullptr);
    if (member_) {
      const Slot& s = slots_[i];
      ordered_json f;
      f["holds"] = s.fleet_token != 0;
      f["fencing_token"] = s.fleet_token != 0 ? ordered_json(s.fleet_token) : ordered_json(nullptr);
      f["stopped"] = member_->stopped(spec.name);
      f["holder"] = s.fleet_holder.empty() ? ordered_json(nullptr) : ordered_json(s.fleet_holder);
      j["fleet"] = std::move(f);
    }
    programs.push_back(std::move(j));
  }
  ordered_json out;
  out["name"] = own_record_.name;
  out["pid"] = own_record_.pid;
  for (const auto& [key, value] : settings_.status_fields) out[key] = value;
  if (member_) {
    out["fleet"] = {{"host", member_->host()},
                    {"lease_left_s", std::round(member_->lease_left_s() * 10) / 10}};
  }
  out["programs"] = std::move(programs);
  return dump(out);
}

// The control endpoint goes into our lock file's "control" key, where qc-launch --status
// and qc-shutdown find it. Without it the supervisor still runs: it says so.
void EngineRunner::start_control() {
  const std::string& name = own_record_.name;
  auto server = ControlServer::start(control_bind_address(settings_.lock_dir, name), name);
  if (!server) {
    log::warn("{}; qc-launch --status and the other control commands cannot reach {}", server.error().message, name);
    return;
  }
  if (control_needs_secret()) {
    control_secret_ = new_control_secret();
    if (Status s = write_control_secret(settings_.lock_dir, name, control_secret_); !s) {
      log::warn("{}; the control channel is off", s.error().message);
      control_secret_.clear();
      return;
    }
  }
  control_ = std::move(*server);
  loop_->watch_readable(control_->wake_handle());
  own_record_.control = control_->endpoint();
  if (Status s = own_lock_->write_record(own_record_); !s) log::warn("{}", s.error().message);
}

std::optional<protocol::Answer> EngineRunner::on_control(const std::string& action, const std::string& payload_json,
                                                         SteadyTime now) {
  const auto payload = nlohmann::json::parse(payload_json, nullptr, false);
  auto refuse = [](const std::string& why) { return protocol::Answer{false, "null", why}; };
  if (!control_secret_.empty()) {
    const auto secret = payload.find("secret");
    if (secret == payload.end() || !secret->is_string() || secret->get<std::string>() != control_secret_) {
      return refuse("the control secret is missing or wrong (it is in " +
                    control_secret_path(settings_.lock_dir, own_record_.name) + ", readable by " + own_record_.name +
                    "'s user only)");
    }
  }
  if (action == "HEARTBEAT") return std::nullopt;  // protocol::respond's answer: alive
  if (action == "STATUS") return protocol::Answer{true, status_json(), ""};
  if (action != "START" && action != "STOP" && action != "RESTART") return hooks_.on_control(action, payload_json, now);
  const auto name = payload.find("name");
  if (name == payload.end() || !name->is_string()) {
    return refuse(action + " needs the program's name: {\"name\": \"BRAIN_ATLAS\"}");
  }
  const std::string wanted = name->get<std::string>();
  const auto index = engine_->find(wanted);
  if (!index) {
    std::string names;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (!engine_->removed(i)) names += (names.empty() ? "" : ", ") + slots_[i].plan.spec.name;
    }
    return refuse("no program " + wanted + " in " + own_record_.name + " (its programs: " + names + ")");
  }
  if (slots_[*index].lock_lost) {
    return refuse(wanted + " lost its name to another process; it cannot be started again by " + own_record_.name);
  }
  // In a fleet, what does not run here starts only by taking its name: START, and RESTART
  // of a program in standby or stopped, go through the fleet.
  const bool not_here = engine_->standby(*index) || engine_->held(*index);
  if (member_ && (action == "START" || (action == "RESTART" && not_here))) {
    if (auto answer = fleet_start(*index, now)) return answer;
  }
  std::optional<std::string> refusal;
  if (action == "START") {
    refusal = engine_->start_program(*index, now);
  } else if (action == "STOP") {
    refusal = engine_->stop_program(*index, now);
  } else {
    refusal = engine_->restart_program(*index, now);
  }
  if (refusal) {
    log::warn("control: {} {} refused: {}", action, wanted, *refusal);
    return refuse(*refusal);
  }
  log::info("control: {} {}", action, wanted);
  ordered_json data;
  data["name"] = wanted;
  data["state"] = state_word(*index);
  return protocol::Answer{true, data.dump(), ""};
}

// The fleet as a host (join_fleet, docs/fleet.md) -------------------------------------------

// Asks for program `index`'s fleet name when this host may run it: it waits in standby (or
// has not had its turn), nothing of it still runs, it is not stopped by STOP or fleet-wide,
// and no hand-over to another host is asked for.
void EngineRunner::try_take(std::size_t index) {
  Slot& s = slots_[index];
  if (!member_ || s.fleet_token != 0 || s.fleet_taking || s.lock_lost || !s.lock) return;
  const std::string& name = s.plan.spec.name;
  if (engine_) {
    if (engine_->stopping() || engine_->removed(index) || engine_->held(index)) return;
    if (engine_->started(index) && !engine_->standby(index)) return;  // it runs here, or has ended here
    if (engine_->started(index) && !engine_->program(index).finished()) return;  // still stopping
  }
  if (member_->stopped(name)) return;
  const std::string to = member_->handover_to(name);
  if (!to.empty() && to != member_->host()) return;
  s.fleet_taking = true;
  LockRecord record = record_for(name, s.plan.spec.command, s.plan.spec.account);
  member_->take(name, serialize_lock_record(record));
}

// Self-fencing, or a lease that is gone: it stops here before another host can take it, and
// waits in standby. Its key went (or goes) with the lease: nothing to give back.
void EngineRunner::fence_fleet(std::size_t index, const std::string& why, SteadyTime now) {
  Slot& s = slots_[index];
  tell_lease_lost(index, why, "; it waits in standby");
  s.fleet_token = 0;
  if (s.record) s.record->set_fencing_token(std::nullopt);
  engine_->to_standby(index, now);
}

void EngineRunner::on_fleet_updates(SteadyTime now) {
  auto slot_of = [this](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].plan.spec.name == name && !engine_->removed(i)) return i;
    }
    return std::nullopt;
  };
  // Stops program `i` here and gives its name back once it has ended (before its turn: now).
  auto let_go = [this, now](std::size_t i) {
    Slot& s = slots_[i];
    if (engine_->started(i) || engine_->standby(i) || engine_->held(i)) {
      engine_->to_standby(i, now);
    } else {
      release_names(s, /*keep_local=*/true);
    }
  };
  bool take_all = false;
  for (auto& u : member_->updates()) {
    using Kind = FleetUpdate::Kind;
    if (u.kind == Kind::kNewLease) {  // what the old lease held is gone
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].fleet_token != 0) fence_fleet(i, "this host's lease expired", now);
        slots_[i].standby_shown = false;  // those marks went with it
      }
      take_all = true;
      continue;
    }
    const auto index = slot_of(u.name);
    if (!index) continue;
    Slot& s = slots_[*index];
    const std::string& name = s.plan.spec.name;
    switch (u.kind) {
      case Kind::kTaken: {
        s.fleet_taking = false;
        s.fleet_holder.clear();
        if (u.lease != member_->lease()) {  // taken with a lease that is gone since: so is the key
          take_all = true;
          break;
        }
        s.fleet_token = u.token;
        if (s.asked_handover) {
          member_->handover_done(name);
          s.asked_handover = false;
        }
        const std::string to = member_->handover_to(name);
        if (engine_->stopping() || member_->stopped(name) || (!to.empty() && to != member_->host())) {
          release_names(s, /*keep_local=*/true);  // stopped or asked for meanwhile
          break;
        }
        auto& env = s.plan.spec.env;
        env.erase(std::remove_if(env.begin(), env.end(), [](const auto& kv) { return kv.first == "QC_FENCING_TOKEN"; }),
                  env.end());
        env.emplace_back("QC_FENCING_TOKEN", std::to_string(u.token));
        engine_->update(*index, engine_program(s.plan, &s.sink), now);
        if (s.record) s.record->set_fencing_token(u.token);
        if (engine_->standby(*index)) {
          log::info("{}: this host took it in the fleet (fencing token {}); starting it", name, u.token);
          if (!engine_->take_over(*index, now)) release_names(s, /*keep_local=*/true);  // it cannot start now
        }
        break;
      }
      case Kind::kHeld:
        s.fleet_taking = false;
        if (s.fleet_holder != u.detail) log::info("{}; {} waits in standby here", u.detail, name);
        s.fleet_holder = u.detail;
        if (!s.plan.prefer_host.empty() && s.plan.prefer_host == member_->host() && !s.asked_handover) {
          log::info("{} prefers this host ({}): asking its holder to hand it over", name, member_->host());
          member_->ask_handover(name);
          s.asked_handover = true;
        }
        break;
      case Kind::kTakeFailed:
        s.fleet_taking = false;
        log::warn("cannot take {} in the fleet: {}; trying again in a second", name, u.detail);
        if (!fleet_retry_at_) fleet_retry_at_ = now + std::chrono::seconds(1);
        break;
      case Kind::kFree:
        s.fleet_holder.clear();
        if (s.fleet_token != 0 && u.token > s.fleet_token) {  // our key, deleted under us
          fence_fleet(*index, "its key was deleted in etcd", now);
          break;
        }
        try_take(*index);
        break;
      case Kind::kStopped:
        if (s.fleet_token == 0) break;
        log::info("{} was stopped fleet-wide; stopping it here (qc-launch --start {} runs it again)", name, name);
        let_go(*index);
        break;
      case Kind::kStopCleared: try_take(*index); break;
      case Kind::kHandover:
        if (u.detail == member_->host() || s.fleet_token == 0) break;
        log::info("{} prefers host {}: handing it over", name, u.detail);
        let_go(*index);
        break;
      case Kind::kNewLease: break;
    }
  }
  // Self-fencing: the lease could not be renewed in time.
  bool fenced = false;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.fleet_token == 0 || now < member_->fence_deadline(s.plan.spec.stop_timeout_s)) continue;
    fence_fleet(i, member_->failure(), now);
    fenced = true;
  }
  if (fenced) member_->abandon_lease();
  if (fleet_retry_at_ && now >= *fleet_retry_at_) {
    fleet_retry_at_.reset();
    take_all = true;
  }
  if (take_all) {
    for (std::size_t i = 0; i < slots_.size(); ++i) try_take(i);
  }
  show_standbys();
}

// qc-ps --fleet lists the hosts that stand by for each name.
void EngineRunner::show_standbys() {
  if (!engine_ || engine_->stopping()) return;  // the lease goes soon, and with it every mark
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    const bool standby = engine_->standby(i) && !engine_->removed(i) && !member_->stopped(s.plan.spec.name);
    if (standby == s.standby_shown) continue;
    s.standby_shown = standby;
    const auto& spec = s.plan.spec;
    member_->mark_standby(spec.name, standby, serialize_lock_record(record_for(spec.name, spec.command, spec.account)));
  }
}

// Before the first start: every program's fleet name asked for, and the answers awaited (a
// few milliseconds; at most 5 s). False when SIGINT or SIGTERM came meanwhile.
bool EngineRunner::settle_fleet() {
  loop_->watch_readable(member_->wake_handle());
  for (std::size_t i = 0; i < slots_.size(); ++i) try_take(i);
  const auto until = Clock::now() + std::chrono::seconds(5);
  auto waiting = [this] {
    return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.fleet_taking; });
  };
  while (waiting() && Clock::now() < until) {
    auto events = loop_->wait(until);
    if (!events) break;
    for (const auto& signal : events->signals) {
      if (signal.signal == Signal::kInterrupt || signal.signal == Signal::kTerminate) {
        log::info("stopping before anything started ({})", signal_name(signal.number));
        return false;
      }
    }
    on_fleet_updates(Clock::now());
  }
  return true;
}

// START of a fleet program: clears its fleet-wide stop, and a program stopped here by STOP
// waits in standby again; whichever host takes it runs it.
std::optional<protocol::Answer> EngineRunner::fleet_start(std::size_t index, SteadyTime now) {
  const std::string& name = slots_[index].plan.spec.name;
  std::string said;
  if (member_->stopped(name)) {
    member_->clear_stop(name);
    said = "cleared " + name + "'s fleet-wide stop; the first host that takes it runs it";
  }
  if (engine_->held(index)) engine_->to_standby(index, now);
  if (!engine_->standby(index) && said.empty()) return std::nullopt;  // the engine's START
  try_take(index);
  if (said.empty()) said = name + " waits in standby; it runs here if this host takes it";
  log::info("control: START {}: {}", name, said);
  ordered_json data;
  data["name"] = name;
  data["state"] = state_word(index);
  data["message"] = said;
  return protocol::Answer{true, data.dump(), ""};
}

}  // namespace qc
