// qc-run: holds NAME's lock across every run and restart of one command; restarts it on
// events (its exit, a deadline), never by polling.
#include "run_tool.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "qc/alerts.hpp"
#include "qc/engine.hpp"
#include "qc/health.hpp"
#include "qc/exit_codes.hpp"
#include "qc/guardian.hpp"
#include "qc/names.hpp"
#include "qc/supervision_io.hpp"

namespace qc::run_tool {
namespace {

int report_conflict(const Options& o, const LockConflict& conflict) {
  log::error("{}", describe_conflict(conflict));
  if (o.json) {
    SupervisorEvent e;
    e.event = "conflict";
    e.name = o.program.name;
    if (conflict.holder) e.pid = conflict.holder->pid;
    JsonEventWriter(std::cout).emit(e);
  }
  return o.conflict_exit_code;
}

}  // namespace

int run(const Options& o) {
  const ProgramSpec& spec = o.program;
  if (Status s = validate_lock_name(spec.name); !s) {
    log::error("{}", s.error().message);
    return exit_code::kUsage;
  }
  const std::string lock_dir = resolve_lock_dir(o.lock_dir);
  if (Status s = ensure_directory(lock_dir); !s) {
    log::error("{}", s.error().message);
    return exit_code::kCannotCreate;
  }
  std::shared_ptr<log::File> log_file;
  if (o.log_dir) {
    if (Status s = ensure_directory(*o.log_dir); !s) {
      log::error("{}", s.error().message);
      return exit_code::kCannotCreate;
    }
    const std::string path = (std::filesystem::path(*o.log_dir) / (spec.name + ".log")).string();
    std::string error;
    log_file = log::File::open(path, o.log_max_bytes, o.log_files, error);
    if (!log_file) {
      log::error("cannot open log file {}: {}", path, error);
      return exit_code::kCannotCreate;
    }
  }

  const LockRecord record = own_lock_record(spec.name, "qc-run", spec.command, spec.account);
  auto acquired = acquire_lock(lock_dir, spec.name, record);
  if (auto* conflict = std::get_if<LockConflict>(&acquired)) return report_conflict(o, *conflict);
  if (auto* error = std::get_if<Error>(&acquired)) {
    log::error("cannot take {}: {}", spec.name, error->message);
    return exit_code::kCannotCreate;
  }
  HeldLock lock = std::move(std::get<HeldLock>(acquired));
  // If we are killed, the guardian stops what we started; before the event loop blocks
  // signals, and before any thread exists.
  if (!guardian::start(spec.stop_timeout_s)) {
    log::warn("cannot start the guardian process: if qc-run is killed, {}'s descendants outside "
              "its command may run on",
              spec.name);
  }
  guardian::watch_lock_file(lock.path());
  adopt_orphaned_descendants();

  auto loop = EventLoop::create({Signal::kInterrupt, Signal::kTerminate, Signal::kHangup,
                                 Signal::kUser1, Signal::kUser2});
  if (!loop) {
    log::error("{}", loop.error().message);
    return exit_code::kCannotCreate;
  }
  const NativeHandle lock_changes = lock_change_handle();
  if (lock_changes != kInvalidHandle) loop->watch_readable(lock_changes);
  bool lost = false;  // another process took the name after our file was removed
  ChildProcesses children(*loop);
  std::unique_ptr<OutputPump> pump;
  NativeHandle output = kInvalidHandle;
  if (log_file) {
    log::attach(log_file);
    auto pipe = make_output_pipe();
    if (!pipe) {
      log::error("{}", pipe.error().message);
      return exit_code::kCannotCreate;
    }
    pump = std::make_unique<OutputPump>(pipe->read_end, log_file);
    output = pipe->write_end;
    pump->attach(*loop);
  }
  children.set_handles(spec.name, &lock, output);

  LogEventWriter log_events;
  JsonEventWriter json_events(std::cout);
  LockRecordUpdater record_updater(lock, record);
  FanoutSink sink;
  sink.add(&record_updater);
  sink.add(&log_events);
  if (o.json) sink.add(&json_events);
  std::unique_ptr<AlertRunner> alerts;
  EventSink* alert_sink = nullptr;
  if (o.on_event) {
    alerts = std::make_unique<AlertRunner>(std::vector<std::string>{*o.on_event}, *loop);
    alert_sink = &alerts->sink_for(spec.account);
    sink.add(alert_sink);
  }

  // One program: the engine's start, restart and stop decisions, with nothing to say of its
  // own (qc-run's messages are the program's events and the lines below).
  struct QuietHost : EngineHost {
    explicit QuietHost(EventLoop& loop) : health(loop) {}
    std::optional<std::string> refuse_start(std::size_t) override { return std::nullopt; }
    Status begin_ready_check(std::size_t, double, SteadyTime) override { return {}; }
    void cancel_ready_check() override {}
    void ready_without_check(std::size_t) override {}
    void program_done(std::size_t) override {}
    void note(bool, const std::string&) override {}
    Status begin_health_check(std::size_t i, double timeout_s, SteadyTime) override { return health.begin(i, timeout_s); }
    void cancel_health_check(std::size_t i) override { health.cancel(i); }
    EngineHealthChecks health;
  } host(*loop);
  host.health.set(0, o.health);
  std::optional<HealthCheck> health;
  if (o.health.kind != ReadySpec::Kind::kNone) {
    health = HealthCheck{o.health_interval_s, o.health.timeout_s, o.health_failures};
  }
  SupervisionEngine engine({EngineProgram{spec, 0, 0, "", &sink, health}}, children, host);
  const ProgramSupervisor& supervisor = engine.program(0);
  engine.start(std::chrono::steady_clock::now());
  bool stop_requested = false;
  std::optional<SteadyTime> alerts_until;  // done: alerts still running get until then
  for (;;) {
    if (engine.finished()) {
      const auto now = std::chrono::steady_clock::now();
      if (!alerts || !alerts->busy()) break;
      if (!alerts_until) alerts_until = now + std::chrono::duration_cast<SteadyTime::duration>(
                                                  std::chrono::duration<double>(AlertRunner::kExitGraceS));
      if (now >= *alerts_until) break;
    }
    auto deadline = earliest(engine.next_deadline(), alerts_until);
    if (pump) deadline = earliest(deadline, pump->deadline());
    if (alerts) deadline = earliest(deadline, alerts->next_deadline());
    auto events = loop->wait(deadline);
    if (!events) {
      log::error("{}", events.error().message);
      engine.kill_all();
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto& readable = events->readable;
    if (!lost && std::find(readable.begin(), readable.end(), lock_changes) != readable.end()) {
      drain_lock_changes();
      FanoutSink to_people;
      to_people.add(&log_events);
      if (o.json) to_people.add(&json_events);
      if (alert_sink) to_people.add(alert_sink);
      if (record_updater.verify(to_people)) {
        lost = true;
        engine.stop_for_good(0, now);
      }
    }
    for (const auto& exit : events->exits) {
      if (alerts && alerts->on_exit(exit.pid, exit.status)) continue;
      if (!engine.find(exit.pid)) continue;  // an adopted descendant, or the guardian
      children.reaped(exit.pid);
      engine.on_exit(exit.pid, exit.status, now);
    }
    for (const auto& s : events->signals) {
      if (s.signal == Signal::kUser1 || s.signal == Signal::kUser2) {
        if (auto process = supervisor.process()) children.signal_group(process->pid, s.signal);
        continue;
      }
      if (s.signal == Signal::kHangup) {  // a closed terminal or SSH session stops nothing
        log::info("SIGHUP received and ignored: {} runs on (stop it with SIGTERM or qc-shutdown)",
                  spec.name);
        continue;
      }
      if (engine.finished()) {  // only alerts are left: no more waiting for them
        alerts_until = now;
        continue;
      }
      if (stop_requested) {  // a second request: no more waiting
        log::info("stopping {} now (SIGKILL)", spec.name);
        engine.kill_all();
        continue;
      }
      stop_requested = true;
      const Signal stop = o.stop_signal_given ? spec.stop_signal : s.signal;
      log::info("stopping {} ({} to its process group)", spec.name, signal_name(signal_number(stop)));
      engine.stop_all(exit_code::kOk, "", now, stop);
    }
    host.health.deliver(readable, engine, now);
    engine.on_deadline(std::chrono::steady_clock::now());
    if (alerts) alerts->on_deadline(now);
    // Output last, and a bounded share of it: signals, exits and deadlines come first.
    if (pump && std::find(readable.begin(), readable.end(), pump->handle()) != readable.end()) pump->drain();
    if (pump) pump->on_deadline(now);
  }
  close_handle(output);  // first: a reader thread (Windows) sees the end once every writer is gone
  if (pump) {
    pump->drain_rest();
    pump->flush();
  }
  if (Status s = lock.release(); !s) log::warn("{}", s.error().message);
  if (alerts) alerts->kill_remaining();
  guardian::dismiss();

  if (lost) return exit_code::kLockHeld;
  if (stop_requested) return exit_code::kOk;
  if (supervisor.spawn_error()) return exit_code_for_spawn_error(*supervisor.spawn_error());
  if (supervisor.gave_up()) return exit_code::kNo;
  return supervisor.last_status() ? supervisor.last_status()->as_exit_code() : exit_code::kOk;
}

}  // namespace qc::run_tool
