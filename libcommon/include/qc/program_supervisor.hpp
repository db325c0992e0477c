// One program's life as an explicit state machine (supervisord's states), driven by events
// and deadlines on steady_clock. The engine (engine.hpp) holds one per program and decides
// between them; engine_runner.hpp runs both for real (with supervision_io.hpp's processes,
// output pumps and records).
// It starts and signals processes only through ProcessControl, so its transitions are
// unit-tested with a fake clock and a fake process API.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qc/clock.hpp"
#include "qc/native_handle.hpp"
#include "qc/process.hpp"
#include "qc/result.hpp"
#include "qc/spawn.hpp"

namespace qc {

enum class RestartMode { kNo, kOnFailure, kAlways };
const char* restart_mode_name(RestartMode mode);
std::optional<RestartMode> parse_restart_mode(const std::string& text);

struct RestartPolicy {
  RestartMode mode = RestartMode::kOnFailure;
  int max_restarts = 5;
  double backoff_initial_s = 1;
  double backoff_max_s = 60;
  double reset_after_s = 300;
};

struct ProgramSpec {
  std::string name;
  std::vector<std::string> command;
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> account;
  RestartPolicy restart;
  double stop_timeout_s = 10;
  Signal stop_signal = Signal::kTerminate;  // what a stop sends first (INT for Python clean-up)
  bool needs_ready = false;  // STARTING until mark_ready(); RUNNING at once otherwise
};

enum class ProgramState { kStopped, kStarting, kRunning, kBackoff, kStopping, kExited, kFatal };
const char* program_state_name(ProgramState state);
// The lock file's word for a state: running (also starting), restarting, failed, stopping.
const char* record_state_name(ProgramState state);

// The OS as the state machine sees it.
class ProcessControl {
 public:
  virtual ~ProcessControl() = default;
  // Starts the program's command in a process group of its own.
  virtual Result<ProcessId> start(const ProgramSpec& spec) = 0;
  // Signals the whole process group led by `pid`.
  virtual void signal_group(Pid pid, Signal signal) = 0;
};

// What happened, for --json and the logs (docs/tools.md's event names).
struct SupervisorEvent {
  std::string event;  // started, exited, restarting, gave_up, stopped, ready, failed
  std::string name;
  std::optional<Pid> pid;
  std::optional<StartToken> pid_start;
  std::optional<int> status;  // exit code, 128+N for signal N
  int restarts = 0;
  std::optional<double> delay_s;  // restarting: the wait before the next start
  std::string detail;             // a human sentence for the log
  // The program's state in its lock file after this event: running, restarting, failed or
  // stopping (docs/lock-file.md).
  const char* record_state = "running";
  // Only the lock file cares (the start of a stop): not an event of --json or the log.
  bool record_only = false;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const SupervisorEvent& event) = 0;
};

class ProgramSupervisor {
 public:
  ProgramSupervisor(ProgramSpec spec, ProcessControl& control, EventSink& sink);

  const ProgramSpec& spec() const { return spec_; }
  ProgramState state() const { return state_; }
  std::optional<ProcessId> process() const { return process_; }
  int restarts() const { return total_restarts_; }
  // When the current run started (for uptime), if one runs.
  std::optional<SteadyTime> run_started() const;
  // The status qc-run exits with when the program ends without restart.
  std::optional<ExitStatus> last_status() const { return last_status_; }
  // The spawn error that made the program FATAL, if that is why.
  const std::optional<Error>& spawn_error() const { return spawn_error_; }

  // No further start will happen by itself: EXITED, FATAL, or STOPPED after stop().
  bool finished() const;
  bool gave_up() const { return state_ == ProgramState::kFatal; }

  // The next moment on_deadline must be called, if any.
  std::optional<SteadyTime> next_deadline() const { return deadline_; }

  void start(SteadyTime now);
  void mark_ready(SteadyTime now);
  void on_exit(const ExitStatus& status, SteadyTime now);
  void on_deadline(SteadyTime now);
  // Asks the program to stop: `signal` to its group now, SIGKILL at the stop timeout.
  void stop(Signal signal, SteadyTime now);
  // Kills the group now (a second Ctrl+C, or a failed start-up).
  void kill_now();
  // The run failed its health checks: an `unhealthy` event, then the run is stopped (its
  // stop signal, SIGKILL at the stop timeout) and its end counts as a failed run: restarted
  // under the backoff, or given up when the restarts are used up. Only a RUNNING program.
  void restart_unhealthy(const std::string& why, SteadyTime now);
  // From now on an exit is final: no restart (a shutdown in progress elsewhere). A pending
  // restart is cancelled.
  void no_more_restarts();
  // START on request: a finished program (exited, given up, stopped) starts again with its
  // restart count at zero. Nothing happens to one that is not finished.
  // `fresh`: as a first run, waited for by its ready check again (a fleet take-over).
  void revive(SteadyTime now, bool fresh = false);
  // RESTART on request: a running program is stopped (its stop signal, SIGKILL at the stop
  // timeout) and started again as soon as it has ended, with no backoff and nothing counted
  // against its restarts; one waiting out a backoff starts now. Only those two states.
  void restart_now(SteadyTime now);
  // A reload's new spec (same name), for the runs to come.
  void update_spec(ProgramSpec spec) { spec_ = std::move(spec); }

 private:
  void spawn(SteadyTime now);
  // After a failed run (or a start that failed for now): the next start after the backoff,
  // or FATAL when the restarts are used up.
  void retry_or_give_up(SteadyTime now, double ran_s, int code);
  void emit(const std::string& event, std::optional<int> status, std::string detail,
            std::optional<double> delay_s = std::nullopt, bool record_only = false);

  ProgramSpec spec_;
  ProcessControl& control_;
  EventSink& sink_;
  ProgramState state_ = ProgramState::kStopped;
  std::optional<ProcessId> process_;
  std::optional<SteadyTime> run_start_;
  std::optional<SteadyTime> deadline_;
  std::optional<ExitStatus> last_status_;
  std::optional<Error> spawn_error_;
  int consecutive_failures_ = 0;  // quick failures in a row: drives backoff and give-up
  int total_restarts_ = 0;
  bool stop_requested_ = false;
  bool killed_ = false;
  bool unhealthy_ = false;  // the current stop is a health restart, not a request
  bool restart_requested_ = false;  // the current stop is a RESTART: start again at its end
  bool was_ready_ = false;  // a run was ready once: later runs are RUNNING at once
};

// The backoff before restart number `attempt` (1-based): initial, doubled after each quick
// failure, capped at max.
double backoff_delay_s(const RestartPolicy& policy, int attempt);

}  // namespace qc
