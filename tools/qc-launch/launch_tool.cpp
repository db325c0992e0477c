// qc-launch: takes its own lock and every program's, starts the programs in order (each
// once the one before is ready), supervises them all from one event loop, and stops them in
// reverse order on SIGINT/SIGTERM.
#include "launch_tool.hpp"

#include <algorithm>
#include <deque>
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
#include "qc/names.hpp"
#include "qc/probe.hpp"
#include "qc/service_notify.hpp"
#include "qc/net.hpp"
#include "qc/supervision_io.hpp"
#include "qc/text.hpp"

namespace qc::launch {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

void print_json(const ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

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

int print_plan(const LaunchPlan& plan, bool json) {
  if (json) {
    for (const auto& p : plan.programs) {
      ordered_json j;
      j["name"] = p.spec.name;
      j["account"] = p.spec.account ? ordered_json(*p.spec.account) : ordered_json(nullptr);
      j["command"] = p.spec.command;
      j["cwd"] = p.spec.cwd;
      j["ready"] = p.ready.kind == ReadySpec::Kind::kNone ? ordered_json(nullptr)
                                                          : ordered_json(check_text(p.ready));
      j["start_delay_s"] = p.start_delay_s;
      j["restart"] = restart_mode_name(p.spec.restart.mode);
      j["max_restarts"] = p.spec.restart.max_restarts;
      print_json(j);
    }
    return exit_code::kOk;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "ACCOUNT", "READY", "COMMAND"}};
  for (const auto& p : plan.programs) {
    rows.push_back({p.spec.name, p.spec.account.value_or("-"), check_text(p.ready),
                    join_command(p.spec.command)});
  }
  print_columns(std::cout, rows);
  log::info("dry run: {} program{} from {}; nothing started", plan.programs.size(),
            plan.programs.size() == 1 ? "" : "s", plan.config_path);
  return exit_code::kOk;
}

// One planned program and everything that serves it.
struct Program {
  PlannedProgram plan;
  std::optional<HeldLock> lock;
  std::shared_ptr<log::File> log;
  std::unique_ptr<OutputPump> pump;
  NativeHandle output = kInvalidHandle;
  std::unique_ptr<LockRecordUpdater> record;
  FanoutSink sink;
  EventSink* alerts = nullptr;  // its alerts' sink, if there are alerts
  bool lock_lost = false;  // another process took its name: stopped for good
};

// The tool around the engine: locks, output, readiness probes, status reports, the event
// loop. What starts when, and what stops in which order, is the engine's (qc/engine.hpp).
class Orchestrator : private EngineHost {
 public:
  Orchestrator(const Options& options, LaunchPlan plan) : o_(options), plan_(std::move(plan)) {}
  int run();

 private:
  LockRecord record_for(const std::string& name, const std::vector<std::string>& command,
                        const std::optional<std::string>& account) const;
  int take_locks();
  int set_up(Program& p);
  EngineProgram engine_program(Program& p);
  int set_up_programs();
  protocol::Answer reload(SteadyTime now);
  void on_probe(SteadyTime now);
  void report_status();
  void stop_one(std::int32_t token, SteadyTime now);
  std::optional<SteadyTime> next_deadline() const;
  void verify_locks(SteadyTime now);

  // EngineHost
  std::optional<std::string> refuse_start(std::size_t index) override;
  Status begin_ready_check(std::size_t index, double timeout_s, SteadyTime now) override;
  void cancel_ready_check() override;
  void ready_without_check(std::size_t index) override;
  void program_done(std::size_t index) override;
  std::optional<std::string> take_back(std::size_t index) override;
  void note(bool error, const std::string& text) override;
  Status begin_health_check(std::size_t index, double timeout_s, SteadyTime now) override;
  void cancel_health_check(std::size_t index) override;

  const Options& o_;
  LaunchPlan plan_;
  LockRecord own_record_;
  std::optional<HeldLock> own_lock_;
  std::optional<EventLoop> loop_;  // before programs_: their output pumps unwatch it as they go
  std::unique_ptr<AlertRunner> alerts_;  // after loop_, which it watches alerts in
  std::deque<Program> programs_;  // a deque: the engine keeps pointers to each one's sink
  std::unique_ptr<ChildProcesses> children_;
  LogEventWriter log_events_;
  JsonEventWriter json_events_{std::cout};
  std::unique_ptr<SupervisionEngine> engine_;

  std::unique_ptr<ReadinessProbe> probe_;  // the ready check the engine asked for
  std::unique_ptr<EngineHealthChecks> health_;  // after loop_, which it is watched by
  SteadyTime next_status_{};

