// The event loop on Linux: handled signals (and SIGCHLD) are blocked and read from a
// signalfd; one ppoll waits on it, on watched descriptors, and on the deadline.
#include "qc/event_loop.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace qc {

struct EventLoop::Impl {
  int signal_fd = -1;
  std::vector<NativeHandle> readable;
  std::vector<Pid> kill_group_on_exit;

  ~Impl() {
    // The handled signals stay blocked: a loop ends when its process is finishing (the
    // command has exited, the lock is released), and a SIGTERM that lands in that window
    // must not replace the exit status the process chose with 143. Signals that were never
    // read are dropped, so that a later loop does not report them again.
    if (signal_fd >= 0) {
      signalfd_siginfo info;
      while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
      ::close(signal_fd);
    }
  }
};

namespace {

std::optional<Signal> from_posix(int signo) {
  switch (signo) {
    case SIGINT: return Signal::kInterrupt;
    case SIGTERM: return Signal::kTerminate;
    case SIGHUP: return Signal::kHangup;
    case SIGQUIT: return Signal::kQuit;
    case SIGUSR1: return Signal::kUser1;
    case SIGUSR2: return Signal::kUser2;
    default: return std::nullopt;
  }
}

// Peeks at each exited child first (WNOWAIT): while the zombie is not reaped its PID still
// names its process group, so killing the group's leftovers cannot hit anyone else.
void reap_children(Events& events, std::vector<Pid>& kill_group_on_exit) {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    const pid_t pid = info.si_pid;
    auto it = std::find(kill_group_on_exit.begin(), kill_group_on_exit.end(), pid);
    if (it != kill_group_on_exit.end()) {
      ::kill(-pid, SIGKILL);
      kill_group_on_exit.erase(it);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) continue;
    ChildExitEvent exit{pid, {}};
    if (WIFEXITED(status)) {
      exit.status.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      exit.status.signal = WTERMSIG(status);
    }
    events.exits.push_back(exit);
  }
}

}  // namespace

Result<std::unique_ptr<Notifier>> Notifier::create() {
  std::unique_ptr<Notifier> n(new Notifier());
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return os_error("cannot create an eventfd", errno);
  n->handle_ = fd;
  return n;
}

Notifier::~Notifier() {
  if (handle_ != kInvalidHandle) ::close(static_cast<int>(handle_));
}

void Notifier::notify() {
  const uint64_t one = 1;
  ssize_t n = ::write(static_cast<int>(handle_), &one, sizeof one);
  (void)n;
}

void Notifier::clear() {
  uint64_t value;
  ssize_t n = ::read(static_cast<int>(handle_), &value, sizeof value);
  (void)n;
}

EventLoop::EventLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLoop::EventLoop(EventLoop&&) noexcept = default;
EventLoop& EventLoop::operator=(EventLoop&&) noexcept = default;
EventLoop::~EventLoop() = default;

Result<EventLoop> EventLoop::create(std::initializer_list<Signal> handled) {
  auto impl = std::make_unique<Impl>();
  sigset_t mask;
  ::sigemptyset(&mask);
  ::sigaddset(&mask, SIGCHLD);
  for (Signal s : handled) ::sigaddset(&mask, signal_number(s));
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return os_error("cannot block signals", errno);
  }
  impl->signal_fd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (impl->signal_fd < 0) return os_error("cannot create a signalfd", errno);
  return EventLoop(std::move(impl));
}

void EventLoop::watch_child(const Child& child, bool kill_group) {  // reaped on SIGCHLD
  if (kill_group) impl_->kill_group_on_exit.push_back(child.pid());
}

void EventLoop::unwatch_child(Pid pid) {
  auto& v = impl_->kill_group_on_exit;
  v.erase(std::remove(v.begin(), v.end(), pid), v.end());
}

NativeHandle EventLoop::wake_handle() const { return impl_->signal_fd; }

void EventLoop::accept_stop_requests(const std::vector<std::int32_t>&) {}  // sigqueue carries them

void EventLoop::watch_readable(NativeHandle handle) {
  if (std::find(impl_->readable.begin(), impl_->readable.end(), handle) == impl_->readable.end()) {
    impl_->readable.push_back(handle);
  }
}

void EventLoop::unwatch_readable(NativeHandle handle) {
  auto& r = impl_->readable;
  r.erase(std::remove(r.begin(), r.end(), handle), r.end());
}

Result<Events> EventLoop::wait(std::optional<SteadyTime> deadline) {
  Events events;
  std::vector<pollfd> fds;
  fds.push_back({impl_->signal_fd, POLLIN, 0});
  for (NativeHandle h : impl_->readable) fds.push_back({static_cast<int>(h), POLLIN, 0});
  for (;;) {
    timespec timeout{};
    timespec* timeout_ptr = nullptr;
    if (deadline) {
      auto left = *deadline - std::chrono::steady_clock::now();
      if (left < std::chrono::steady_clock::duration::zero()) left = {};
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timeout.tv_sec = static_cast<time_t>(ns / 1000000000);
      timeout.tv_nsec = static_cast<long>(ns % 1000000000);
      timeout_ptr = &timeout;
    }
    const int n = ::ppoll(fds.data(), fds.size(), timeout_ptr, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot wait for events", errno);
    if (n == 0) return events;  // the deadline passed
    break;
  }
  if (fds[0].revents != 0) {
    signalfd_siginfo info;
    while (::read(impl_->signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGCHLD) continue;  // reaped below, whatever the count
      if (auto s = from_posix(static_cast<int>(info.ssi_signo))) {
        SignalEvent e{*s, static_cast<int>(info.ssi_signo), info.ssi_code == SI_KERNEL, std::nullopt};
        if (info.ssi_code == SI_QUEUE) e.value = info.ssi_int;
        events.signals.push_back(e);
      }
    }
    reap_children(events, impl_->kill_group_on_exit);
  }
  for (std::size_t i = 1; i < fds.size(); ++i) {
    if (fds[i].revents != 0) events.readable.push_back(fds[i].fd);
  }
  return events;
}

}  // namespace qc
