// The supervision engine run for real: the one event loop of qc-run and qc-launch, and
// everything that serves their programs. Three layers, one file each:
//   program_supervisor.hpp  one program's state machine (start, backoff, give up, stop, kill);
//   engine.hpp              the decisions between programs (start order, readiness, stop
//                           order, START/STOP/RESTART, reload), with no I/O: unit-tested;
//   engine_runner.hpp       this: the engine's I/O. Each program's lock (verified when its
//                           file changes), log file and output pump, its events (log lines,
//                           JSON Lines, the lock record, alerts), ready and health checks,
//                           the guardian, signals, per-program stop requests, the control
//                           endpoint (docs/control.md), status reports and the teardown.
// qc-run is a runner with one program; qc-launch is a runner with a config, its own lock,
// the control endpoint, reload and sd_notify. A tool takes the locks (it decides what a
// conflict means) and hands them in; what is the tool's alone comes through RunnerHooks.
// Part of qc_common_zmq (ready and health checks and the control endpoint speak ZeroMQ).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qc/clock.hpp"
#include "qc/event_loop.hpp"
#include "qc/fleet_hold.hpp"
#include "qc/lock.hpp"
#include "qc/probe.hpp"
#include "qc/program_supervisor.hpp"
#include "qc/protocol.hpp"
#include "qc/supervision_io.hpp"

namespace qc {

class SupervisionEngine;
class AlertRunner;
class ControlServer;
class EngineHealthChecks;

// A health check (docs/config.md): the probe (kind and target; timeout_s is one check's
// bound), how often, and how many failures in a row restart the run.
struct HealthSpec {
  ReadySpec check;
  double interval_s = 10;
  int failures = 3;
};

// One program as a supervisor runs it.
struct SupervisedProgram {
  ProgramSpec spec;
  ReadySpec ready;  // kNone: ready once started
  std::optional<HealthSpec> health;
  double start_delay_s = 0;
  // The fleet (a runner that joined one): the host that takes it back when it returns ("": any).
  std::string prefer_host;
};

struct RunnerSettings {
  std::string tool;  // "qc-run", "qc-launch": the lock records' "tool"
  std::string lock_dir;
  std::optional<std::string> log_dir;  // each program's output goes to LOG_DIR/NAME.log
  std::size_t log_max_bytes = 10 * 1024 * 1024;
  std::size_t log_files = 5;
  bool log_ours_to_program_log = false;  // qc-run: our own lines go to its program's log too
  bool json = false;                     // events as JSON Lines on stdout (docs/events.md)
  std::vector<std::string> on_event;     // the alert command, empty: none
  bool stop_with_received_signal = false;  // qc-run: SIGINT stops with SIGINT (no --stop-signal)
  bool stop_requests = false;  // qc-shutdown NAME's per-program stop request is answered
  bool ready_events = true;    // "ready" JSON events, qc-launch's start order (qc-run: off)
  bool engine_notes = true;    // the engine's lines on why everything stops or has ended
                               // (qc-run: off, its one program's events say it all)
  // The control endpoint (needs the supervisor's own lock): STATUS's extra string fields.
  bool control = false;
  std::vector<std::pair<std::string, std::string>> status_fields;
};

// What is the tool's own in the loop.
class RunnerHooks {
 public:
  virtual ~RunnerHooks() = default;
  // SIGUSR1, SIGUSR2 (not a stop request) and SIGHUP. SIGINT and SIGTERM stop everything
  // (a second one kills), whatever the tool.
  virtual void on_signal(const SignalEvent&, SteadyTime) {}
  // A control request the runner does not answer itself (RELOAD); nothing: "Unknown action".
  virtual std::optional<protocol::Answer> on_control(const std::string& /*action*/,
                                                     const std::string& /*payload_json*/, SteadyTime) {
    return std::nullopt;
  }
  // After every wake-up; the tool's own next deadline.
  virtual void on_wake(SteadyTime) {}
  virtual std::optional<SteadyTime> deadline() const { return std::nullopt; }
};

class EngineRunner {
 public:
  EngineRunner(RunnerSettings settings, RunnerHooks& hooks);
  ~EngineRunner();
  EngineRunner(const EngineRunner&) = delete;
  EngineRunner& operator=(const EngineRunner&) = delete;

  // The record a program's lock file carries while this runner holds it.
  LockRecord record_for(const std::string& name, const std::vector<std::string>& command,
                        const std::optional<std::string>& account) const;
  // Before run(): the supervisor's own name (qc-launch's LAUNCH.name). Its lock lost: every
  // program stops (exit 75). Its record gets the control endpoint.
  void hold_own_lock(HeldLock lock, LockRecord record);
  // Before run(): the next program in the start order, with its lock, and its fleet name
  // when it has one (docs/fleet.md): its runs get QC_FENCING_TOKEN, its record the token, and
  // when the lease cannot be renewed in time it stops for good (lease_lost), like a lost lock.
  void add(SupervisedProgram program, HeldLock lock, std::unique_ptr<FleetHold> fleet = nullptr);
  // Before run(): this runner is a host in the fleet (qc-launch with LAUNCH.fleet,
  // docs/fleet.md). Every program's fleet name is taken through `member` before its turn; one
  // held by another host waits in standby and is taken over when its holder gives it back or
  // its lease expires; a program stopped fleet-wide, asked back by its preferred host, or
  // whose lease could not be renewed in time (self-fencing) stops and waits in standby.
  void join_fleet(std::unique_ptr<FleetMember> member);

