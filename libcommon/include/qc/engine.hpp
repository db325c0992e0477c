// The supervision engine: every program of a supervisor (one for qc-run, the plan for
// qc-launch) and the decisions between them: start order (each once the one before is ready),
// readiness waits, stopping one program for good, stopping everything in reverse start order,
// and when it is all over with which exit code. One program's own life (start, backoff, give
// up, stop, kill) is its ProgramSupervisor's (program_supervisor.hpp).
//
// The engine touches nothing itself: processes through ProcessControl, events through each
// program's EventSink, and readiness checks, refusals, log lines and the release of what
// serves a finished program through EngineHost. Time is an argument. So its decisions are
// unit-tested with fakes, no processes and no sleeps (tests/unit/engine_test.cpp). The
// EngineHost of qc-run and qc-launch, and their event loop, is EngineRunner (engine_runner.hpp).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qc/clock.hpp"
#include "qc/program_supervisor.hpp"

namespace qc {

// Health checks while a program runs: one every interval_s (the first interval_s after it
// is running), each within timeout_s; after `failures` failures in a row the run is stopped
// and restarted like a crash (ProgramSupervisor::restart_unhealthy).
struct HealthCheck {
  double interval_s = 10;
  double timeout_s = 5;
  int failures = 3;
};

struct EngineProgram {
  ProgramSpec spec;               // spec.needs_ready: started programs wait for a ready check
  double start_delay_s = 0;       // wait this long before starting it (after the one before is ready)
  double ready_timeout_s = 0;     // how long its ready check may take
  std::string ready_check;        // what the check is, for messages ("tcp 127.0.0.1:5555")
  EventSink* sink = nullptr;      // where its events go (never null when started)
  std::optional<HealthCheck> health;
};

// What the engine asks of the tool that runs it.
class EngineHost {
 public:
  virtual ~EngineHost() = default;
  // Just before program `index` starts: a reason not to start it (everything then stops), or
  // nothing. A refusal is a sentence that says what to do.
  virtual std::optional<std::string> refuse_start(std::size_t index) = 0;
  // Begins checking whether program `index` is ready, for up to `timeout_s`; the host answers
  // with SupervisionEngine::on_ready_result. An error stops everything.
  virtual Status begin_ready_check(std::size_t index, double timeout_s, SteadyTime now) = 0;
  virtual void cancel_ready_check() = 0;
  // Program `index` started and has no ready check: it counts as ready at once.
  virtual void ready_without_check(std::size_t index) = 0;
  // Program `index` has ended for good: release what serves it (its output, its lock).
  virtual void program_done(std::size_t index) = 0;
  // A program released by program_done is started again (START): take back what serves it
  // (its lock), or say why not.
  virtual std::optional<std::string> take_back(std::size_t) { return std::nullopt; }
  // At program `index`'s turn in the start order: whether it waits in standby instead of
  // starting (the fleet, docs/fleet.md: another host holds its name).
  virtual bool in_standby(std::size_t) { return false; }
  // Begins one health check of program `index`, answered with on_health_result; cancels one.
  // Only programs with a HealthCheck are checked.
  virtual Status begin_health_check(std::size_t, double /*timeout_s*/, SteadyTime) { return {}; }
  virtual void cancel_health_check(std::size_t) {}
  // A line for the person: why everything stops, or that everything has ended.
  virtual void note(bool error, const std::string& text) = 0;
};

class SupervisionEngine {
 public:
  SupervisionEngine(std::vector<EngineProgram> programs, ProcessControl& control, EngineHost& host);

  std::size_t size() const { return programs_.size(); }
  const ProgramSupervisor& program(std::size_t index) const { return *supervisors_[index]; }
  // The program whose PID is `pid`, if one runs with it.
  std::optional<std::size_t> find(Pid pid) const;
  std::optional<std::size_t> find(const std::string& name) const;
  bool started(std::size_t index) const { return started_[index]; }

  // Starts the first program (and the next ones while no ready check holds them back).
  void start(SteadyTime now);
  void on_exit(Pid pid, const ExitStatus& status, SteadyTime now);
  // The answer to begin_ready_check: ready, or not ready with why.
  void on_ready_result(bool ready, const std::string& why_not, SteadyTime now);
  // The answer to begin_health_check for program `index`: healthy, or not with why.
  void on_health_result(std::size_t index, bool healthy, const std::string& why_not, SteadyTime now);
  void on_deadline(SteadyTime now);
  std::optional<SteadyTime> next_deadline() const;

  // Stops every program in reverse start order, each within its stop timeout, with its own
  // stop signal or `signal` (qc-run passes on the one it got). The first call decides the
  // exit code; later ones change nothing.
  void stop_all(int exit_code, const std::string& why, SteadyTime now,
                std::optional<Signal> signal = std::nullopt);
  // Kills what still runs (a second Ctrl+C).
  void kill_all();
  // Stops one program for good and leaves the others running (qc-shutdown NAME, a lost lock).
  void stop_for_good(std::size_t index, SteadyTime now);

