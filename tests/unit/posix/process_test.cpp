// Process identity and safe signalling against real (forked) processes.
#include "qc/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qc/spawn.hpp"

namespace qc {
namespace {

// A child that sleeps until killed; reaped in the destructor.
class Sleeper {
 public:
  Sleeper() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::pause();
      ::_exit(0);
    }
  }
  ~Sleeper() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ProcessId id() const { return {pid_, inspect_process(pid_)->start}; }
  bool alive() const {
    auto info = inspect_process(pid_);
    return info && info->running;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

TEST(ProcessIdentity, OurselvesAndAStartToken) {
  const ProcessId self = current_process();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_TRUE(is_running(self));
  EXPECT_FALSE(is_running({self.pid, self.start + 1}));
  auto info = inspect_process(self.pid, true);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->command_line.empty());
  EXPECT_TRUE(start_time_of(self.start));
}

TEST(ProcessIdentity, AZombieIsNotRunning) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  // Not reaped yet: a zombie until waitpid.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
  auto zombie = inspect_process(pid);
  ASSERT_TRUE(zombie);
  EXPECT_FALSE(zombie->running);
  EXPECT_FALSE(is_running({pid, zombie->start}));
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(inspect_process(pid));
}

TEST(SafeSignal, AProcessWithAnotherStartTokenIsNeverSignalled) {
  Sleeper sleeper;
  const ProcessId real = sleeper.id();
  auto sent = signal_process_if_same({real.pid, real.start + 1}, Signal::kKill, false);
  ASSERT_TRUE(sent);
  EXPECT_FALSE(*sent);
  EXPECT_TRUE(sleeper.alive());
  sent = signal_process_if_same(real, Signal::kKill, false);
  ASSERT_TRUE(sent);
  EXPECT_TRUE(*sent);
  ExitWatcher watcher;
  watcher.add(real);
  EXPECT_TRUE(watcher.wait_all(deadline_after(5)));
}

TEST(ExitWatcher, WakesOnExitAndGivesUpAtTheDeadline) {
  Sleeper a, b;
  ExitWatcher watcher;
  watcher.add(a.id());
  watcher.add(b.id());
  watcher.add({a.pid(), a.id().start + 1});  // another process now: gone already
  EXPECT_TRUE(watcher.gone({a.pid(), a.id().start + 1}));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(watcher.wait_all(deadline_after(0.2)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  ::kill(a.pid(), SIGKILL);
  ::kill(b.pid(), SIGKILL);  // exits; not reaped until the Sleeper goes: zombies count as gone
  EXPECT_TRUE(watcher.wait_all(deadline_after(5)));
  EXPECT_TRUE(watcher.gone(a.id()));
}

}  // namespace
}  // namespace qc