  // The control channel (docs/control.md).
  void start_control();
  std::optional<protocol::Answer> on_control(const std::string& action, const std::string& payload_json,
                                             SteadyTime now);
  std::string status_json() const;
  std::unique_ptr<ControlServer> control_;  // after loop_: its thread wakes the loop

  // systemd (Type=notify): READY=1 once every program has started and is ready, STATUS=,
  // STOPPING=1, WATCHDOG=1.
  void tell_service(SteadyTime now);
  std::unique_ptr<ServiceNotifier> service_;
  bool told_ready_ = false;
  bool told_stopping_ = false;
  std::string told_status_;
  std::optional<SteadyTime> next_watchdog_;
  std::string control_secret_;              // Windows: required in every request
};

// What makes a program another program (a reload restarts it): what it runs, where, with
// which environment, for which account.
bool same_identity(const ProgramSpec& a, const ProgramSpec& b) {
  return a.command == b.command && a.cwd == b.cwd && a.env == b.env && a.account == b.account;
}

bool same_probe(const ReadySpec& a, const ReadySpec& b) {
  return a.kind == b.kind && a.target == b.target && a.timeout_s == b.timeout_s;
}

// Everything else a reload can change without a restart.
bool same_policy(const PlannedProgram& a, const PlannedProgram& b) {
  const RestartPolicy& x = a.spec.restart;
  const RestartPolicy& y = b.spec.restart;
  const bool health = a.health.has_value() == b.health.has_value() &&
                      (!a.health || (same_probe(a.health->check, b.health->check) &&
                                     a.health->interval_s == b.health->interval_s && a.health->failures == b.health->failures));
  return x.mode == y.mode && x.max_restarts == y.max_restarts && x.backoff_initial_s == y.backoff_initial_s &&
         x.backoff_max_s == y.backoff_max_s && x.reset_after_s == y.reset_after_s &&
         a.spec.stop_timeout_s == b.spec.stop_timeout_s && a.spec.stop_signal == b.spec.stop_signal && health &&
         same_probe(a.ready, b.ready) && a.start_delay_s == b.start_delay_s;
}

// The word STATUS and `qc-launch --status` use for a program.
std::string control_state(const SupervisionEngine& engine, std::size_t i) {
  if (engine.held(i)) return "stopped";
  if (!engine.started(i)) return "waiting";
  switch (engine.program(i).state()) {
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

LockRecord Orchestrator::record_for(const std::string& name, const std::vector<std::string>& command,
                                    const std::optional<std::string>& account) const {
  return own_lock_record(name, "qc-launch", command, account);
}

// The orchestrator's own lock, then every program's: if any is held, nothing starts. Taking
// them (rather than only looking) leaves no window for a duplicate between check and start.
int Orchestrator::take_locks() {
  own_record_ = record_for(plan_.name, o_.invocation, std::nullopt);
  auto own = acquire_lock(plan_.lock_dir, plan_.name, own_record_);
  if (auto* conflict = std::get_if<LockConflict>(&own)) {
    log::error("another orchestrator runs: {}", describe_conflict(*conflict));
    return exit_code::kLockHeld;
  }
  if (auto* error = std::get_if<Error>(&own)) {
    log::error("cannot take {}: {}", plan_.name, error->message);
    return exit_code::kCannotCreate;
  }
  own_lock_.emplace(std::move(std::get<HeldLock>(own)));

  int held = 0;
  for (auto& p : programs_) {
    const auto& spec = p.plan.spec;
    auto got = acquire_lock(plan_.lock_dir, spec.name, record_for(spec.name, spec.command, spec.account));
    if (auto* conflict = std::get_if<LockConflict>(&got)) {
      log::error("{}", describe_conflict(*conflict));
      ++held;
    } else if (auto* error = std::get_if<Error>(&got)) {
      log::error("cannot take {}: {}", spec.name, error->message);
      for (auto& q : programs_) q.lock.reset();
      return exit_code::kCannotCreate;
    } else {
      p.lock.emplace(std::move(std::get<HeldLock>(got)));
    }
  }
  // The original incident: copies started by hand, under no lock at all.
  if (held == 0 && !o_.no_scan) {
    std::vector<std::vector<std::string>> commands;
    for (const auto& p : programs_) commands.push_back(p.plan.spec.command);
    const auto copies = unmanaged_copies(commands);
    for (std::size_t i = 0; i < programs_.size(); ++i) {
      for (const auto& c : copies[i]) {
        log::error("{} already runs outside qc as PID {} ({}); stop it (qc-shutdown --config {}) "
                   "or pass --no-scan",
                   programs_[i].plan.spec.name, c.pid, join_command(c.command_line), plan_.config_path);
      }
      if (!copies[i].empty()) ++held;
    }
  }
  if (held > 0) {
    for (auto& p : programs_) p.lock.reset();
    log::error("nothing started: {} of {} program{} already running; stop {} with: qc-shutdown",
               held, programs_.size(), programs_.size() == 1 ? "" : "s", held == 1 ? "it" : "them");
    return exit_code::kLockHeld;
  }
  return exit_code::kOk;
}

// Its log file and output pipe, its lock record, where its events go.
int Orchestrator::set_up(Program& p) {
  const std::string& name = p.plan.spec.name;
  if (plan_.log_dir) {
    const std::string path = (fs::path(*plan_.log_dir) / (name + ".log")).string();
    std::string error;
    p.log = log::File::open(path, o_.log_max_bytes, o_.log_files, error);
    if (!p.log) {
      log::error("cannot open log file {}: {}", path, error);
      return exit_code::kCannotCreate;
    }
    auto pipe = make_output_pipe();
    if (!pipe) {
      log::error("{}", pipe.error().message);
      return exit_code::kCannotCreate;
    }
    p.pump = std::make_unique<OutputPump>(pipe->read_end, p.log);
    p.output = pipe->write_end;
    p.pump->attach(*loop_);
  }
  children_->set_handles(name, &*p.lock, p.output);
  p.record = std::make_unique<LockRecordUpdater>(*p.lock, record_for(name, p.plan.spec.command, p.plan.spec.account));
  p.sink.add(p.record.get());
  p.sink.add(&log_events_);
  if (o_.json) p.sink.add(&json_events_);
  if (alerts_) {
    p.alerts = &alerts_->sink_for(p.plan.spec.account);
    p.sink.add(p.alerts);
  }
  return exit_code::kOk;
}

EngineProgram Orchestrator::engine_program(Program& p) {
  std::optional<HealthCheck> health;
  if (p.plan.health) health = HealthCheck{p.plan.health->interval_s, p.plan.health->check.timeout_s, p.plan.health->failures};
  return {p.plan.spec, p.plan.start_delay_s, p.plan.ready.timeout_s, check_text(p.plan.ready), &p.sink, health};
}

int Orchestrator::set_up_programs() {
  children_ = std::make_unique<ChildProcesses>(*loop_);
  std::vector<EngineProgram> programs;
  for (auto& p : programs_) {
    if (int rc = set_up(p); rc != exit_code::kOk) return rc;
    programs.push_back(engine_program(p));
  }
  engine_ = std::make_unique<SupervisionEngine>(std::move(programs), *children_, static_cast<EngineHost&>(*this));
  return exit_code::kOk;
}

// A program stopped by STOP gave its name back: START takes it again, unless someone else
// has taken it meanwhile.
std::optional<std::string> Orchestrator::take_back(std::size_t index) {
  Program& p = programs_[index];
  if (p.lock) return std::nullopt;
  const auto& spec = p.plan.spec;
  auto got = acquire_lock(plan_.lock_dir, spec.name, record_for(spec.name, spec.command, spec.account));
  if (auto* conflict = std::get_if<LockConflict>(&got)) return describe_conflict(*conflict);
  if (auto* error = std::get_if<Error>(&got)) return "cannot take " + spec.name + ": " + error->message;
  p.lock.emplace(std::move(std::get<HeldLock>(got)));
  children_->set_handles(spec.name, &*p.lock, p.output);
  guardian::watch_lock_file(p.lock->path());
  return std::nullopt;
}

// A ready target that answers before its program starts could pass a check on someone else's
// listener.
std::optional<std::string> Orchestrator::refuse_start(std::size_t index) {
  const PlannedProgram& plan = programs_[index].plan;
  auto taken = ready_target_taken(plan.ready);
  if (!taken) return std::nullopt;
  const std::string what = plan.spec.name + "'s ready check " + check_text(plan.ready) + " already answers before " +
                           plan.spec.name + " starts (" + *taken + "): another process listens there";
  if (plan.ready.kind == ReadySpec::Kind::kTcp) {
    // A connect cannot tell whose listener answered: readiness cannot be observed.
    return what + ", so a connect cannot tell whether " + plan.spec.name + " is ready; stop that process or change \"ready\"";
  }
  // A heartbeat must still say SUCCESS, and only while the program itself runs.
  log::warn("{}; an answer counts only while {} runs", what, plan.spec.name);
  return std::nullopt;
}

Status Orchestrator::begin_ready_check(std::size_t index, double timeout_s, SteadyTime) {
  ReadySpec check = programs_[index].plan.ready;
  const bool again = check.timeout_s != timeout_s;
  check.timeout_s = timeout_s;
  auto probe = ReadinessProbe::start(check);
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  loop_->watch_readable(probe_->wake_handle());
  if (!again) {
    log::info("waiting for {} to be ready ({}, up to {}s)", programs_[index].plan.spec.name, check_text(check),
              timeout_s);
  }
  return {};
}

void Orchestrator::cancel_ready_check() {
  if (!probe_) return;
  loop_->unwatch_readable(probe_->wake_handle());
  probe_.reset();
}

void Orchestrator::ready_without_check(std::size_t index) {
  if (!o_.json) return;
  SupervisorEvent e;
  e.event = "ready";
  e.name = programs_[index].plan.spec.name;
  if (auto proc = engine_->program(index).process()) e.pid = proc->pid;
  e.restarts = engine_->program(index).restarts();
  json_events_.emit(e);
}

void Orchestrator::program_done(std::size_t index) {
  Program& p = programs_[index];
  if (p.pump) p.pump->drain_rest();
  if (p.lock) {
    if (Status s = p.lock->release(); !s) log::warn("{}", s.error().message);
    p.lock.reset();
  }
}

void Orchestrator::note(bool error, const std::string& text) {
  if (error) {
    log::error("{}", text);
  } else {
    log::info("{}", text);
  }
}

Status Orchestrator::begin_health_check(std::size_t index, double timeout_s, SteadyTime) {
  health_->set(index, programs_[index].plan.health->check);
  return health_->begin(index, timeout_s);
}

void Orchestrator::cancel_health_check(std::size_t index) { health_->cancel(index); }

void Orchestrator::on_probe(SteadyTime now) {
  if (!probe_) return;
  auto outcome = probe_->outcome();
  if (!outcome) return;
  const std::string failure = probe_->last_failure();
  cancel_ready_check();
  engine_->on_ready_result(*outcome, failure, now);
}

// qc-shutdown NAME: stop that program for good (no restart) and give its name back.
void Orchestrator::stop_one(std::int32_t token, SteadyTime now) {
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (engine_->removed(i) || program_stop_token(programs_[i].plan.spec.name) != token) continue;
    log::info("stopping {} on request; the others run on", programs_[i].plan.spec.name);
    if (auto refusal = engine_->stop_program(i, now)) log::info("{}", *refusal);  // as a control STOP
    return;
  }
  log::warn("a stop request named no program of {} (token {})", plan_.name, token);
}

// A lock file removed or replaced under us is put back; a name another process took meanwhile
// is lost: that program stops for good (the orchestrator's own name: everything stops), so
// that one copy remains.
void Orchestrator::verify_locks(SteadyTime now) {
  drain_lock_changes();
  FanoutSink to_people;
  to_people.add(&log_events_);
  if (o_.json) to_people.add(&json_events_);
  if (own_lock_ && !engine_->stopping()) {
    const auto verdict = own_lock_->verify_and_restore(own_record_);
    if (verdict.integrity == HeldLock::Integrity::kLost) {
      engine_->stop_all(exit_code::kLockHeld, "lost " + plan_.name + ": its lock file was removed and " +
                                                  (verdict.taken_by ? describe_conflict(*verdict.taken_by)
                                                                    : std::string("another orchestrator took it")),
                        now);
      return;
    }
    if (verdict.integrity == HeldLock::Integrity::kRestored) {
      log::warn("{} was removed or replaced; put back", own_lock_->path());
    }
  }
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    Program& p = programs_[i];
    if (!p.lock || !p.record || p.lock_lost) continue;
    FanoutSink told = to_people;
    if (p.alerts) told.add(p.alerts);
    if (!p.record->verify(told)) continue;
    p.lock_lost = true;
    engine_->stop_for_good(i, now);
  }
}

// The control endpoint goes into our lock file's "control" key, where qc-launch --status
// and qc-shutdown find it. Without it the orchestrator still runs: it says so.
void Orchestrator::start_control() {
  auto server = ControlServer::start(control_bind_address(plan_.lock_dir, plan_.name), plan_.name);
  if (!server) {
    log::warn("{}; qc-launch --status and the other control commands cannot reach {}", server.error().message,
              plan_.name);
    return;
  }
  if (control_needs_secret()) {
    control_secret_ = new_control_secret();
    if (Status s = write_control_secret(plan_.lock_dir, plan_.name, control_secret_); !s) {
      log::warn("{}; the control channel is off", s.error().message);
      return;
    }
  }
  control_ = std::move(*server);
  loop_->watch_readable(control_->wake_handle());
  own_record_.control = control_->endpoint();
  if (Status s = own_lock_->write_record(own_record_); !s) log::warn("{}", s.error().message);
}

std::string Orchestrator::status_json() const {
  const auto now = Clock::now();
  ordered_json programs = ordered_json::array();
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (engine_->removed(i)) continue;
    const auto& sup = engine_->program(i);
    const auto process = sup.process();
    ordered_json j;
    j["name"] = programs_[i].plan.spec.name;
    j["account"] = programs_[i].plan.spec.account ? ordered_json(*programs_[i].plan.spec.account) : ordered_json(nullptr);
    j["state"] = control_state(*engine_, i);
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
  out["name"] = plan_.name;
  out["pid"] = own_record_.pid;
  out["config"] = plan_.config_path;
  out["programs"] = std::move(programs);
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<protocol::Answer> Orchestrator::on_control(const std::string& action, const std::string& payload_json,
                                                         SteadyTime now) {
  const auto payload = nlohmann::json::parse(payload_json, nullptr, false);
  auto refuse = [](const std::string& why) { return protocol::Answer{false, "null", why}; };
  if (!control_secret_.empty()) {
    const auto secret = payload.find("secret");
    if (secret == payload.end() || !secret->is_string() || secret->get<std::string>() != control_secret_) {
      return refuse("the control secret is missing or wrong (it is in " +
                    control_secret_path(plan_.lock_dir, plan_.name) + ", readable by " + plan_.name + "'s user only)");
    }
  }
  if (action == "HEARTBEAT") return std::nullopt;  // protocol::respond's answer: alive
  if (action == "STATUS") return protocol::Answer{true, status_json(), ""};
  if (action == "RELOAD") return reload(now);
  if (action == "START" || action == "STOP" || action == "RESTART") {
    const auto name = payload.find("name");
    if (name == payload.end() || !name->is_string()) {
      return refuse(action + " needs the program's name: {\"name\": \"BRAIN_ATLAS\"}");
    }
    const std::string wanted = name->get<std::string>();
    const auto index = engine_->find(wanted);
    if (!index) {
      std::string names;
      for (const auto& p : programs_) names += (names.empty() ? "" : ", ") + p.plan.spec.name;
      return refuse("no program " + wanted + " in " + plan_.name + " (its programs: " + names + ")");
    }
    if (programs_[*index].lock_lost) {
      return refuse(wanted + " lost its name to another process; it cannot be started again by " + plan_.name);
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
    data["state"] = control_state(*engine_, *index);
    return protocol::Answer{true, data.dump(), ""};
  }
  return std::nullopt;  // protocol::respond's answer: Unknown action
}

// SIGHUP, RELOAD, qc-launch --reload: the config is read again and the difference applied.
// Nothing changes unless all of it can: an invalid config, a moved lock directory or a new
// program whose name is held elsewhere refuse the whole reload.
protocol::Answer Orchestrator::reload(SteadyTime now) {
  auto refuse = [](int code, const std::string& why) {
    log::error("reload refused: {}; nothing changed", why);
    ordered_json data;
    data["exit_code"] = code;
    return protocol::Answer{false, data.dump(), why + "; nothing changed"};
  };
  if (engine_->stopping()) return refuse(exit_code::kNo, "everything is stopping");
  auto loaded = load_launch_plan(o_.config, o_.load);
  if (auto* failure = std::get_if<ConfigFailure>(&loaded)) return refuse(failure->exit_code, failure->message);
  LaunchPlan next = std::move(std::get<LaunchPlan>(loaded));
  if (next.programs.empty()) {
    return refuse(exit_code::kConfig, o_.config + " has no program to start (no enabled account, or --accounts chose none)");
  }
  if (next.name != plan_.name || next.lock_dir != plan_.lock_dir || next.log_dir != plan_.log_dir) {
    return refuse(exit_code::kConfig,
                  "LAUNCH.name, lock_dir and log_dir cannot change while " + plan_.name + " runs (they change when qc-launch starts again)");
  }
  // The new programs' names first, all or none, as at start-up.
  std::vector<std::size_t> added;
  std::vector<std::optional<HeldLock>> locks(next.programs.size());
  for (std::size_t k = 0; k < next.programs.size(); ++k) {
    const auto& spec = next.programs[k].spec;
    if (engine_->find_any(spec.name)) continue;
    auto got = acquire_lock(plan_.lock_dir, spec.name, record_for(spec.name, spec.command, spec.account));
    if (auto* conflict = std::get_if<LockConflict>(&got)) return refuse(exit_code::kLockHeld, describe_conflict(*conflict));
    if (auto* error = std::get_if<Error>(&got)) return refuse(exit_code::kCannotCreate, "cannot take " + spec.name + ": " + error->message);
    locks[k].emplace(std::move(std::get<HeldLock>(got)));
    added.push_back(k);
  }
  if (!added.empty() && !o_.no_scan) {
    std::vector<std::vector<std::string>> commands;
    for (std::size_t k : added) commands.push_back(next.programs[k].spec.command);
    const auto copies = unmanaged_copies(commands);
    for (std::size_t a = 0; a < added.size(); ++a) {
      if (copies[a].empty()) continue;
      const auto& c = copies[a].front();
      return refuse(exit_code::kLockHeld, next.programs[added[a]].spec.name + " already runs outside qc as PID " +
                                              std::to_string(c.pid) + " (" + join_command(c.command_line) + ")");
    }
  }
  if (next.on_event != plan_.on_event) {
    log::warn("reload: LAUNCH.on_event changed; the new command is used when qc-launch starts again");
  }

  ordered_json data;
  std::vector<std::string> names[5];  // added, removed, restarted, updated, unchanged
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (engine_->removed(i)) continue;
    const std::string& name = programs_[i].plan.spec.name;
    const bool kept = std::any_of(next.programs.begin(), next.programs.end(),
                                  [&](const PlannedProgram& q) { return q.spec.name == name; });
    if (kept) continue;
    log::info("reload: {} is no longer in the config; stopping it", name);
    engine_->remove(i, now);
    names[1].push_back(name);
  }
  for (std::size_t k = 0; k < next.programs.size(); ++k) {
    PlannedProgram& q = next.programs[k];
    const std::string name = q.spec.name;
    auto index = engine_->find_any(name);
    if (!index) {
      Program p;
      p.plan = std::move(q);
      p.lock = std::move(locks[k]);
      programs_.push_back(std::move(p));
      Program& added_program = programs_.back();
      if (int rc = set_up(added_program); rc != exit_code::kOk) {
        problems.push_back(name + " not added: see the log");
        programs_.pop_back();  // its index must stay the engine's: only programs the engine has
        continue;
      }
      guardian::watch_lock_file(added_program.lock->path());
      loop_->accept_stop_requests({program_stop_token(name)});
      log::info("reload: {} is new; it starts in its turn", name);
      engine_->add(engine_program(added_program), now);
      names[0].push_back(name);
      continue;
    }
    Program& p = programs_[*index];
    if (engine_->removed(*index)) {
      p.plan = std::move(q);
      p.record->describe(p.plan.spec.command, p.plan.spec.account);
      log::info("reload: {} is back in the config; starting it", name);
      if (auto refusal = engine_->readd(*index, engine_program(p), now)) {
        problems.push_back(name + " not started: " + *refusal);
        log::warn("reload: {} not started: {}", name, *refusal);
      }
      names[0].push_back(name);
    } else if (!same_identity(p.plan.spec, q.spec)) {
      p.plan = std::move(q);
      p.record->describe(p.plan.spec.command, p.plan.spec.account);
      log::info("reload: {} changed (command, cwd, env or account); restarting it", name);
      engine_->replace(*index, engine_program(p), now);
      names[2].push_back(name);
    } else if (!same_policy(p.plan, q)) {
      p.plan = std::move(q);
      log::info("reload: {}'s policies changed; applied without a restart", name);
      engine_->update(*index, engine_program(p), now);
      names[3].push_back(name);
    } else {
      names[4].push_back(name);
    }
  }
  const char* keys[5] = {"added", "removed", "restarted", "updated", "unchanged"};
  std::string summary = "reloaded " + o_.config + ":";
  for (int k = 0; k < 5; ++k) {
    data[keys[k]] = names[k];
    summary += " " + std::to_string(names[k].size()) + " " + keys[k] + (k < 4 ? "," : "");
  }
  data["problems"] = problems;
  data["summary"] = summary;
  log::info("{}", summary);
  return protocol::Answer{true, data.dump(), ""};
}

void Orchestrator::tell_service(SteadyTime now) {
  if (!service_) return;
  std::size_t running = 0, total = 0;
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (engine_->removed(i)) continue;
    ++total;
    if (engine_->program(i).state() == ProgramState::kRunning) ++running;
  }
  std::string message;
  if (!told_ready_ && !engine_->stopping() && engine_->start_order_done()) {
    message += "READY=1\n";
    told_ready_ = true;
  }
  if (!told_stopping_ && engine_->stopping()) {
    message += "STOPPING=1\n";
    told_stopping_ = true;
  }
  const std::string status = "STATUS=" + std::to_string(running) + " of " + std::to_string(total) + " programs running";
  if (status != told_status_) {
    message += status + "\n";
    told_status_ = status;
  }
  if (next_watchdog_ && now >= *next_watchdog_) {
    message += "WATCHDOG=1\n";
    next_watchdog_ = now + std::chrono::duration_cast<SteadyTime::duration>(*service_->watchdog_every());
  }
  if (!message.empty()) service_->send(message);
}

void Orchestrator::report_status() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    if (engine_->removed(i)) continue;
    const Program& p = programs_[i];
    const auto& sup = engine_->program(i);
    const auto process = sup.process();
    std::optional<long long> uptime;
    if (auto started = sup.run_started()) {
      uptime = std::chrono::duration_cast<std::chrono::seconds>(now - *started).count();
    }
    log::info("status: {} {} pid={} uptime={} restarts={}", p.plan.spec.name,
              program_state_name(sup.state()), process ? std::to_string(process->pid) : "-",
              uptime ? format_duration(std::chrono::seconds(*uptime)) : "-", sup.restarts());
    if (o_.json) {
      ordered_json j;
      j["event"] = "status";
      j["name"] = p.plan.spec.name;
      j["state"] = program_state_name(sup.state());
      j["pid"] = process ? ordered_json(process->pid) : ordered_json(nullptr);
      j["uptime_s"] = uptime ? ordered_json(*uptime) : ordered_json(nullptr);
      j["restarts"] = sup.restarts();
      j["time"] = iso8601_now();
      print_json(j);
    }
  }
}

