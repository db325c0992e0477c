// The supervision engine with fake processes, a fake host and a fake clock: start order,
// readiness waits, reverse stop order, stopping one program for good, the exit code.
#include "qc/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "qc/exit_codes.hpp"

namespace qc {
namespace {

using namespace std::chrono_literals;

class FakeProcesses : public ProcessControl {
 public:
  Result<ProcessId> start(const ProgramSpec& spec) override {
    if (spec.command.empty()) return Error{spec.name + ": command not found", 2};
    const Pid pid = next_pid++;
    started.push_back(spec.name);
    pids[spec.name] = pid;
    return ProcessId{pid, 7};
  }
  void signal_group(Pid pid, Signal signal) override {
    for (const auto& [name, p] : pids) {
      if (p == pid) signalled.emplace_back(name, signal);
    }
  }
  Pid next_pid = 100;
  std::vector<std::string> started;
  std::vector<std::pair<std::string, Signal>> signalled;
  std::map<std::string, Pid> pids;
};

class NullSink : public EventSink {
 public:
  void emit(const SupervisorEvent& e) override { events.push_back(e.name + ":" + e.event); }
  std::vector<std::string> events;
};

class FakeHost : public EngineHost {
 public:
  std::optional<std::string> refuse_start(std::size_t index) override {
    if (refuse == index) return std::string("port taken");
    return std::nullopt;
  }
  Status begin_ready_check(std::size_t index, double timeout_s, SteadyTime) override {
    checks.emplace_back(index, timeout_s);
    return {};
  }
  void cancel_ready_check() override { ++cancelled; }
  void ready_without_check(std::size_t index) override { ready_at_once.push_back(index); }
  void program_done(std::size_t index) override { done.push_back(index); }
  std::optional<std::string> take_back(std::size_t index) override {
    if (take_back_refusal) return take_back_refusal;
    taken_back.push_back(index);
    return std::nullopt;
  }
  std::optional<std::string> take_back_refusal;
  std::vector<std::size_t> taken_back;
  bool in_standby(std::size_t index) override {
    return std::find(standby.begin(), standby.end(), index) != standby.end();
  }
  std::vector<std::size_t> standby;  // runs on another host at its turn
  void note(bool error, const std::string& text) override { notes.push_back((error ? "E " : "I ") + text); }
  Status begin_health_check(std::size_t index, double timeout_s, SteadyTime now) override {
    health_checks.push_back({index, timeout_s, now});
    return {};
  }
  void cancel_health_check(std::size_t index) override { health_cancelled.push_back(index); }
  struct Check {
    std::size_t index;
    double timeout_s;
    SteadyTime at;
  };
  std::vector<Check> health_checks;
  std::vector<std::size_t> health_cancelled;

  std::optional<std::size_t> refuse;
  std::vector<std::pair<std::size_t, double>> checks;
  int cancelled = 0;
  std::vector<std::size_t> ready_at_once;
  std::vector<std::size_t> done;
  std::vector<std::string> notes;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineProgram program(const std::string& name, bool ready = false, double delay_s = 0) {
    EngineProgram p;
    p.spec.name = name;
    p.spec.command = {"/opt/" + name};
    p.spec.needs_ready = ready;
    p.spec.restart.max_restarts = 2;
    p.spec.restart.backoff_initial_s = 1;
    p.spec.restart.backoff_max_s = 1;
    p.spec.stop_timeout_s = 5;
    p.start_delay_s = delay_s;
    p.ready_timeout_s = 30;
    p.ready_check = "tcp 127.0.0.1:5555";
    p.sink = &sink;
    return p;
  }
  // Every program that was asked to stop exits at once.
  void exit_all_signalled(SupervisionEngine& engine, SteadyTime now) {
    for (std::size_t seen = 0; seen < processes.signalled.size(); ++seen) {
      const auto& [name, signal] = processes.signalled[seen];
      engine.on_exit(processes.pids[name], ExitStatus{0, 15}, now);
    }
  }
  SteadyTime t0 = SteadyTime{} + 1000s;
  FakeProcesses processes;
  NullSink sink;
  FakeHost host;
};

TEST_F(EngineTest, StartsInOrderAndWaitsForEachReadyCheck) {
  SupervisionEngine engine({program("GATEWAY", true), program("BRAIN"), program("WATCHDOG")}, processes, host);
  engine.start(t0);
  EXPECT_EQ(processes.started, std::vector<std::string>{"GATEWAY"});
  ASSERT_EQ(host.checks.size(), 1u);
  EXPECT_EQ(host.checks[0], std::make_pair(std::size_t{0}, 30.0));
  engine.on_deadline(t0 + 1s);
  EXPECT_EQ(processes.started.size(), 1u) << "nothing starts while a ready check runs";
  engine.on_ready_result(true, "", t0 + 2s);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"GATEWAY", "BRAIN", "WATCHDOG"}));
  EXPECT_EQ(host.ready_at_once, (std::vector<std::size_t>{1, 2}));
  EXPECT_FALSE(engine.finished());
}

