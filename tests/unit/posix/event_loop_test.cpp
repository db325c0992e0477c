// The event loop's hold on signals, which only a separate process can show.
#include "qc/event_loop.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

namespace qc {
namespace {

TEST(EventLoopSignals, ASignalAfterTheLoopIsGoneCannotChangeTheExitStatus) {
  // qc-lock's command exited 0, the lock is released, the loop is gone: a SIGTERM that
  // lands now must not turn the wrapper's exit status 0 into 143.
  EXPECT_EXIT(
      {
        {
          auto loop = EventLoop::create({Signal::kInterrupt, Signal::kTerminate});
          if (!loop) std::_Exit(3);
        }
        ::kill(::getpid(), SIGTERM);
        ::kill(::getpid(), SIGINT);
        std::_Exit(7);
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(EventLoopSignals, ASignalNeverReadIsNotReportedByTheNextLoop) {
  EXPECT_EXIT(
      {
        {
          auto loop = EventLoop::create({Signal::kTerminate});
          if (!loop) std::_Exit(3);
          ::kill(::getpid(), SIGTERM);  // pending, never read
        }
        auto next = EventLoop::create({Signal::kTerminate});
        if (!next) std::_Exit(3);
        auto events = next->wait(SteadyTime::clock::now());
        std::_Exit(events && events->signals.empty() ? 7 : 4);
      },
      ::testing::ExitedWithCode(7), "");
}

}  // namespace
}  // namespace qc
