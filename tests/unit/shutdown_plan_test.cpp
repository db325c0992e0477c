// qc-shutdown's plan as a pure function: a lock table and a fake view of the processes in,
// targets out. What the black-box tests prove end to end, decided here case by case.
#include "plan.hpp"

#include <gtest/gtest.h>

#include <map>

namespace qc::shutdown_tool {
namespace {

constexpr std::int64_t kUs = 1000;
constexpr std::int64_t kOther = 1001;

class FakeView : public ProcessView {
 public:
  // A running process of ours (or of `uid`), with its start token and command line.
  void add(Pid pid, StartToken start, std::vector<std::string> command = {}, std::int64_t uid = kUs,
           Pid group = 0) {
    ProcessInfo p;
    p.pid = pid;
    p.start = start;
    p.running = true;
    p.uid = uid;
    p.group = group == 0 ? pid : group;
    p.command_line = std::move(command);
    p.name = p.command_line.empty() ? "proc" : p.command_line[0];
    processes[pid] = p;
  }
  void hold(const std::string& file, Pid pid) { holders[file].push_back(pid); }

  std::optional<ProcessInfo> inspect(Pid pid, bool) const override {
    auto it = processes.find(pid);
    if (it == processes.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::vector<ProcessInfo>> holding(const std::vector<std::string>& files) const override {
    std::vector<std::vector<ProcessInfo>> out;
    for (const auto& f : files) {
      out.emplace_back();
      auto it = holders.find(f);
      if (it == holders.end()) continue;
      for (Pid pid : it->second) out.back().push_back(processes.at(pid));
    }
    return out;
  }
  bool can_see_holders() const override { return true; }
  bool held(const std::string& file) const override { return held_files.count(file) != 0; }
  Pid self() const override { return 99; }
  std::int64_t uid() const override { return kUs; }
  bool root() const override { return as_root; }

  std::map<Pid, ProcessInfo> processes;
  std::map<std::string, std::vector<Pid>> holders;
  std::map<std::string, bool> held_files;
  bool as_root = false;
};

LockEntry held_entry(const std::string& name, const std::string& tool, Pid pid, StartToken start,
                     std::optional<Pid> child = std::nullopt, StartToken child_start = 0) {
  LockEntry e;
  e.name = name;
  e.state = EntryState::kRunning;
  e.lock_file = "/locks/" + name + ".lock";
  LockRecord r;
  r.name = name;
  r.pid = pid;
  r.pid_start = start;
  r.tool = tool;
  r.command = {"/opt/" + name};
  if (child) {
    r.child_pid = *child;
    r.child_start = child_start;
  }
  e.record = r;
  return e;
}

std::vector<std::pair<Pid, std::string>> members(const Target& t) {
  std::vector<std::pair<Pid, std::string>> out;
  for (const auto& m : t.members) out.emplace_back(m.id.pid, m.role);
  return out;
}

TEST(ShutdownPlanTest, AConfirmedWrapperAndItsCommandArePlanned) {
  FakeView view;
  view.add(10, 100, {"qc-lock"});
  view.add(11, 110, {"/opt/A"});
  view.processes[11].parent = 10;
  view.hold("/locks/A.lock", 10);
  view.hold("/locks/A.lock", 11);
  LockTable table{{held_entry("A", "qc-lock", 10, 100, 11, 110)}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(plan.targets[0].kind, Kind::kWrapper);
  EXPECT_EQ(members(plan.targets[0]), (std::vector<std::pair<Pid, std::string>>{{10, "qc-lock"}, {11, "command"}}));
  EXPECT_TRUE(plan.refusals.empty());
}

TEST(ShutdownPlanTest, AForgedRecordNamingABystanderIsRefusedAndTheRealHolderPlanned) {
  FakeView view;
  view.add(20, 200, {"bystander"});        // named by the record, with its real start token
  view.add(30, 300, {"forger"});           // holds the file
  view.hold("/locks/F.lock", 30);
  LockTable table{{held_entry("F", "qc-lock", 20, 200)}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(members(plan.targets[0]), (std::vector<std::pair<Pid, std::string>>{{30, "holder"}}));
  ASSERT_EQ(plan.refusals.size(), 1u);
  EXPECT_NE(plan.refusals[0].find("not stopping PID 20"), std::string::npos) << plan.refusals[0];
}

TEST(ShutdownPlanTest, PidOneAndAnotherUsersProcessAreNeverPlanned) {
  FakeView view;
  view.add(1, 10, {"/sbin/init"});
  view.add(40, 400, {"theirs"}, kOther);
  view.hold("/locks/P.lock", 1);
  view.hold("/locks/U.lock", 40);
  view.held_files["/locks/P.lock"] = true;
  view.held_files["/locks/U.lock"] = true;
  LockTable table{{held_entry("P", "qc-lock", 1, 10), held_entry("U", "qc-lock", 40, 400)}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  EXPECT_TRUE(plan.targets.empty());
  EXPECT_EQ(plan.unknown, (std::vector<std::string>{"P", "U"}));
  EXPECT_EQ(plan.refusals.size(), 2u);
}

TEST(ShutdownPlanTest, RootMayStopAnotherUsersConfirmedHolder) {
  FakeView view;
  view.as_root = true;
  view.add(40, 400, {"theirs"}, kOther);
  view.hold("/locks/U.lock", 40);
  LockTable table{{held_entry("U", "qc-lock", 40, 400)}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(members(plan.targets[0]), (std::vector<std::pair<Pid, std::string>>{{40, "qc-lock"}}));
}

TEST(ShutdownPlanTest, ADaemonHoldingTheNameOutsideTheGroupJoinsThePlan) {
  FakeView view;
  view.add(50, 500, {"qc-lock"});
  view.add(52, 520, {"daemon"}, kUs, 52);  // setsid: a group of its own
  view.hold("/locks/D.lock", 50);
  view.hold("/locks/D.lock", 52);
  LockTable table{{held_entry("D", "qc-lock", 50, 500)}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(members(plan.targets[0]),
            (std::vector<std::pair<Pid, std::string>>{{50, "qc-lock"}, {52, "holder"}}));
}

TEST(ShutdownPlanTest, AnOrphanWhoseHolderIsGoneIsStaleAndTheSelectionFilters) {
  FakeView view;
  LockEntry gone = held_entry("GONE", "qc-lock", 60, 600);
  gone.state = EntryState::kOrphaned;
  LockEntry other = held_entry("OTHER", "qc-lock", 61, 610);
  view.add(61, 610, {"qc-lock"});
  view.hold("/locks/OTHER.lock", 61);
  LockTable table{{gone, other}, {}};
  Plan plan = plan_shutdown(table, {"GO*"}, view);
  EXPECT_TRUE(plan.targets.empty());
  ASSERT_EQ(plan.stale.size(), 1u);
  EXPECT_EQ(plan.stale[0].name, "GONE");
  plan = plan_shutdown(table, {"NOPE"}, view);
  EXPECT_EQ(plan.unmatched, (std::vector<std::string>{"NOPE"}));
}

TEST(ShutdownPlanTest, AnOrchestratorGoesFirstAndAskingForOneProgramAsksItsSupervisor) {
  FakeView view;
  view.add(70, 700, {"qc-launch", "cfg.json"});
  view.add(71, 710, {"/opt/BRAIN"});
  view.add(80, 800, {"qc-run"});
  view.hold("/locks/MASTER_LAUNCH.lock", 70);
  view.hold("/locks/BRAIN.lock", 70);
  view.hold("/locks/BRAIN.lock", 71);
  view.hold("/locks/RUN.lock", 80);
  LockEntry own = held_entry("MASTER_LAUNCH", "qc-launch", 70, 700);
  own.record->command = {"qc-launch", "cfg.json"};
  LockEntry brain = held_entry("BRAIN", "qc-launch", 70, 700, 71, 710);
  LockEntry run = held_entry("RUN", "qc-run", 80, 800);
  LockTable table{{brain, own, run}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  order_targets(plan);
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_EQ(plan.targets[0].kind, Kind::kOrchestrator);
  EXPECT_EQ(members(plan.targets[0]), (std::vector<std::pair<Pid, std::string>>{{70, "qc-launch"}, {71, "program"}}));
  EXPECT_EQ(plan.targets[1].kind, Kind::kSupervisor);

  plan = plan_shutdown(table, {"BRAIN"}, view);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(plan.targets[0].kind, Kind::kProgram);
  EXPECT_EQ(plan.targets[0].supervisor->pid, 70);
}

TEST(ShutdownPlanTest, ASupervisorThatDoesNotHoldTheProgramsLockIsNotAsked) {
  FakeView view;
  view.add(70, 700, {"qc-launch"});
  view.add(90, 900, {"real holder"});
  view.hold("/locks/BRAIN.lock", 90);
  LockTable table{{held_entry("BRAIN", "qc-launch", 70, 700)}, {}};
  Plan plan = plan_shutdown(table, {"BRAIN"}, view);
  ASSERT_EQ(plan.targets.size(), 1u);
  EXPECT_EQ(plan.targets[0].kind, Kind::kOrphan);
  EXPECT_EQ(members(plan.targets[0]), (std::vector<std::pair<Pid, std::string>>{{90, "holder"}}));
  ASSERT_FALSE(plan.refusals.empty());
  EXPECT_NE(plan.refusals[0].find("not asking PID 70"), std::string::npos);
}

TEST(ShutdownPlanTest, UnmanagedCopiesAreAddedOnceAndGoLast) {
  FakeView view;
  view.add(10, 100, {"qc-lock"});
  view.hold("/locks/A.lock", 10);
  LockTable table{{held_entry("A", "qc-lock", 10, 100)}, {}};
  Plan plan = plan_shutdown(table, {}, view);
  ProcessInfo copy;
  copy.pid = 33;
  copy.start = 330;
  copy.command_line = {"python", "BRAIN.py"};
  add_unmanaged(plan, "BRAIN", std::string("123"), copy);
  add_unmanaged(plan, "BRAIN", std::string("123"), copy);
  ProcessInfo wrapper = view.processes[10];
  add_unmanaged(plan, "A", std::nullopt, wrapper);  // already planned
  order_targets(plan);
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_EQ(plan.targets[1].kind, Kind::kUnmanaged);
  EXPECT_EQ(process_count(plan), 2u);
}

}  // namespace
}  // namespace qc::shutdown_tool