TEST_F(EngineTest, AStartDelayIsADeadline) {
  SupervisionEngine engine({program("A"), program("B", false, 5)}, processes, host);
  engine.start(t0);
  EXPECT_EQ(processes.started, std::vector<std::string>{"A"});
  ASSERT_TRUE(engine.next_deadline());
  EXPECT_EQ(*engine.next_deadline(), t0 + 5s);
  engine.on_deadline(t0 + 5s);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"A", "B"}));
}

TEST_F(EngineTest, StopsInReverseStartOrderOneAtATime) {
  SupervisionEngine engine({program("A"), program("B"), program("C")}, processes, host);
  engine.start(t0);
  engine.stop_all(exit_code::kOk, "stopping every program (SIGTERM)", t0 + 1s);
  ASSERT_EQ(processes.signalled.size(), 1u);
  EXPECT_EQ(processes.signalled[0], std::make_pair(std::string("C"), Signal::kTerminate));
  engine.on_exit(processes.pids["C"], ExitStatus{0, 15}, t0 + 2s);
  ASSERT_EQ(processes.signalled.size(), 2u);
  EXPECT_EQ(processes.signalled[1].first, "B");
  engine.on_exit(processes.pids["B"], ExitStatus{0, 15}, t0 + 2s);
  engine.on_exit(processes.pids["A"], ExitStatus{0, 15}, t0 + 2s);
  EXPECT_TRUE(engine.finished());
  EXPECT_EQ(engine.exit_code(), exit_code::kOk);
  EXPECT_EQ(host.done, (std::vector<std::size_t>{2, 1, 0}));
  EXPECT_EQ(processes.started.size(), 3u) << "nothing was restarted during the stop";
}

TEST_F(EngineTest, AStopThatTimesOutIsAKillThenTheNextOne) {
  SupervisionEngine engine({program("A"), program("B")}, processes, host);
  engine.start(t0);
  engine.stop_all(exit_code::kOk, "stop", t0);
  ASSERT_TRUE(engine.next_deadline());
  EXPECT_EQ(*engine.next_deadline(), t0 + 5s);
  engine.on_deadline(t0 + 5s);
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("B"), Signal::kKill));
  engine.on_exit(processes.pids["B"], ExitStatus{0, 9}, t0 + 5s);
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("A"), Signal::kTerminate));
}

TEST_F(EngineTest, AProgramsOwnStopSignalIsUsedUnlessTheStopNamesOne) {
  EngineProgram python = program("PY");
  python.spec.stop_signal = Signal::kInterrupt;
  SupervisionEngine engine({python}, processes, host);
  engine.start(t0);
  engine.stop_all(exit_code::kOk, "stop", t0);
  EXPECT_EQ(processes.signalled.back().second, Signal::kInterrupt);

  FakeProcesses other;
  FakeHost other_host;
  SupervisionEngine passed_on({python}, other, other_host);
  passed_on.start(t0);
  passed_on.stop_all(exit_code::kOk, "", t0, Signal::kQuit);  // qc-run passes on what it got
  EXPECT_EQ(other.signalled.back().second, Signal::kQuit);
}