  // Forks the guardian (guardian.hpp) now, while no thread exists: a tool calls it before
  // taking fleet names, whose renewals run on a thread (a fork beside a running thread can
  // leave the child waiting forever on a lock that thread held). run() does it otherwise.
  // The runner's destruction dismisses it.
  void start_guardian(double stop_timeout_s);

  // Starts the programs and supervises them until everything has ended: the engine's exit
  // code (engine.hpp), or 73 when the loop, a log file or a pipe could not be set up.
  int run();

  // Whether run() got as far as starting the engine (else it could not set up).
  bool ran() const { return engine_ != nullptr; }
  // While running (from the hooks), and after.
  SupervisionEngine& engine() { return *engine_; }
  const SupervisionEngine& engine() const { return *engine_; }
  std::size_t size() const { return slots_.size(); }
  const SupervisedProgram& program(std::size_t index) const { return slots_[index].plan; }
  EventLoop& loop() { return *loop_; }
  // Another process took program `index`'s name after its lock file was removed, or its
  // fleet lease could not be renewed in time.
  bool lock_lost(std::size_t index) const { return slots_[index].lock_lost; }
  // SIGINT or SIGTERM asked everything to stop.
  bool stop_requested() const { return stop_requested_; }
  // Sends `signal` to program `index`'s process group, if it runs.
  void signal_program(std::size_t index, Signal signal);

  // Reload (the engine's decisions, engine.hpp): a new program with its lock, set up and
  // started in its turn (why not, when its log file or pipe cannot be set up: then it is
  // not added); and a removed, changed (policies), replaced (what it runs) or re-added one.
  std::optional<std::string> add_running(SupervisedProgram program, HeldLock lock, SteadyTime now);
  void remove(std::size_t index, SteadyTime now);
  void update(std::size_t index, SupervisedProgram program, SteadyTime now);
  void replace(std::size_t index, SupervisedProgram program, SteadyTime now);
  std::optional<std::string> readd(std::size_t index, SupervisedProgram program, SteadyTime now);

  // Each program's state as log lines (and "status" JSON Lines with json).
  void report_status();
  // The control endpoint's STATUS (docs/control.md).
  std::string status_json() const;
  // "waiting", "running", "restarting", ... as STATUS says them.
  std::string state_word(std::size_t index) const;

 private:
  // One program and everything that serves it.
  struct Slot {
    SupervisedProgram plan;
    std::optional<HeldLock> lock;
    std::unique_ptr<FleetHold> fleet;  // released (and reset) before the local lock
    bool in_fleet = false;             // it had a fleet name
    std::shared_ptr<log::File> log;
    std::unique_ptr<OutputPump> pump;
    NativeHandle output = kInvalidHandle;  // the write end its runs get
    std::unique_ptr<LockRecordUpdater> record;
    FanoutSink sink;              // its events: record, log lines, JSON, alerts
    EventSink* alerts = nullptr;  // its alerts' sink, if there are alerts
    bool lock_lost = false;       // another process took its name, or its lease went: stopped for good
    // The fleet through member_ (join_fleet).
    std::int64_t fleet_token = 0;  // this host holds its fleet name; 0: it does not
    bool fleet_taking = false;     // a take was asked and not answered yet
    std::string fleet_holder;      // who holds it elsewhere, as last heard
    bool asked_handover = false;   // its preferred host (this one) asked for it back
    bool standby_shown = false;    // <prefix>standby/NAME/HOST is in etcd
  };
  class Host;
  int set_up(Slot& slot);
  void start_control();
  void verify_locks(SteadyTime now);
  void check_fleet(const std::vector<NativeHandle>& readable, SteadyTime now);
  // The fleet name first, then the local lock unless `keep_local` (a fleet program that waits
  // in standby keeps this host's lock).
  void release_names(Slot& slot, bool keep_local = false);
  void try_take(std::size_t index);
  void on_fleet_updates(SteadyTime now);
  void show_standbys();
  void fence_fleet(std::size_t index, const std::string& why, SteadyTime now);
  void tell_lease_lost(std::size_t index, const std::string& why, const std::string& then);
  bool settle_fleet();
  std::optional<protocol::Answer> fleet_start(std::size_t index, SteadyTime now);
  void stop_by_token(std::int32_t token, SteadyTime now);
  void on_signals(const std::vector<SignalEvent>& signals, SteadyTime now);
  std::optional<protocol::Answer> on_control(const std::string& action, const std::string& payload_json,
                                             SteadyTime now);
  std::optional<SteadyTime> next_deadline() const;
  void on_probe(SteadyTime now);
  void tear_down();

  RunnerSettings settings_;
  RunnerHooks& hooks_;
  std::optional<HeldLock> own_lock_;
  LockRecord own_record_;
  std::optional<EventLoop> loop_;          // before everything it watches handles for
  std::unique_ptr<AlertRunner> alerts_;
  std::deque<Slot> slots_;                 // a deque: the engine keeps pointers to each sink
  std::unique_ptr<ChildProcesses> children_;
  std::unique_ptr<EngineHealthChecks> health_;
  std::unique_ptr<ReadinessProbe> probe_;  // the ready check the engine asked for
  std::unique_ptr<Host> host_;
  std::unique_ptr<SupervisionEngine> engine_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<FleetMember> member_;
  std::optional<SteadyTime> fleet_retry_at_;  // a take failed: standbys ask again then
  LogEventWriter log_events_;
  JsonEventWriter json_events_;
  std::string control_secret_;  // Windows: required in every request
  NativeHandle lock_changes_ = kInvalidHandle;
  bool stop_requested_ = false;
  bool guardian_started_ = false;
  std::optional<SteadyTime> alerts_until_;  // everything ended: alerts still running get until then
};

}  // namespace qc
