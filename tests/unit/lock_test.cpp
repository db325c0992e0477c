// The lock's properties that a single process can show; the black-box tests show the rest
// with real, separately dying processes.
#include "qc/lock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "lock_dir_fixture.hpp"
#include "lock_file.hpp"
#include "qc/names.hpp"

namespace qc {
namespace {

namespace fs = std::filesystem;

using LockTest = LockDirTest;

LockRecord record_for(const std::string& tool) {
  LockRecord r;
  r.tool = tool;
  r.command = {"true"};
  return r;
}

// A PID above the kernel's maximum: never a running process.
constexpr Pid kDeadPid = (1 << 22) + 7;

TEST_F(LockTest, AcquireWritesTheRecordAndReleaseRemovesTheFile) {
  auto result = acquire_lock(dir(), "A", record_for("unit"));
  ASSERT_TRUE(std::holds_alternative<HeldLock>(result));
  auto& lock = std::get<HeldLock>(result);
  auto record = parse_lock_record(read("A"));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->name, "A");
  EXPECT_EQ(record->pid, current_process().pid);
  EXPECT_EQ(record->pid_start, current_process().start);
  EXPECT_EQ(record->tool, "unit");
  EXPECT_EQ(*probe_lock(path("A")), LockProbe::kHeld);
  ASSERT_TRUE(lock.release().ok());
  EXPECT_FALSE(fs::exists(path("A")));
  EXPECT_EQ(*probe_lock(path("A")), LockProbe::kMissing);
}

TEST_F(LockTest, ASecondAcquirerIsToldWhoHoldsIt) {
  auto first = acquire_lock(dir(), "A", record_for("first"));
  ASSERT_TRUE(std::holds_alternative<HeldLock>(first));
  auto second = acquire_lock(dir(), "A", record_for("second"));
  ASSERT_TRUE(std::holds_alternative<LockConflict>(second));
  const auto& conflict = std::get<LockConflict>(second);
  ASSERT_TRUE(conflict.holder);
  EXPECT_EQ(conflict.holder->tool, "first");
  const std::string message = describe_conflict(conflict);
  EXPECT_NE(message.find("A is held by PID " + std::to_string(current_process().pid)), std::string::npos)
      << message;
  EXPECT_NE(message.find("stop it with: qc-shutdown A"), std::string::npos) << message;
}

TEST_F(LockTest, StaleQcAndLegacyFilesAreTakenOver) {
  LockRecord stale = record_for("old");
  stale.name = "A";
  stale.pid = kDeadPid;
  stale.pid_start = 1;
  write("A", serialize_lock_record(stale));
  write("B", R"({"name": "B", "pid": )" + std::to_string(kDeadPid) +
                 R"(, "account": null, "timestamp": "2026-01-01T00:00:00", "host": "h"})");
  for (const char* name : {"A", "B"}) {
    auto result = acquire_lock(dir(), name, record_for("new"));
    ASSERT_TRUE(std::holds_alternative<HeldLock>(result)) << name;
    EXPECT_EQ(parse_lock_record(read(name))->tool, "new");
  }
}

TEST_F(LockTest, AProcessWithTheHoldersPidButAnotherStartTimeIsNotTheHolder) {
  // Our own PID with a start token that is not ours: a reused PID. With no OS lock held,
  // the file is stale and is taken over.
  LockRecord reused = record_for("old");
  reused.name = "A";
  reused.pid = current_process().pid;
  reused.pid_start = current_process().start + 12345;
  write("A", serialize_lock_record(reused));
  auto result = acquire_lock(dir(), "A", record_for("new"));
  EXPECT_TRUE(std::holds_alternative<HeldLock>(result));
}

TEST_F(LockTest, AnUnlinkedFileAloneIsRetriedAndTakenOnTheNewFile) {
  int calls = 0;
  AcquireOptions options;
  options.after_open_for_test = [&](const std::string& p) {
    if (++calls == 1) {
      std::error_code ec;
      EXPECT_TRUE(fs::remove(p, ec)) << ec.message();
    }
  };
  auto result = acquire_lock(dir(), "A", record_for("unit"), options);
  ASSERT_TRUE(std::holds_alternative<HeldLock>(result));
  EXPECT_EQ(*probe_lock(path("A")), LockProbe::kHeld);  // the file at the path is the held one
#ifndef _WIN32
  EXPECT_EQ(calls, 2);  // POSIX: the unlinked file was let go and the new one taken
#else
  // Windows keeps a deleted file that is open until its last handle closes (Wine even under
  // its name): whichever file the path names, it is the one held.
  EXPECT_GE(calls, 1);
#endif
}

TEST_F(LockTest, ProbingAndReadingNeverTakeTheLock) {
  write("A", "garbage");
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(*probe_lock(path("A")), LockProbe::kFree);
    auto contents = read_lock_file(path("A"));
    ASSERT_TRUE(contents);
  }
  EXPECT_TRUE(std::holds_alternative<HeldLock>(acquire_lock(dir(), "A", record_for("unit"))));
}