TEST_F(EngineTest, ReadinessThatFailsStopsWhatWasStarted) {
  SupervisionEngine engine({program("A"), program("GATEWAY", true), program("B")}, processes, host);
  engine.start(t0);
  engine.on_ready_result(false, "connection refused", t0 + 30s);
  EXPECT_TRUE(engine.stopping());
  EXPECT_EQ(engine.exit_code(), exit_code::kNo);
  ASSERT_FALSE(host.notes.empty());
  EXPECT_EQ(host.notes[0], "E GATEWAY was not ready within 30s (tcp 127.0.0.1:5555: connection refused); "
                           "stopping what was started");
  exit_all_signalled(engine, t0 + 31s);
  EXPECT_TRUE(engine.finished());
  EXPECT_EQ(processes.started, (std::vector<std::string>{"A", "GATEWAY"})) << "B never started";
}

TEST_F(EngineTest, AnAnswerWhileTheProgramIsNotRunningIsCheckedAgainForWhatIsLeft) {
  SupervisionEngine engine({program("GATEWAY", true), program("B")}, processes, host);
  engine.start(t0);
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{1, 0}, t0 + 1s);  // crashed; a restart waits
  engine.on_ready_result(true, "", t0 + 10s);  // someone else answered
  ASSERT_EQ(host.checks.size(), 2u);
  EXPECT_DOUBLE_EQ(host.checks[1].second, 20.0);
  EXPECT_EQ(processes.started, std::vector<std::string>{"GATEWAY"});
  engine.on_deadline(t0 + 11s);  // the restart
  engine.on_ready_result(true, "", t0 + 12s);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"GATEWAY", "GATEWAY", "B"}));
}

TEST_F(EngineTest, GivingUpBeforeReadyStopsEverything) {
  SupervisionEngine engine({program("GATEWAY", true), program("B")}, processes, host);
  engine.start(t0);
  auto now = t0;
  for (int run = 0; run < 3; ++run) {  // max_restarts 2: three runs
    now += 1s;
    engine.on_exit(processes.pids["GATEWAY"], ExitStatus{1, 0}, now);
    if (engine.next_deadline()) {
      now = *engine.next_deadline();
      engine.on_deadline(now);
    }
  }
  EXPECT_TRUE(engine.finished());
  EXPECT_EQ(engine.exit_code(), exit_code::kNo);
  EXPECT_EQ(host.cancelled, 1);
  EXPECT_NE(host.notes[0].find("GATEWAY gave up before it was ready"), std::string::npos);
}

TEST_F(EngineTest, ARefusedStartStopsEverything) {
  host.refuse = 1;
  SupervisionEngine engine({program("A"), program("B"), program("C")}, processes, host);
  engine.start(t0);
  EXPECT_EQ(processes.started, std::vector<std::string>{"A"});
  EXPECT_EQ(host.notes[0], "E port taken; stopping what was started");
  exit_all_signalled(engine, t0);
  EXPECT_TRUE(engine.finished());
  EXPECT_EQ(engine.exit_code(), exit_code::kNo);
}

TEST_F(EngineTest, StopForGoodLeavesTheOthersAndReleasesItWhenItHasEnded) {
  SupervisionEngine engine({program("A"), program("B"), program("C")}, processes, host);
  engine.start(t0);
  engine.stop_for_good(1, t0 + 1s);
  EXPECT_EQ(processes.signalled, (std::vector<std::pair<std::string, Signal>>{{"B", Signal::kTerminate}}));
  EXPECT_TRUE(host.done.empty());
  engine.on_exit(processes.pids["B"], ExitStatus{0, 15}, t0 + 2s);
  EXPECT_EQ(host.done, std::vector<std::size_t>{1});
  engine.on_deadline(t0 + 100s);
  EXPECT_EQ(processes.started.size(), 3u) << "B is not restarted";
  EXPECT_FALSE(engine.finished());
}

TEST_F(EngineTest, AProgramStoppedBeforeItsTurnNeverStarts) {
  SupervisionEngine engine({program("GATEWAY", true), program("LATER")}, processes, host);
  engine.start(t0);
  engine.stop_for_good(1, t0);
  engine.on_ready_result(true, "", t0 + 1s);
  EXPECT_EQ(processes.started, std::vector<std::string>{"GATEWAY"});
}

