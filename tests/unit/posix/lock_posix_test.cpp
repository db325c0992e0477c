// Lock properties that need POSIX facilities to observe (inotify).
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "../lock_dir_fixture.hpp"
#include "lock_file.hpp"
#include "qc/lock.hpp"
#include "qc/lock_table.hpp"
#include "qc/names.hpp"

namespace qc {
namespace {

using LockPosixTest = LockDirTest;

TEST_F(LockPosixTest, ObserversOpenReadOnlySoTheyCannotTakeTheLock) {
  // A write lock needs a descriptor open for writing; an observer that opened one would
  // show up as IN_CLOSE_WRITE. Observers must only ever produce IN_CLOSE_NOWRITE.
  write("A", "{}");
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(watch, 0);
  ASSERT_GE(::inotify_add_watch(watch, dir().c_str(), IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_MODIFY),
            0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(probe_lock(path("A")));
    ASSERT_TRUE(read_lock_file(path("A")));
  }
  int read_only_closes = 0;
  alignas(inotify_event) char buf[4096];
  for (ssize_t n; (n = ::read(watch, buf, sizeof buf)) > 0;) {
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      EXPECT_EQ(ev->mask & (IN_CLOSE_WRITE | IN_MODIFY), 0u) << "an observer opened for writing";
      if (ev->mask & IN_CLOSE_NOWRITE) ++read_only_closes;
      p += sizeof(inotify_event) + ev->len;
    }
  }
  ::close(watch);
  EXPECT_GE(read_only_closes, 1);  // identical consecutive events are coalesced
}

LockRecord record_for(const std::string& tool) {
  LockRecord r;
  r.tool = tool;
  r.command = {"true"};
  return r;
}

// POSIX unlink semantics: the name is free for a newcomer the moment it is unlinked (Windows
// keeps a file that is open pending deletion until its last handle closes).
TEST_F(LockPosixTest, AnAcquirerThatLockedAnUnlinkedFileRetries) {
  // Between our open and our lock, the holder releases (unlinks) and a newcomer takes the
  // name on a fresh file. Locking the unlinked file must not count: the newcomer holds it.
  std::optional<HeldLock> newcomer;
  int calls = 0;
  AcquireOptions options;
  options.after_open_for_test = [&](const std::string& p) {
    if (++calls != 1) return;
    ASSERT_EQ(::unlink(p.c_str()), 0);
    auto taken = acquire_lock(dir(), "A", record_for("newcomer"));
    ASSERT_TRUE(std::holds_alternative<HeldLock>(taken));
    newcomer.emplace(std::move(std::get<HeldLock>(taken)));
  };
  auto result = acquire_lock(dir(), "A", record_for("late"), options);
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(std::holds_alternative<LockConflict>(result));
  EXPECT_EQ(std::get<LockConflict>(result).holder->tool, "newcomer");
}

// A supervisor under a zero-backoff restart loop rewrites its record all the time, longer
// and shorter (child PIDs of different widths, a state that comes and goes). A reader must
// never see a torn record: no row without a PID, no "cannot be identified" (issue 16, item 8).
TEST_F(LockPosixTest, ReadersNeverSeeATornRecordWhileTheHolderRewritesIt) {
  auto taken = acquire_lock(dir(), "TORN", record_for("qc-run"));
  ASSERT_TRUE(std::holds_alternative<HeldLock>(taken));
  HeldLock held = std::move(std::get<HeldLock>(taken));
  LockRecord record = record_for("qc-run");
  record.name = "TORN";
  record.pid = current_process().pid;
  record.pid_start = current_process().start;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done; ++i) {
      record.restarts = i;
      if (i % 2 == 0) {
        record.child_pid = 1000000 + i;
        record.child_start = 123456789;
        record.state = "running";
        record.run_started = "2026-12-01T20:00:00.000+00:00";
      } else {
        record.child_pid.reset();
        record.child_start.reset();
        record.state = "restarting";
        record.run_started.reset();
      }
      ASSERT_TRUE(held.write_record(record));
    }
  });
  int torn = 0;
  for (int i = 0; i < 20000; ++i) {
    auto entry = read_lock_entry(dir(), "TORN");
    if (!entry || !entry->record || entry->record->pid != current_process().pid) ++torn;
  }
  done = true;
  writer.join();
  EXPECT_EQ(torn, 0) << "of 20000 reads";
}

}  // namespace
}  // namespace qc