TEST_F(LockTest, RemoveUnheldLeavesHeldFilesAlone) {
  auto held = acquire_lock(dir(), "A", record_for("unit"));
  ASSERT_TRUE(std::holds_alternative<HeldLock>(held));
  write("B", "not even json");
  auto always = [](const std::optional<LockRecord>&) { return true; };
  EXPECT_FALSE(*remove_unheld_lock_file(path("A"), always));
  EXPECT_TRUE(fs::exists(path("A")));
  EXPECT_TRUE(*remove_unheld_lock_file(path("B"), always));
  EXPECT_FALSE(fs::exists(path("B")));
  EXPECT_FALSE(*remove_unheld_lock_file(path("C"), always));  // missing: nothing to do
}

TEST_F(LockTest, WaitingWakesWhenTheHolderReleases) {
  auto first = acquire_lock(dir(), "A", record_for("first"));
  ASSERT_TRUE(std::holds_alternative<HeldLock>(first));
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] {
    return acquire_lock(dir(), "A", record_for("second"), AcquireOptions{30, {}});
  });
  ASSERT_TRUE(std::get<HeldLock>(first).release().ok());
  auto result = waiter.get();
  EXPECT_TRUE(std::holds_alternative<HeldLock>(result));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(LockTest, WaitingGivesUpAtItsDeadline) {
  auto first = acquire_lock(dir(), "A", record_for("first"));
  ASSERT_TRUE(std::holds_alternative<HeldLock>(first));
  const auto start = std::chrono::steady_clock::now();
  auto result = acquire_lock(dir(), "A", record_for("second"), AcquireOptions{0.3, {}});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(std::holds_alternative<LockConflict>(result));
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(LockTest, AHolderWithoutARecordIsReportedAfterAShortGrace) {
  write("A", "");
  auto raw = LockFile::open(path("A"), false);
  ASSERT_TRUE(raw);
  ASSERT_TRUE(*(*raw)->try_lock());
  const auto start = std::chrono::steady_clock::now();
  auto result = acquire_lock(dir(), "A", record_for("second"));
  ASSERT_TRUE(std::holds_alternative<LockConflict>(result));
  EXPECT_FALSE(std::get<LockConflict>(result).holder);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(describe_conflict(std::get<LockConflict>(result)).find("no readable record"),
            std::string::npos);
}

TEST_F(LockTest, ADirectoryOrSymlinkInPlaceOfTheFileIsAClearError) {
  fs::create_directory(path("D"));
  auto dir_result = acquire_lock(dir(), "D", record_for("unit"));
  ASSERT_TRUE(std::holds_alternative<Error>(dir_result));
  EXPECT_NE(std::get<Error>(dir_result).message.find("directory"), std::string::npos);

  std::error_code no_symlinks;  // creating one needs a privilege on Windows
  fs::create_symlink(fs::path(dir()) / "elsewhere", path("S"), no_symlinks);
  if (!no_symlinks) {
    auto link_result = acquire_lock(dir(), "S", record_for("unit"));
    ASSERT_TRUE(std::holds_alternative<Error>(link_result));
    EXPECT_NE(std::get<Error>(link_result).message.find("symbolic link"), std::string::npos);
  }
}

}  // namespace
}  // namespace qc