TEST_F(EngineTest, WhenEveryProgramEndsByItselfTheEngineFinishes) {
  EngineProgram once = program("ONCE");
  once.spec.restart.mode = RestartMode::kNo;
  EngineProgram fails = program("FAILS");
  fails.spec.restart.mode = RestartMode::kNo;
  SupervisionEngine engine({once, fails}, processes, host);
  engine.start(t0);
  engine.on_exit(processes.pids["ONCE"], ExitStatus{0, 0}, t0 + 1s);
  EXPECT_FALSE(engine.finished());
  engine.on_exit(processes.pids["FAILS"], ExitStatus{3, 0}, t0 + 1s);
  EXPECT_TRUE(engine.finished());
  EXPECT_EQ(engine.exit_code(), exit_code::kOk) << "no program gave up";
  EXPECT_EQ(host.notes.back(), "I every program has ended");
}

TEST_F(EngineTest, ACommandThatCannotStartStopsEverything) {
  EngineProgram missing = program("MISSING");
  missing.spec.command.clear();
  SupervisionEngine engine({program("A"), missing}, processes, host);
  engine.start(t0);
  EXPECT_TRUE(engine.stopping());
  EXPECT_EQ(host.notes[0], "E cannot start MISSING; stopping what was started");
  EXPECT_TRUE(engine.program(1).spawn_error().has_value());
}

TEST_F(EngineTest, ASecondStopKillsWhatRuns) {
  SupervisionEngine engine({program("A"), program("B")}, processes, host);
  engine.start(t0);
  engine.stop_all(exit_code::kOk, "stop", t0);
  engine.kill_all();
  EXPECT_TRUE(engine.killing());
  EXPECT_EQ(processes.signalled.back().second, Signal::kKill);
}

EngineProgram checked(EngineProgram p) {
  p.health = HealthCheck{1.0, 0.5, 2};
  return p;
}

TEST_F(EngineTest, HealthChecksBeginOneIntervalAfterTheStartAndFailuresInARowRestartTheRun) {
  SupervisionEngine engine({checked(program("GATEWAY"))}, processes, host);
  engine.start(t0);
  ASSERT_TRUE(engine.next_deadline());
  EXPECT_EQ(*engine.next_deadline(), t0 + 1s);
  engine.on_deadline(t0 + 1s);
  ASSERT_EQ(host.health_checks.size(), 1u);
  EXPECT_DOUBLE_EQ(host.health_checks[0].timeout_s, 0.5);
  engine.on_health_result(0, false, "timed out", t0 + 1500ms);
  EXPECT_TRUE(processes.signalled.empty()) << "one failure of two";
  EXPECT_EQ(*engine.next_deadline(), t0 + 2s) << "every interval, counted from each check's start";
  engine.on_deadline(t0 + 2s);
  engine.on_health_result(0, false, "timed out", t0 + 2500ms);
  ASSERT_EQ(processes.signalled.size(), 1u);
  EXPECT_EQ(processes.signalled[0], std::make_pair(std::string("GATEWAY"), Signal::kTerminate));
  EXPECT_NE(std::find(sink.events.begin(), sink.events.end(), "GATEWAY:unhealthy"), sink.events.end());
  // The stopped run counts like a crash: restarted after the backoff, with checks of its own.
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{0, 15}, t0 + 3s);
  EXPECT_EQ(engine.program(0).state(), ProgramState::kBackoff);
  EXPECT_EQ(engine.program(0).restarts(), 1);
  engine.on_deadline(t0 + 4s);
  EXPECT_EQ(processes.started.size(), 2u);
  EXPECT_EQ(*engine.next_deadline(), t0 + 5s);
}

TEST_F(EngineTest, AHealthyAnswerResetsTheCount) {
  SupervisionEngine engine({checked(program("GATEWAY"))}, processes, host);
  engine.start(t0);
  auto now = t0;
  for (bool healthy : {false, true, false, true, false}) {
    now = *engine.next_deadline();
    engine.on_deadline(now);
    engine.on_health_result(0, healthy, healthy ? "" : "refused", now + 100ms);
  }
  EXPECT_TRUE(processes.signalled.empty());
  EXPECT_EQ(host.health_checks.size(), 5u);
}