std::optional<SteadyTime> Orchestrator::next_deadline() const {
  std::optional<SteadyTime> deadline;
  auto consider = [&deadline](std::optional<SteadyTime> t) { deadline = earliest(deadline, t); };
  consider(engine_->next_deadline());
  if (alerts_) consider(alerts_->next_deadline());
  for (const auto& p : programs_) {
    if (p.pump) consider(p.pump->deadline());
  }
  if (!engine_->stopping() && o_.status_interval_s > 0) consider(next_status_);
  consider(next_watchdog_);
  return deadline;
}

int Orchestrator::run() {
  service_ = ServiceNotifier::from_environment();  // first: no program may inherit NOTIFY_SOCKET
  if (service_ && service_->watchdog_every()) next_watchdog_ = Clock::now();
  for (auto& planned : plan_.programs) {
    Program p;
    p.plan = std::move(planned);
    programs_.push_back(std::move(p));
  }
  raise_open_file_limit();
  if (int rc = take_locks(); rc != exit_code::kOk) return rc;
  // If we are killed, the guardian stops every program (before signals are blocked and
  // before any thread exists).
  double longest_stop_s = 0;
  for (const auto& p : programs_) longest_stop_s = std::max(longest_stop_s, p.plan.spec.stop_timeout_s);
  if (!guardian::start(longest_stop_s)) {
    log::warn("cannot start the guardian process: if qc-launch is killed, descendants outside "
              "the programs' process groups may run on");
  }
  for (const auto& p : programs_) guardian::watch_lock_file(p.lock->path());
  adopt_orphaned_descendants();
  auto loop = EventLoop::create({Signal::kInterrupt, Signal::kTerminate, Signal::kHangup,
                                 Signal::kUser1, Signal::kUser2});
  if (!loop) {
    log::error("{}", loop.error().message);
    return exit_code::kCannotCreate;
  }
  loop_.emplace(std::move(*loop));
  std::vector<std::int32_t> tokens;
  for (const auto& p : programs_) tokens.push_back(program_stop_token(p.plan.spec.name));
  loop_->accept_stop_requests(tokens);
  if (!plan_.on_event.empty()) alerts_ = std::make_unique<AlertRunner>(plan_.on_event, *loop_);
  health_ = std::make_unique<EngineHealthChecks>(*loop_);
  if (int rc = set_up_programs(); rc != exit_code::kOk) return rc;
  const NativeHandle lock_changes = lock_change_handle();
  if (lock_changes != kInvalidHandle) loop_->watch_readable(lock_changes);
  start_control();
  log::info("{}: {} program{} to start (lock {}, from {})", plan_.name, programs_.size(),
            programs_.size() == 1 ? "" : "s", own_lock_->path(), plan_.config_path);

  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o_.status_interval_s > 0 ? o_.status_interval_s : 0));
  next_status_ = Clock::now() + interval;
  engine_->start(Clock::now());
  tell_service(Clock::now());
  std::optional<SteadyTime> alerts_until;  // done: alerts still running get until then
  for (;;) {
    if (engine_->finished()) {
      const auto now = Clock::now();
      if (!alerts_ || !alerts_->busy()) break;
      if (!alerts_until) alerts_until = now + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(AlertRunner::kExitGraceS));
      if (now >= *alerts_until) break;
    }
    auto deadline = next_deadline();
    deadline = earliest(deadline, alerts_until);
    auto events = loop_->wait(deadline);
    if (!events) {
      log::error("{}", events.error().message);
      engine_->stop_all(exit_code::kNo, "the event loop failed", Clock::now());
      continue;
    }
    const auto now = Clock::now();
    const auto& readable = events->readable;
    if (std::find(readable.begin(), readable.end(), lock_changes) != readable.end()) verify_locks(now);
    for (const auto& exit : events->exits) {
      if (alerts_ && alerts_->on_exit(exit.pid, exit.status)) continue;
      if (!engine_->find(exit.pid)) continue;  // an adopted descendant, or the guardian
      children_->reaped(exit.pid);
      engine_->on_exit(exit.pid, exit.status, now);
    }
    for (const auto& s : events->signals) {
      if (s.signal == Signal::kUser2 && s.value) {
        if (!engine_->stopping()) stop_one(*s.value, now);
      } else if (s.signal == Signal::kUser1 || s.signal == Signal::kUser2) {
        report_status();
      } else if (s.signal == Signal::kHangup) {  // a closed terminal or SSH session stops nothing
        if (!engine_->stopping()) {
          log::info("SIGHUP: reloading {}", o_.config);
          reload(now);
        }
      } else if (engine_->finished()) {  // only alerts are left: no more waiting for them
        alerts_until = now;
      } else if (!engine_->stopping()) {
        engine_->stop_all(exit_code::kOk, "stopping every program (" + signal_name(s.number) + ")", now);
      } else if (!engine_->killing()) {
        log::info("stopping now: SIGKILL to every program");
        engine_->kill_all();
      }
    }
    if (control_ && std::find(readable.begin(), readable.end(), control_->wake_handle()) != readable.end()) {
      control_->answer([this, now](const std::string& action, const std::string& payload) {
        return on_control(action, payload, now);
      });
    }
    on_probe(now);
    health_->deliver(readable, *engine_, now);
    engine_->on_deadline(now);
    if (alerts_) alerts_->on_deadline(now);
    // Output after signals, exits and deadlines, a bounded share per program per wake-up.
    for (NativeHandle h : events->readable) {
      if ((probe_ && h == probe_->wake_handle()) || h == lock_changes) continue;  // health probes, control: no pump has theirs
      for (auto& p : programs_) {
        if (p.pump && p.pump->handle() == h) p.pump->drain();
      }
    }
    for (auto& p : programs_) {
      if (p.pump) p.pump->on_deadline(now);
    }
    if (!engine_->stopping() && o_.status_interval_s > 0 && now >= next_status_) {
      report_status();
      next_status_ = now + interval;
    }
    tell_service(now);
  }
  for (auto& p : programs_) {
    close_handle(p.output);  // first: a reader thread (Windows) sees the end once every writer is gone
    if (p.pump) {
      p.pump->drain_rest();
      p.pump->flush();
    }
    if (p.lock) p.lock->release();
  }
  control_.reset();
  if (!control_secret_.empty()) {
    std::error_code ignored;
    fs::remove(control_secret_path(plan_.lock_dir, plan_.name), ignored);
  }
  own_lock_.reset();
  if (alerts_) alerts_->kill_remaining();
  guardian::dismiss();
  return engine_->exit_code();
}

}  // namespace

