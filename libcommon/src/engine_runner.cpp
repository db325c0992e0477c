// The supervision engine run for real (qc/engine_runner.hpp): the event loop of qc-run and
// qc-launch. What starts when and what stops in which order is the engine's (engine.cpp);
// this file does what the engine asks and tells it what happened.
#include "qc/engine_runner.hpp"

#include <algorithm>
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
    r_.release_names(s);
  }

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
    const std::string path = (fs::path(*settings_.log_dir) / (name + ".log")).string();
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

  engine_->start(Clock::now());
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

// Self-fencing (docs/fleet.md): a program whose lease could not be renewed in time stops for
// good before the lease can expire, so that no other host runs it beside this one.
void EngineRunner::check_fleet(const std::vector<NativeHandle>& readable, SteadyTime now) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.fleet) continue;
    if (std::find(readable.begin(), readable.end(), s.fleet->wake_handle()) != readable.end()) s.fleet->clear_wake();
    if (s.lock_lost || now < s.fleet->fence_deadline(s.plan.spec.stop_timeout_s)) continue;
    s.lock_lost = true;
    SupervisorEvent e;
    e.event = "lease_lost";
    e.name = s.plan.spec.name;
    if (auto process = engine_->program(i).process()) e.pid = process->pid;
    e.restarts = engine_->program(i).restarts();
    e.record_state = "stopping";
    e.detail = "lost " + e.name + " in the fleet: " + s.fleet->failure() +
               "; stopping it before the lease can expire, so that no other host runs it beside this one";
    s.sink.emit(e);
    engine_->stop_for_good(i, now);
  }
}

// The fleet name first, then the local lock (docs/fleet.md).
void EngineRunner::release_names(Slot& s) {
  if (s.fleet) {
    if (loop_) loop_->unwatch_readable(s.fleet->wake_handle());
    s.fleet->release();
    s.fleet.reset();
  }
  if (s.lock) {
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
  }
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
  // The control endpoint and its secret go before the name: a successor's are never removed.
  control_.reset();
  if (!control_secret_.empty()) {
    std::error_code ignored;
    fs::remove(control_secret_path(settings_.lock_dir, own_record_.name), ignored);
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
  engine_->add(engine_program(s.plan, &s.sink), now);
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
  Slot& s = slots_[index];
  s.plan = std::move(program);
  s.record->describe(s.plan.spec.command, s.plan.spec.account);
  return engine_->readd(index, engine_program(s.plan, &s.sink), now);
}

// Status and control ----------------------------------------------------------------------

std::string EngineRunner::state_word(std::size_t i) const {
  if (engine_->held(i)) return "stopped";
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
    programs.push_back(std::move(j));
  }
  ordered_json out;
  out["name"] = own_record_.name;
  out["pid"] = own_record_.pid;
  for (const auto& [key, value] : settings_.status_fields) out[key] = value;
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

}  // namespace qc