TEST_F(EngineTest, AnAnswerAboutARunThatEndedIsIgnoredAndStoppingCancelsChecks) {
  SupervisionEngine engine({checked(program("GATEWAY"))}, processes, host);
  engine.start(t0);
  engine.on_deadline(t0 + 1s);
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{1, 0}, t0 + 1100ms);  // crashed meanwhile
  EXPECT_EQ(host.health_cancelled, std::vector<std::size_t>{0});
  engine.on_health_result(0, false, "refused", t0 + 1200ms);
  engine.on_deadline(t0 + 2100ms);  // the restart
  engine.on_deadline(t0 + 3100ms);  // the new run's first check
  ASSERT_EQ(host.health_checks.size(), 2u);
  engine.stop_all(exit_code::kOk, "stop", t0 + 3200ms);
  EXPECT_EQ(host.health_cancelled, (std::vector<std::size_t>{0, 0}));
  EXPECT_TRUE(std::none_of(processes.signalled.begin(), processes.signalled.end(),
                           [](const auto& s) { return s.second == Signal::kKill; }));
}

TEST_F(EngineTest, AProgramWaitingForReadinessIsNotHealthChecked) {
  SupervisionEngine engine({checked(program("GATEWAY", true))}, processes, host);
  engine.start(t0);
  engine.on_deadline(t0 + 5s);
  EXPECT_TRUE(host.health_checks.empty());
  engine.on_ready_result(true, "", t0 + 5s);
  EXPECT_EQ(*engine.next_deadline(), t0 + 6s);
}

// The control channel's actions (START, STOP, RESTART).

TEST_F(EngineTest, StartRevivesAProgramThatGaveUpWithItsRestartCountAtZero) {
  SupervisionEngine engine({program("GATEWAY"), program("BRAIN")}, processes, host);
  engine.start(t0);
  const std::size_t brain = 1;
  SteadyTime t = t0;
  for (int run = 0; run < 3; ++run) {  // max_restarts 2: the third failure gives up
    engine.on_exit(processes.pids["BRAIN"], ExitStatus{1, 0}, t);
    t += 2s;
    engine.on_deadline(t);
  }
  ASSERT_TRUE(engine.program(brain).gave_up());
  EXPECT_EQ(engine.program(brain).restarts(), 2);
  EXPECT_FALSE(engine.finished()) << "GATEWAY still runs";
  const Pid old = processes.pids["BRAIN"];
  EXPECT_EQ(engine.start_program(brain, t), std::nullopt);
  EXPECT_EQ(engine.program(brain).state(), ProgramState::kRunning);
  EXPECT_NE(processes.pids["BRAIN"], old);
  EXPECT_EQ(engine.program(brain).restarts(), 0) << "its restart count starts again";
  EXPECT_TRUE(host.done.empty()) << "a program that gave up kept its name: nothing to take back";
}

TEST_F(EngineTest, StartRefusesWhatRunsOrWaitsAndSaysWhy) {
  SupervisionEngine engine({program("GATEWAY", true), program("BRAIN")}, processes, host);
  engine.start(t0);
  auto refusal = engine.start_program(1, t0);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("has not started yet"), std::string::npos) << *refusal;
  refusal = engine.start_program(0, t0);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("already running (PID 100)"), std::string::npos) << *refusal;
  engine.on_ready_result(true, "", t0);
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{1, 0}, t0);  // waiting out its backoff
  refusal = engine.start_program(1, t0);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("RESTART starts it now"), std::string::npos) << *refusal;
  engine.stop_all(exit_code::kOk, "bye", t0);
  refusal = engine.start_program(1, t0);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(*refusal, "everything is stopping");
}

TEST_F(EngineTest, StopKeepsAProgramStoppedAndTheEngineWaitingForStart) {
  SupervisionEngine engine({program("GATEWAY"), program("BRAIN")}, processes, host);
  engine.start(t0);
  EXPECT_EQ(engine.stop_program(1, t0), std::nullopt);
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("BRAIN"), Signal::kTerminate));
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0 + 1s);
  EXPECT_EQ(engine.program(1).state(), ProgramState::kStopped);
  EXPECT_TRUE(engine.held(1));
  EXPECT_EQ(host.done, std::vector<std::size_t>{1}) << "its name is given back";
  engine.on_deadline(t0 + 100s);
  EXPECT_EQ(engine.program(1).state(), ProgramState::kStopped) << "never restarted by itself";
  auto again = engine.stop_program(1, t0 + 100s);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "BRAIN is already stopped");
  // The other program ends by itself: the engine stays, BRAIN may still be started.
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{0, 0}, t0 + 101s);
  EXPECT_FALSE(engine.finished()) << "a held program waits for START";
  host.take_back_refusal = "BRAIN is held by PID 4242 (brain.exe)";
  EXPECT_EQ(engine.start_program(1, t0 + 102s), host.take_back_refusal);
  EXPECT_TRUE(engine.held(1));
  host.take_back_refusal.reset();
  const Pid before = processes.pids["BRAIN"];
  EXPECT_EQ(engine.start_program(1, t0 + 103s), std::nullopt);
  EXPECT_EQ(host.taken_back, std::vector<std::size_t>{1});
  EXPECT_NE(processes.pids["BRAIN"], before);
  EXPECT_FALSE(engine.held(1));
}

