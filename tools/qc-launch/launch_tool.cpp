// qc-launch: takes its own lock and every program's, starts the programs in order (each
// once the one before is ready), supervises them all from one event loop, and stops them in
// reverse order on SIGINT/SIGTERM.
#include "launch_tool.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "qc/exit_codes.hpp"
#include "qc/guardian.hpp"
#include "qc/lock_record.hpp"
#include "qc/lock_table.hpp"
#include "qc/names.hpp"
#include "qc/net.hpp"
#include "qc/supervision.hpp"
#include "qc/text.hpp"
#include "readiness.hpp"

namespace qc::launch {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

void print_json(const ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

std::string ready_text(const ReadySpec& r) {
  switch (r.kind) {
    case ReadySpec::Kind::kTcp: return "tcp " + r.target;
    case ReadySpec::Kind::kHeartbeat: return "heartbeat " + r.target;
    case ReadySpec::Kind::kNone: break;
  }
  return "-";
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
                                                          : ordered_json(ready_text(p.ready));
      j["start_delay_s"] = p.start_delay_s;
      j["restart"] = restart_mode_name(p.spec.restart.mode);
      j["max_restarts"] = p.spec.restart.max_restarts;
      print_json(j);
    }
    return exit_code::kOk;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "ACCOUNT", "READY", "COMMAND"}};
  for (const auto& p : plan.programs) {
    rows.push_back({p.spec.name, p.spec.account.value_or("-"), ready_text(p.ready),
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
  std::unique_ptr<ProgramSupervisor> supervisor;
  bool started = false;
  bool stop_sent = false;
  bool lock_lost = false;  // another process took its name: stopped for good
};

class Orchestrator {
 public:
  Orchestrator(const Options& options, LaunchPlan plan) : o_(options), plan_(std::move(plan)) {}
  int run();

 private:
  LockRecord record_for(const std::string& name, const std::vector<std::string>& command,
                        const std::optional<std::string>& account) const;
  int take_locks();
  int set_up_programs();
  void start_next(SteadyTime now);
  void on_probe(SteadyTime now);
  void begin_stop(int exit_code, const std::string& why);
  void advance_stop(SteadyTime now);
  void report_status();
  void stop_one(std::int32_t token, SteadyTime now);
  std::optional<SteadyTime> next_deadline() const;
  void verify_locks(SteadyTime now);
  bool everything_finished() const;

  const Options& o_;
  LaunchPlan plan_;
  LockRecord own_record_;
  std::optional<HeldLock> own_lock_;
  std::optional<EventLoop> loop_;  // before programs_: their output pumps unwatch it as they go
  std::vector<Program> programs_;
  std::unique_ptr<ChildProcesses> children_;
  LogEventWriter log_events_;
  JsonEventWriter json_events_{std::cout};

  std::size_t next_ = 0;                  // the next program to start
  std::optional<SteadyTime> start_at_;    // when it may start (start_delay_s)
  std::unique_ptr<ReadinessProbe> probe_;  // the readiness check of program next_ - 1
  std::optional<SteadyTime> probe_failed_at_;
  SteadyTime probe_deadline_{};  // when the readiness check of program next_ - 1 times out
  bool stopping_ = false;
  bool killing_ = false;
  int stop_cursor_ = -1;  // stopping: the program being stopped, counting down
  int exit_code_ = exit_code::kOk;
  SteadyTime next_status_{};
};

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

int Orchestrator::set_up_programs() {
  children_ = std::make_unique<ChildProcesses>(*loop_);
  for (auto& p : programs_) {
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
    p.record = std::make_unique<LockRecordUpdater>(
        *p.lock, record_for(name, p.plan.spec.command, p.plan.spec.account));
    p.sink.add(p.record.get());
    p.sink.add(&log_events_);
    if (o_.json) p.sink.add(&json_events_);
    p.supervisor = std::make_unique<ProgramSupervisor>(p.plan.spec, *children_, p.sink);
  }
  return exit_code::kOk;
}

void Orchestrator::start_next(SteadyTime now) {
  if (stopping_ || probe_ || next_ >= programs_.size()) return;
  if (!start_at_) start_at_ = now + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(programs_[next_].plan.start_delay_s));
  if (now < *start_at_) return;
  start_at_.reset();
  Program& p = programs_[next_++];
  p.started = true;
  if (p.supervisor->finished()) return start_next(now);  // stopped on request before its turn
  if (auto taken = ready_target_taken(p.plan.ready)) {
    const std::string what = p.plan.spec.name + "'s ready check " + ready_text(p.plan.ready) +
                             " already answers before " + p.plan.spec.name + " starts (" + *taken +
                             "): another process listens there";
    if (p.plan.ready.kind == ReadySpec::Kind::kTcp) {
      // A connect cannot tell whose listener answered: readiness cannot be observed.
      begin_stop(exit_code::kNo, what + ", so a connect cannot tell whether " + p.plan.spec.name +
                                     " is ready; stop that process or change \"ready\"");
      return;
    }
    // A heartbeat must still say SUCCESS, and only while the program itself runs.
    log::warn("{}; an answer counts only while {} runs", what, p.plan.spec.name);
  }
  p.supervisor->start(now);
  if (p.supervisor->gave_up()) {
    begin_stop(exit_code::kNo, "cannot start " + p.plan.spec.name);
    return;
  }
  if (p.plan.ready.kind == ReadySpec::Kind::kNone) {
    if (o_.json) {
      SupervisorEvent e;
      e.event = "ready";
      e.name = p.plan.spec.name;
      if (auto proc = p.supervisor->process()) e.pid = proc->pid;
      e.restarts = p.supervisor->restarts();
      json_events_.emit(e);
    }
    return start_next(now);
  }
  auto probe = ReadinessProbe::start(p.plan.ready);
  if (!probe) {
    begin_stop(exit_code::kNo, "cannot check " + p.plan.spec.name + ": " + probe.error().message);
    return;
  }
  probe_ = std::move(*probe);
  probe_deadline_ = now + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(p.plan.ready.timeout_s));
  loop_->watch_readable(probe_->wake_handle());
  log::info("waiting for {} to be ready ({}, up to {}s)", p.plan.spec.name, ready_text(p.plan.ready),
            p.plan.ready.timeout_s);
}

