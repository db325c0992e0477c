// The supervision state machine with a fake clock and a fake process API: no real process.
#include "qc/program_supervisor.hpp"

#include <gtest/gtest.h>

namespace qc {
namespace {

using namespace std::chrono_literals;

class FakeProcesses : public ProcessControl {
 public:
  Result<ProcessId> start(const ProgramSpec&) override {
    if (fail_next_start) return Error{"python: command not found in PATH", 2};  // ENOENT
    if (transient_failures > 0) {
      --transient_failures;
      return Error{"cannot start a process: Resource temporarily unavailable", 11};  // EAGAIN
    }
    ++starts;
    return ProcessId{1000 + starts, 77};
  }
  void signal_group(Pid pid, Signal signal) override { signals.emplace_back(pid, signal); }

  int starts = 0;
  bool fail_next_start = false;
  int transient_failures = 0;
  std::vector<std::pair<Pid, Signal>> signals;
};

class RecordingSink : public EventSink {
 public:
  void emit(const SupervisorEvent& e) override { events.push_back(e); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.event);
    return out;
  }
  std::vector<SupervisorEvent> events;
};

class SupervisorTest : public ::testing::Test {
 protected:
  ProgramSpec spec(RestartMode mode = RestartMode::kOnFailure) {
    ProgramSpec s;
    s.name = "BRAIN";
    s.command = {"python", "BRAIN.py"};
    s.restart.mode = mode;
    s.restart.max_restarts = 3;
    s.restart.backoff_initial_s = 1;
    s.restart.backoff_max_s = 3;
    s.restart.reset_after_s = 300;
    s.stop_timeout_s = 10;
    return s;
  }
  SteadyTime t0 = SteadyTime{} + 1000s;
  FakeProcesses processes;
  RecordingSink sink;
};

const ExitStatus kFailed{1, 0};
const ExitStatus kOk{0, 0};
const ExitStatus kKilled{0, 9};

TEST_F(SupervisorTest, AlwaysFailingRunsMaxRestartsPlusOneTimesThenGivesUp) {
  ProgramSupervisor sup(spec(), processes, sink);
  auto now = t0;
  sup.start(now);
  std::vector<double> delays;
  while (!sup.finished()) {
    ASSERT_EQ(sup.state(), ProgramState::kRunning);
    now += 1s;
    sup.on_exit(kFailed, now);
    if (sup.state() == ProgramState::kBackoff) {
      delays.push_back(std::chrono::duration<double>(*sup.next_deadline() - now).count());
      now = *sup.next_deadline();
      sup.on_deadline(now);
    }
  }
  EXPECT_EQ(processes.starts, 4);  // max_restarts + 1 runs
  EXPECT_EQ(sup.state(), ProgramState::kFatal);
  EXPECT_TRUE(sup.gave_up());
  EXPECT_EQ(delays, (std::vector<double>{1, 2, 3}));  // doubling, capped at 3
  EXPECT_EQ(sink.names().back(), "gave_up");
  EXPECT_EQ(sup.restarts(), 3);
}

TEST_F(SupervisorTest, SuccessIsNotRestartedUnderOnFailure) {
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  sup.on_exit(kOk, t0 + 1s);
  EXPECT_EQ(sup.state(), ProgramState::kExited);
  EXPECT_TRUE(sup.finished());
  EXPECT_EQ(processes.starts, 1);
  EXPECT_EQ(sup.last_status()->as_exit_code(), 0);
  EXPECT_EQ(sink.names(), (std::vector<std::string>{"started", "exited"}));
}

TEST_F(SupervisorTest, AKillByAForeignSignalIsAFailure) {
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  sup.on_exit(kKilled, t0 + 1s);
  EXPECT_EQ(sup.state(), ProgramState::kBackoff);
  EXPECT_EQ(sink.events.back().status, 137);
}

TEST_F(SupervisorTest, NoMeansNeverAndAlwaysMeansEvenAfterSuccess) {
  ProgramSupervisor never(spec(RestartMode::kNo), processes, sink);
  never.start(t0);
  never.on_exit(kFailed, t0 + 1s);
  EXPECT_EQ(never.state(), ProgramState::kExited);

  ProgramSupervisor always(spec(RestartMode::kAlways), processes, sink);
  always.start(t0);
  always.on_exit(kOk, t0 + 1s);
  EXPECT_EQ(always.state(), ProgramState::kBackoff);
}

TEST_F(SupervisorTest, EveryRestartCountsUnderAlwaysToo) {
  ProgramSupervisor sup(spec(RestartMode::kAlways), processes, sink);
  auto now = t0;
  sup.start(now);
  while (!sup.finished()) {
    now += 1s;
    sup.on_exit(kOk, now);
    if (sup.next_deadline()) {
      now = *sup.next_deadline();
      sup.on_deadline(now);
    }
  }
  EXPECT_EQ(processes.starts, 4);
  EXPECT_TRUE(sup.gave_up());
}

TEST_F(SupervisorTest, ALongRunResetsTheCountAndTheBackoff) {
  ProgramSupervisor sup(spec(), processes, sink);
  auto now = t0;
  sup.start(now);
  for (int i = 0; i < 2; ++i) {  // two quick failures: backoff grows to 2 s
    now += 1s;
    sup.on_exit(kFailed, now);
    now = *sup.next_deadline();
    sup.on_deadline(now);
  }
  now += 301s;  // then a long, healthy run
  sup.on_exit(kFailed, now);
  ASSERT_EQ(sup.state(), ProgramState::kBackoff);
  EXPECT_EQ(*sup.next_deadline() - now, 1s);  // backoff back to INITIAL
  EXPECT_EQ(sup.restarts(), 3);               // the total keeps counting
}

TEST_F(SupervisorTest, StopSignalsTheGroupThenKillsAtTheTimeout) {
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  const Pid pid = sup.process()->pid;
  sup.stop(Signal::kTerminate, t0 + 1s);
  EXPECT_EQ(sup.state(), ProgramState::kStopping);
  ASSERT_EQ(processes.signals.size(), 1u);
  EXPECT_EQ(processes.signals[0], std::make_pair(pid, Signal::kTerminate));
  EXPECT_EQ(*sup.next_deadline(), t0 + 11s);
  sup.on_deadline(t0 + 5s);  // early: nothing
  EXPECT_EQ(processes.signals.size(), 1u);
  sup.on_deadline(t0 + 11s);
  ASSERT_EQ(processes.signals.size(), 2u);
  EXPECT_EQ(processes.signals[1], std::make_pair(pid, Signal::kKill));
  sup.on_exit(kKilled, t0 + 11s);
  EXPECT_EQ(sup.state(), ProgramState::kStopped);
  EXPECT_TRUE(sup.finished());
  EXPECT_EQ(processes.starts, 1);  // a stop is never followed by a restart
  EXPECT_EQ(sink.names().back(), "stopped");
}

TEST_F(SupervisorTest, StopDuringBackoffCancelsTheRestart) {
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  sup.on_exit(kFailed, t0 + 1s);
  sup.stop(Signal::kTerminate, t0 + 1500ms);
  EXPECT_EQ(sup.state(), ProgramState::kStopped);
  EXPECT_FALSE(sup.next_deadline());
  sup.on_deadline(t0 + 10s);
  EXPECT_EQ(processes.starts, 1);
}

TEST_F(SupervisorTest, NoMoreRestartsMakesTheNextExitFinal) {
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  sup.no_more_restarts();
  EXPECT_EQ(sup.state(), ProgramState::kRunning);  // it keeps running until it ends
  sup.on_exit(kFailed, t0 + 1s);
  EXPECT_EQ(sup.state(), ProgramState::kExited);
  EXPECT_TRUE(sup.finished());
  EXPECT_FALSE(sup.next_deadline());
  EXPECT_EQ(processes.starts, 1);
}

TEST_F(SupervisorTest, ASpawnErrorIsFatalAtOnce) {
  processes.fail_next_start = true;
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  EXPECT_EQ(sup.state(), ProgramState::kFatal);
  ASSERT_TRUE(sup.spawn_error());
  EXPECT_EQ(sink.events.back().status, 127);
}

TEST_F(SupervisorTest, AMomentaryForkFailureIsRetriedUnderTheBackoff) {
  processes.transient_failures = 2;
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  EXPECT_EQ(sup.state(), ProgramState::kBackoff);
  EXPECT_FALSE(sup.spawn_error());
  EXPECT_EQ(*sup.next_deadline(), t0 + 1s);
  sup.on_deadline(t0 + 1s);  // fails again: the backoff doubles
  EXPECT_EQ(sup.state(), ProgramState::kBackoff);
  EXPECT_EQ(*sup.next_deadline(), t0 + 3s);
  sup.on_deadline(t0 + 3s);
  EXPECT_EQ(sup.state(), ProgramState::kRunning);
  EXPECT_EQ(processes.starts, 1);
  EXPECT_EQ(sup.restarts(), 2);
}

TEST_F(SupervisorTest, MomentaryForkFailuresCountTowardTheCap) {
  processes.transient_failures = 100;
  ProgramSupervisor sup(spec(), processes, sink);
  sup.start(t0);
  for (int i = 1; i <= 3; ++i) sup.on_deadline(*sup.next_deadline());
  EXPECT_TRUE(sup.gave_up());
  EXPECT_FALSE(sup.spawn_error());  // not "cannot be executed": qc-run exits 1, not 126
  EXPECT_EQ(sink.events.back().status, 71);
}

TEST_F(SupervisorTest, ReadinessMovesStartingToRunning) {
  ProgramSpec s = spec();
  s.needs_ready = true;
  ProgramSupervisor sup(s, processes, sink);
  sup.start(t0);
  EXPECT_EQ(sup.state(), ProgramState::kStarting);
  sup.mark_ready(t0 + 1s);
  EXPECT_EQ(sup.state(), ProgramState::kRunning);
  EXPECT_EQ(sink.names(), (std::vector<std::string>{"started", "ready"}));
}

TEST_F(SupervisorTest, ZeroBackoffRestartsWithoutWaiting) {
  ProgramSpec s = spec();
  s.restart.backoff_initial_s = 0;
  s.restart.backoff_max_s = 0;
  ProgramSupervisor sup(s, processes, sink);
  sup.start(t0);
  sup.on_exit(kFailed, t0 + 1s);
  EXPECT_EQ(*sup.next_deadline(), t0 + 1s);
}

TEST(Backoff, DoublesAndCaps) {
  RestartPolicy p;
  p.backoff_initial_s = 1;
  p.backoff_max_s = 60;
  EXPECT_EQ(backoff_delay_s(p, 1), 1);
  EXPECT_EQ(backoff_delay_s(p, 2), 2);
  EXPECT_EQ(backoff_delay_s(p, 6), 32);
  EXPECT_EQ(backoff_delay_s(p, 7), 60);
  EXPECT_EQ(backoff_delay_s(p, 1000), 60);
}

}  // namespace
}  // namespace qc