TEST_F(EngineTest, RestartGivesANewRunWithoutCountingAFailure) {
  SupervisionEngine engine({program("BRAIN")}, processes, host);
  engine.start(t0);
  const Pid first = processes.pids["BRAIN"];
  EXPECT_EQ(engine.restart_program(0, t0), std::nullopt);
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("BRAIN"), Signal::kTerminate));
  EXPECT_EQ(processes.started.size(), 1u) << "the new run waits for the old one's end";
  engine.on_deadline(t0 + 5s);  // the stop timeout: killed
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("BRAIN"), Signal::kKill));
  engine.on_exit(first, ExitStatus{0, 9}, t0 + 5s);
  EXPECT_EQ(processes.started.size(), 2u) << "started again at once, no backoff";
  EXPECT_NE(processes.pids["BRAIN"], first);
  EXPECT_EQ(engine.program(0).state(), ProgramState::kRunning);
  EXPECT_EQ(engine.program(0).restarts(), 0);
  EXPECT_FALSE(engine.finished());
}

TEST_F(EngineTest, RestartDuringABackoffStartsNowAndOfAStoppedProgramStartsIt) {
  SupervisionEngine engine({program("BRAIN")}, processes, host);
  engine.start(t0);
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{1, 0}, t0);
  ASSERT_EQ(engine.program(0).state(), ProgramState::kBackoff);
  EXPECT_EQ(engine.restart_program(0, t0), std::nullopt);
  EXPECT_EQ(processes.started.size(), 2u);
  EXPECT_EQ(engine.stop_program(0, t0), std::nullopt);
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0);
  EXPECT_EQ(engine.restart_program(0, t0), std::nullopt);
  EXPECT_EQ(processes.started.size(), 3u);
  EXPECT_EQ(engine.program(0).state(), ProgramState::kRunning);
}

TEST_F(EngineTest, ARestartedRunOfAProgramWithAReadyCheckIsRunningAndHealthChecked) {
  auto gateway = program("GATEWAY", true);
  gateway.health = HealthCheck{1, 1, 1};
  SupervisionEngine engine({gateway}, processes, host);
  engine.start(t0);
  engine.on_ready_result(true, "", t0);
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{1, 0}, t0);
  engine.on_deadline(t0 + 1s);  // the backoff is over: started again
  ASSERT_EQ(processes.started.size(), 2u);
  EXPECT_EQ(engine.program(0).state(), ProgramState::kRunning) << "not STARTING forever";
  engine.on_deadline(t0 + 2s);
  ASSERT_FALSE(host.health_checks.empty()) << "the new run is checked";
}

// Reload decisions (the tool computes the difference; the engine applies it).

TEST_F(EngineTest, AnAddedProgramStartsAfterTheOthersWithItsReadyCheck) {
  SupervisionEngine engine({program("GATEWAY")}, processes, host);
  engine.start(t0);
  const std::size_t brain = engine.add(program("BRAIN", true), t0 + 1s);
  EXPECT_EQ(brain, 1u);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"GATEWAY", "BRAIN"}));
  ASSERT_EQ(host.checks.size(), 1u) << "its ready check is respected";
  engine.add(program("WATCHDOG"), t0 + 1s);
  EXPECT_EQ(processes.started.size(), 2u) << "the next one waits for BRAIN to be ready";
  engine.on_ready_result(true, "", t0 + 2s);
  EXPECT_EQ(processes.started.back(), "WATCHDOG");
  engine.stop_all(exit_code::kOk, "bye", t0 + 3s);
  EXPECT_EQ(processes.signalled.front().first, "WATCHDOG") << "reverse order, the added ones first";
}