  // The control channel's START, STOP and RESTART of one program. Each returns why it was
  // refused (a sentence), or nothing when it was done:
  //   START    a finished program (exited, given up, stopped) runs again, restart count zero;
  //   STOP     it stops for good and stays stopped until START; while a program is held
  //            stopped so, the engine does not finish when the others have ended;
  //   RESTART  a running program is stopped and started again (a new PID); one waiting to
  //            restart starts now; a finished one starts as with START.
  std::optional<std::string> start_program(std::size_t index, SteadyTime now);
  std::optional<std::string> stop_program(std::size_t index, SteadyTime now);
  std::optional<std::string> restart_program(std::size_t index, SteadyTime now);
  // Stopped by STOP and not started since.
  bool held(std::size_t index) const { return held_[index]; }

  // The fleet (docs/fleet.md). A program in standby has had its turn but runs elsewhere: it
  // is neither running nor finished (the engine does not finish while one waits).
  //   take_over   its name was taken here: it starts in its place in the order, after the
  //               ready check in progress, as a first run (its ready check respected; a
  //               failed one gives it up, and only it); false when it is not in standby;
  //   to_standby  it stops for good here (program_done releases what serves it once it has
  //               ended) and waits in standby again; also one held by STOP. Nothing for a
  //               program that has not had its turn (in_standby decides then).
  bool take_over(std::size_t index, SteadyTime now);
  void to_standby(std::size_t index, SteadyTime now);
  bool standby(std::size_t index) const { return standby_[index]; }

  // Reload (the difference between the running config and a new one, decided by the tool):
  //   add      a new program at the end of the start order; it starts in its turn (after
  //            the ready check in progress, if any), its ready check respected. Its index.
  //   remove   it stops for good and is no longer found by name.
  //   update   new policies (restarts, backoff, stop timeout and signal, health) for the
  //            runs to come; the running process is not touched.
  //   replace  a new command, cwd, env or account: a running program is restarted with it,
  //            one that had ended (not held by STOP) starts with it.
  //   readd    a removed program is back: it starts with its new spec (through take_back).
  std::size_t add(EngineProgram program, SteadyTime now);
  void remove(std::size_t index, SteadyTime now);
  void update(std::size_t index, EngineProgram program, SteadyTime now);
  void replace(std::size_t index, EngineProgram program, SteadyTime now);
  std::optional<std::string> readd(std::size_t index, EngineProgram program, SteadyTime now);
  bool removed(std::size_t index) const { return removed_[index]; }
  // The program named `name`, removed ones included.
  std::optional<std::size_t> find_any(const std::string& name) const;
  const EngineProgram& settings(std::size_t index) const { return programs_[index]; }

  // Every program has had its turn in the start order and no ready check is pending: the
  // moment a service manager is told the orchestrator is ready.
  bool start_order_done() const { return next_ >= programs_.size() && !checking_; }
  bool stopping() const { return stopping_; }
  bool killing() const { return killing_; }
  // Nothing runs and nothing will: stopped, or every program ended by itself.
  bool finished() const { return finished_; }
  // 0 after a requested stop or when every program ended well; 1 when one gave up or could
  // not start or be ready; otherwise what stop_all was given.
  int exit_code() const { return exit_code_; }

 private:
  void start_next(SteadyTime now);
  void start_takeover(std::size_t index, SteadyTime now);
  // A take-over's run failed to be ready or gave up before: it alone stops.
  void takeover_failed(std::size_t index, const std::string& why, SteadyTime now);
  void advance(SteadyTime now);
  void mark_done(std::size_t index);
  // Why program `index` cannot be controlled now, if it cannot.
  std::optional<std::string> not_controllable(std::size_t index) const;
  // Starts due checks, and follows each program's runs: a new run starts its own schedule, a
  // run that ended has its check cancelled.
  void follow_health(SteadyTime now);

  struct HealthState {
    std::optional<Pid> run;           // the run being checked
    std::optional<SteadyTime> next;   // the next check
    bool in_flight = false;
    SteadyTime started{};             // when the check in flight began
    int failed = 0;                   // failures in a row
  };

  std::vector<EngineProgram> programs_;
  std::vector<std::unique_ptr<ProgramSupervisor>> supervisors_;
  std::vector<bool> started_;
  std::vector<bool> stop_sent_;
  std::vector<bool> done_;
  std::vector<bool> held_;
  std::vector<bool> removed_;
  std::vector<bool> standby_;
  std::vector<HealthState> health_;
  ProcessControl& control_;
  EngineHost& host_;

  std::size_t next_ = 0;                 // the next program to start
  std::optional<SteadyTime> start_at_;   // when it may start (start_delay_s)
  std::optional<std::size_t> checking_;  // the program whose ready check runs
  bool checking_takeover_ = false;       // that check is a take-over's: a failure gives it up alone
  std::vector<std::size_t> takeovers_;   // taken over, to start before the next in the order
  SteadyTime check_deadline_{};          // when that check times out
  bool stopping_ = false;
  bool killing_ = false;
  std::optional<Signal> stop_signal_;
  int stop_cursor_ = -1;  // stopping: the program being stopped, counting down
  bool finished_ = false;
  int exit_code_ = 0;
};

}  // namespace qc