int run(const Options& o) {
  auto loaded = load_launch_plan(o.config, o.load);
  if (auto* failure = std::get_if<ConfigFailure>(&loaded)) {
    log::error("{}", failure->message);
    return failure->exit_code;
  }
  LaunchPlan plan = std::move(std::get<LaunchPlan>(loaded));
  if (o.dry_run) return print_plan(plan, o.json);
  if (plan.programs.empty()) {
    log::error("{}: no program to start (no enabled account, or --accounts chose none)", o.config);
    return exit_code::kConfig;
  }
  if (Status s = ensure_directory(plan.lock_dir); !s) {
    log::error("{}", s.error().message);
    return exit_code::kCannotCreate;
  }
  if (plan.log_dir) {
    if (Status s = ensure_directory(*plan.log_dir); !s) {
      log::error("{}", s.error().message);
      return exit_code::kCannotCreate;
    }
    const std::string path = (fs::path(*plan.log_dir) / "qc-launch.log").string();
    std::string error;
    auto file = log::File::open(path, o.log_max_bytes, o.log_files, error);
    if (!file) {
      log::error("cannot open log file {}: {}", path, error);
      return exit_code::kCannotCreate;
    }
    log::attach(file);
  }
  return Orchestrator(o, std::move(plan)).run();
}

}  // namespace qc::launch