TEST_F(EngineTest, ARemovedProgramStopsForGoodAndIsNoLongerFound) {
  SupervisionEngine engine({program("GATEWAY"), program("BRAIN")}, processes, host);
  engine.start(t0);
  engine.remove(1, t0);
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("BRAIN"), Signal::kTerminate));
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0);
  EXPECT_EQ(host.done, std::vector<std::size_t>{1});
  EXPECT_FALSE(engine.find("BRAIN"));
  EXPECT_EQ(engine.find_any("BRAIN"), 1u);
  EXPECT_FALSE(engine.finished());
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{0, 0}, t0 + 1s);
  EXPECT_TRUE(engine.finished()) << "a removed program holds nothing up";
}

TEST_F(EngineTest, APolicyChangeTouchesNoProcessAndAppliesToTheNextFailure) {
  SupervisionEngine engine({program("BRAIN")}, processes, host);
  engine.start(t0);
  auto changed = program("BRAIN");
  changed.spec.restart.max_restarts = 0;
  engine.update(0, changed, t0);
  EXPECT_TRUE(processes.signalled.empty());
  EXPECT_EQ(processes.started.size(), 1u);
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{1, 0}, t0 + 1s);
  EXPECT_TRUE(engine.program(0).gave_up()) << "max_restarts 0 now";
}

TEST_F(EngineTest, AChangedCommandRestartsARunningProgramWithIt) {
  SupervisionEngine engine({program("BRAIN")}, processes, host);
  engine.start(t0);
  auto changed = program("BRAIN");
  changed.spec.command = {"/opt/BRAIN2"};
  engine.replace(0, changed, t0);
  EXPECT_EQ(processes.signalled.back(), std::make_pair(std::string("BRAIN"), Signal::kTerminate));
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0 + 1s);
  EXPECT_EQ(processes.started.size(), 2u);
  EXPECT_EQ(engine.program(0).spec().command, std::vector<std::string>{"/opt/BRAIN2"});
}

TEST_F(EngineTest, AProgramRemovedAndAddedBackStartsAgainThroughTakeBack) {
  SupervisionEngine engine({program("BRAIN")}, processes, host);
  engine.start(t0);
  engine.remove(0, t0);
  auto early = engine.readd(0, program("BRAIN"), t0);
  ASSERT_TRUE(early);
  EXPECT_NE(early->find("still stopping"), std::string::npos);
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0);
  EXPECT_EQ(engine.readd(0, program("BRAIN"), t0 + 1s), std::nullopt);
  EXPECT_EQ(host.taken_back, std::vector<std::size_t>{0});
  EXPECT_EQ(processes.started.size(), 2u);
  EXPECT_TRUE(engine.find("BRAIN"));
}


// The fleet (docs/fleet.md): programs another host runs wait in standby; taken over, they
// start in their place in the order with their ready check; lease loss sends them back.
TEST_F(EngineTest, StandbyProgramsAreSkippedAndKeepTheEngineRunning) {
  host.standby = {1};
  SupervisionEngine engine({program("GATEWAY"), program("BRAIN"), program("WATCHDOG")}, processes, host);
  engine.start(t0);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"GATEWAY", "WATCHDOG"}));
  EXPECT_TRUE(engine.standby(1));
  EXPECT_FALSE(engine.started(1));
  EXPECT_TRUE(engine.start_order_done());
  engine.on_exit(processes.pids["GATEWAY"], ExitStatus{0, 0}, t0 + 1s);
  engine.on_exit(processes.pids["WATCHDOG"], ExitStatus{0, 0}, t0 + 1s);
  // Both others ended for good (restart on failure only): the standby still waits.
  EXPECT_FALSE(engine.finished());
}