void Orchestrator::on_probe(SteadyTime now) {
  if (!probe_) return;
  auto outcome = probe_->outcome();
  if (!outcome) return;
  Program& p = programs_[next_ - 1];
  loop_->unwatch_readable(probe_->wake_handle());
  const std::string failure = probe_->last_failure();
  probe_.reset();
  if (*outcome && !p.supervisor->process()) {
    // An answer while the program is not running (it crashed, a restart is pending) is not
    // its answer: look again for what is left of the timeout.
    const double left_s = std::chrono::duration<double>(probe_deadline_ - now).count();
    if (left_s > 0) {
      ReadySpec again = p.plan.ready;
      again.timeout_s = left_s;
      if (auto probe = ReadinessProbe::start(again)) {
        probe_ = std::move(*probe);
        loop_->watch_readable(probe_->wake_handle());
        return;
      }
    }
    begin_stop(exit_code::kNo, p.plan.spec.name + " was not ready within " +
                                   log::format("{}", {p.plan.ready.timeout_s}) + "s (" +
                                   ready_text(p.plan.ready) + " answered while it was not running)");
    return;
  }
  if (*outcome) {
    p.supervisor->mark_ready(now);
    start_next(now);
  } else {
    begin_stop(exit_code::kNo, p.plan.spec.name + " was not ready within " +
                                   log::format("{}", {p.plan.ready.timeout_s}) + "s (" +
                                   ready_text(p.plan.ready) + ": " + failure + ")");
  }
}

// Stops programs in reverse start order, each within its stop timeout.
void Orchestrator::begin_stop(int exit_code, const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = exit_code;
  if (exit_code == exit_code::kOk) {
    log::info("{}", why);
  } else {
    log::error("{}; stopping what was started", why);
  }
  probe_.reset();
  for (auto& p : programs_) {
    if (p.started) p.supervisor->no_more_restarts();
  }
  stop_cursor_ = static_cast<int>(next_) - 1;
}

void Orchestrator::advance_stop(SteadyTime now) {
  while (stop_cursor_ >= 0) {
    Program& p = programs_[static_cast<std::size_t>(stop_cursor_)];
    if (!p.started || p.supervisor->finished()) {
      if (p.pump) p.pump->drain_rest();
      if (p.lock) {
        if (Status s = p.lock->release(); !s) log::warn("{}", s.error().message);
        p.lock.reset();
      }
      --stop_cursor_;
      continue;
    }
    if (!p.stop_sent) {
      p.stop_sent = true;
      p.supervisor->stop(Signal::kTerminate, now);
      if (killing_) p.supervisor->kill_now();
      continue;  // it may have been finished at once (it was waiting to restart)
    }
    return;  // wait for its exit or its stop timeout
  }
}

