// qc-run: holds NAME's lock across every run and restart of one command; restarts it on
// events (its exit, a deadline, a failed health check), never by polling. The supervision
// engine's one-program case (qc/engine_runner.hpp).
#include "run_tool.hpp"

#include <iostream>

#include "qc/engine.hpp"
#include "qc/engine_runner.hpp"
#include "qc/exit_codes.hpp"
#include "qc/lock_record.hpp"
#include "qc/names.hpp"

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

// SIGUSR1 and SIGUSR2 are the program's (a log rotation, a dump); SIGHUP, from a closed
// terminal or SSH session, stops nothing.
struct Hooks : RunnerHooks {
  EngineRunner* runner = nullptr;
  void on_signal(const SignalEvent& s, SteadyTime) override {
    if (s.signal == Signal::kHangup) {
      log::info("SIGHUP received and ignored: {} runs on (stop it with SIGTERM or qc-shutdown)",
                runner->program(0).spec.name);
    } else {
      runner->signal_program(0, s.signal);
    }
  }
};

}  // namespace

int run(const Options& o) {
  SupervisedProgram program;
  program.spec = o.program;
  if (o.health.kind != ReadySpec::Kind::kNone) program.health = HealthSpec{o.health, o.health_interval_s, o.health_failures};
  const std::string& name = program.spec.name;
  if (Status s = validate_lock_name(name); !s) {
    log::error("{}", s.error().message);
    return exit_code::kUsage;
  }
  RunnerSettings settings;
  settings.tool = "qc-run";
  settings.lock_dir = resolve_lock_dir(o.lock_dir);
  std::vector<std::string> dirs{settings.lock_dir};
  if (o.log_dir) dirs.push_back(*o.log_dir);
  for (const auto& dir : dirs) {
    if (Status s = ensure_directory(dir); !s) {
      log::error("{}", s.error().message);
      return exit_code::kCannotCreate;
    }
  }
  settings.log_dir = o.log_dir;
  settings.log_max_bytes = o.log_max_bytes;
  settings.log_files = o.log_files;
  settings.log_ours_to_program_log = true;
  settings.json = o.json;
  if (o.on_event) settings.on_event = {*o.on_event};
  settings.stop_with_received_signal = !o.stop_signal_given;
  settings.ready_events = false;
  settings.engine_notes = false;
  Hooks hooks;
  EngineRunner runner(std::move(settings), hooks);
  hooks.runner = &runner;

  const LockRecord record = runner.record_for(name, program.spec.command, program.spec.account);
  auto acquired = acquire_lock(dirs.front(), name, record, AcquireOptions{o.wait_s, {}});
  if (auto* conflict = std::get_if<LockConflict>(&acquired)) return report_conflict(o, *conflict);
  if (auto* error = std::get_if<Error>(&acquired)) {
    log::error("cannot take {}: {}", name, error->message);
    return exit_code::kCannotCreate;
  }
  // The fleet (docs/fleet.md): after the local lock, released before it; its renewals run on
  // a thread, so the guardian is forked first.
  std::unique_ptr<FleetHold> fleet;
  if (o.fleet.configured()) {
    runner.start_guardian(program.spec.stop_timeout_s);
    auto taken = take_fleet_name(FleetTake{o.fleet, name, serialize_lock_record(record), o.wait_s,
                                           program.spec.stop_timeout_s, o.json, o.conflict_exit_code});
    if (auto* code = std::get_if<int>(&taken)) return *code;
    fleet = std::move(std::get<std::unique_ptr<FleetHold>>(taken));
  }
  runner.add(std::move(program), std::move(std::get<HeldLock>(acquired)), std::move(fleet));
  if (int rc = runner.run(); !runner.ran()) return rc;  // it could not be set up

  const ProgramSupervisor& supervisor = runner.engine().program(0);
  if (runner.lock_lost(0)) return exit_code::kLockHeld;
  if (runner.stop_requested()) return exit_code::kOk;
  if (supervisor.spawn_error()) return exit_code_for_spawn_error(*supervisor.spawn_error());
  if (supervisor.gave_up()) return exit_code::kNo;
  return supervisor.last_status() ? supervisor.last_status()->as_exit_code() : exit_code::kOk;
}

}  // namespace qc::run_tool