TEST_F(EngineTest, TakeOverStartsWithItsReadyCheckBeforeTheNextInOrder) {
  host.standby = {0};
  SupervisionEngine engine({program("GATEWAY", true), program("BRAIN", true), program("WATCHDOG", true)},
                           processes, host);
  engine.start(t0);
  ASSERT_EQ(processes.started, std::vector<std::string>{"BRAIN"});  // its check runs
  EXPECT_TRUE(engine.take_over(0, t0 + 1s));
  EXPECT_EQ(processes.started, std::vector<std::string>{"BRAIN"});  // after BRAIN's check
  engine.on_ready_result(true, "", t0 + 2s);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"BRAIN", "GATEWAY"}));  // before WATCHDOG
  EXPECT_EQ(engine.program(0).state(), ProgramState::kStarting);
  engine.on_ready_result(true, "", t0 + 3s);
  EXPECT_EQ(engine.program(0).state(), ProgramState::kRunning);
  EXPECT_EQ(processes.started, (std::vector<std::string>{"BRAIN", "GATEWAY", "WATCHDOG"}));
  EXPECT_FALSE(engine.standby(0));
  EXPECT_FALSE(engine.take_over(0, t0 + 4s));  // not in standby
}

TEST_F(EngineTest, AFailedTakeOverStopsOnlyItself) {
  host.standby = {1};
  SupervisionEngine engine({program("GATEWAY"), program("BRAIN", true)}, processes, host);
  engine.start(t0);
  ASSERT_TRUE(engine.take_over(1, t0 + 1s));
  engine.on_ready_result(false, "connection refused", t0 + 31s);
  EXPECT_FALSE(engine.stopping());
  ASSERT_EQ(processes.signalled.size(), 1u);
  EXPECT_EQ(processes.signalled[0].first, "BRAIN");
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0 + 32s);
  EXPECT_EQ(host.done, std::vector<std::size_t>{1});  // its names go back
  EXPECT_EQ(engine.program(0).state(), ProgramState::kRunning);
}

TEST_F(EngineTest, ToStandbyStopsARunningProgramAndItCanBeTakenOverAgain) {
  SupervisionEngine engine({program("GATEWAY"), program("BRAIN", true)}, processes, host);
  engine.start(t0);
  engine.on_ready_result(true, "", t0 + 1s);
  const Pid first = processes.pids["BRAIN"];
  engine.to_standby(1, t0 + 2s);
  EXPECT_TRUE(engine.standby(1));
  EXPECT_FALSE(engine.take_over(1, t0 + 2s));  // still stopping
  ASSERT_EQ(processes.signalled.size(), 1u);
  engine.on_exit(first, ExitStatus{0, 15}, t0 + 3s);
  EXPECT_EQ(host.done, std::vector<std::size_t>{1});
  EXPECT_EQ(engine.program(1).state(), ProgramState::kStopped);
  EXPECT_FALSE(engine.finished());  // it waits in standby
  ASSERT_TRUE(engine.take_over(1, t0 + 4s));
  EXPECT_NE(processes.pids["BRAIN"], first);
  EXPECT_EQ(engine.program(1).state(), ProgramState::kStarting);  // waited for again
  EXPECT_TRUE(host.taken_back.empty());  // the host took its names before take_over
  engine.stop_all(0, "", t0 + 5s);
  exit_all_signalled(engine, t0 + 6s);
  EXPECT_TRUE(engine.finished());
}

TEST_F(EngineTest, AHeldProgramCanGoToStandby) {
  SupervisionEngine engine({program("BRAIN")}, processes, host);
  engine.start(t0);
  ASSERT_FALSE(engine.stop_program(0, t0 + 1s));
  engine.on_exit(processes.pids["BRAIN"], ExitStatus{0, 15}, t0 + 2s);
  engine.to_standby(0, t0 + 3s);
  EXPECT_TRUE(engine.standby(0));
  EXPECT_FALSE(engine.held(0));
  EXPECT_TRUE(engine.take_over(0, t0 + 4s));
  EXPECT_EQ(processes.started.size(), 2u);
}

TEST_F(EngineTest, StopAllEndsAStandbyWithoutStartingIt) {
  host.standby = {0};
  SupervisionEngine engine({program("BRAIN"), program("WATCHDOG")}, processes, host);
  engine.start(t0);
  engine.stop_all(0, "", t0 + 1s);
  exit_all_signalled(engine, t0 + 2s);
  EXPECT_TRUE(engine.finished());
  EXPECT_EQ(processes.started, std::vector<std::string>{"WATCHDOG"});
  EXPECT_FALSE(engine.take_over(0, t0 + 3s));
}

}  // namespace
}  // namespace qc