// qc-shutdown NAME: stop that program for good (no restart) and give its name back.
void Orchestrator::stop_one(std::int32_t token, SteadyTime now) {
  for (auto& p : programs_) {
    if (program_stop_token(p.plan.spec.name) != token) continue;
    log::info("stopping {} on request; the others run on", p.plan.spec.name);
    p.supervisor->no_more_restarts();  // also when it has not started yet: it never will
    p.supervisor->stop(Signal::kTerminate, now);
    p.stop_sent = true;
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
  if (own_lock_ && !stopping_) {
    const auto verdict = own_lock_->verify_and_restore(own_record_);
    if (verdict.integrity == HeldLock::Integrity::kLost) {
      begin_stop(exit_code::kLockHeld, "lost " + plan_.name + ": its lock file was removed and " +
                                           (verdict.taken_by ? describe_conflict(*verdict.taken_by)
                                                             : std::string("another orchestrator took it")));
      return;
    }
    if (verdict.integrity == HeldLock::Integrity::kRestored) {
      log::warn("{} was removed or replaced; put back", own_lock_->path());
    }
  }
  for (auto& p : programs_) {
    if (!p.lock || !p.record || p.lock_lost) continue;
    if (!p.record->verify(to_people)) continue;
    p.lock_lost = true;
    p.supervisor->no_more_restarts();
    p.supervisor->stop(p.plan.spec.stop_signal, now);
    p.stop_sent = true;
  }
}

void Orchestrator::report_status() {
  const auto now = Clock::now();
  for (const auto& p : programs_) {
    const auto& sup = *p.supervisor;
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
  auto consider = [&deadline](std::optional<SteadyTime> t) {
    if (t && (!deadline || *t < *deadline)) deadline = t;
  };
  for (const auto& p : programs_) {
    consider(p.supervisor->next_deadline());
    if (p.pump) consider(p.pump->deadline());
  }
  if (!stopping_) {
    consider(start_at_);
    if (o_.status_interval_s > 0) consider(next_status_);
  }
  return deadline;
}

bool Orchestrator::everything_finished() const {
  if (next_ < programs_.size() || probe_) return false;
  for (const auto& p : programs_) {
    if (!p.supervisor->finished()) return false;
  }
  return true;
}

int Orchestrator::run() {
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
  if (int rc = set_up_programs(); rc != exit_code::kOk) return rc;
  const NativeHandle lock_changes = lock_change_handle();
  if (lock_changes != kInvalidHandle) loop_->watch_readable(lock_changes);
  log::info("{}: {} program{} to start (lock {}, from {})", plan_.name, programs_.size(),
            programs_.size() == 1 ? "" : "s", own_lock_->path(), plan_.config_path);

  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o_.status_interval_s > 0 ? o_.status_interval_s : 0));
  next_status_ = Clock::now() + interval;
  start_next(Clock::now());
  for (;;) {
    if (stopping_) {
      advance_stop(Clock::now());
      if (stop_cursor_ < 0) break;
    } else if (everything_finished()) {
      bool any_gave_up = false;
      for (const auto& p : programs_) any_gave_up = any_gave_up || p.supervisor->gave_up();
      exit_code_ = any_gave_up ? exit_code::kNo : exit_code::kOk;
      log::info("every program has ended{}", any_gave_up ? "; some gave up" : "");
      break;
    }
    auto events = loop_->wait(next_deadline());
    if (!events) {
      log::error("{}", events.error().message);
      begin_stop(exit_code::kNo, "the event loop failed");
      continue;
    }
    const auto now = Clock::now();
    const auto& readable = events->readable;
    if (std::find(readable.begin(), readable.end(), lock_changes) != readable.end()) verify_locks(now);
    for (const auto& exit : events->exits) {
      for (auto& p : programs_) {
        auto process = p.supervisor->process();
        if (!process || process->pid != exit.pid) continue;
        children_->reaped(exit.pid);
        p.supervisor->on_exit(exit.status, now);
        const bool before_ready = probe_ && &p == &programs_[next_ - 1];
        if (!stopping_ && p.supervisor->gave_up() && before_ready) {
          begin_stop(exit_code::kNo, p.plan.spec.name + " gave up before it was ready");
        }
      }
    }
    for (const auto& s : events->signals) {
      if (s.signal == Signal::kUser2 && s.value) {
        if (!stopping_) stop_one(*s.value, now);
      } else if (s.signal == Signal::kUser1 || s.signal == Signal::kUser2) {
        report_status();
      } else if (s.signal == Signal::kHangup) {  // a closed terminal or SSH session stops nothing
        log::info("SIGHUP received and ignored: every program runs on (stop with SIGTERM or qc-shutdown)");
      } else if (!stopping_) {
        begin_stop(exit_code::kOk, "stopping every program (" + signal_name(s.number) + ")");
      } else if (!killing_) {
        killing_ = true;
        log::info("stopping now: SIGKILL to every program");
        for (auto& p : programs_) {
          if (p.started) p.supervisor->kill_now();
        }
      }
    }
    if (probe_) on_probe(now);
    for (auto& p : programs_) p.supervisor->on_deadline(now);
    // Output after signals, exits and deadlines, a bounded share per program per wake-up.
    for (NativeHandle h : events->readable) {
      if ((probe_ && h == probe_->wake_handle()) || h == lock_changes) continue;
      for (auto& p : programs_) {
        if (p.pump && p.pump->handle() == h) p.pump->drain();
      }
    }
    for (auto& p : programs_) {
      if (p.pump) p.pump->on_deadline(now);
    }
    for (auto& p : programs_) {
      if (!stopping_ && p.stop_sent && p.supervisor->finished() && p.lock) {
        if (p.pump) p.pump->drain_rest();
        if (Status st = p.lock->release(); !st) log::warn("{}", st.error().message);
        p.lock.reset();
      }
    }
    if (!stopping_) {
      start_next(now);
      if (o_.status_interval_s > 0 && now >= next_status_) {
        report_status();
        next_status_ = now + interval;
      }
    }
  }
  for (auto& p : programs_) {
    close_handle(p.output);  // first: a reader thread (Windows) sees the end once every writer is gone
    if (p.pump) {
      p.pump->drain_rest();
      p.pump->flush();
    }
    if (p.lock) p.lock->release();
  }
  own_lock_.reset();
  guardian::dismiss();
  return exit_code_;
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
