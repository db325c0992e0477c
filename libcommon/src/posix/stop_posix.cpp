// Stopping processes on Linux: kill(2) for our children and their groups; a pidfd for any
// other process, so that a signal checked against the start token cannot reach a newcomer
// that inherited the PID; sigqueue's value (through pidfd_send_signal) for a stop request.
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "qc/spawn.hpp"
#include "qc/stop.hpp"

namespace qc {
namespace {

int to_posix(Signal s) {
  switch (s) {
    case Signal::kInterrupt: return SIGINT;
    case Signal::kTerminate: return SIGTERM;
    case Signal::kHangup: return SIGHUP;
    case Signal::kQuit: return SIGQUIT;
    case Signal::kUser1: return SIGUSR1;
    case Signal::kUser2: return SIGUSR2;
    case Signal::kKill: return SIGKILL;
  }
  return SIGTERM;
}

}  // namespace

int signal_number(Signal signal) { return to_posix(signal); }

std::string signal_name(int number) {
  const char* abbrev = ::sigabbrev_np(number);
  if (abbrev == nullptr) return "signal " + std::to_string(number);
  return std::string("SIG") + abbrev;
}

Status send_signal(const Child& child, Signal signal, bool whole_group) {
  const pid_t target = static_cast<pid_t>(whole_group ? -child.pid() : child.pid());
  if (::kill(target, to_posix(signal)) != 0 && errno != ESRCH) {
    return os_error("cannot send " + signal_name(to_posix(signal)) + " to PID " +
                        std::to_string(child.pid()),
                    errno);
  }
  return {};
}

// A pidfd for `id` if it still runs with its start token (-1 when it is gone or another
// process now). A pidfd pins the process: once the token is checked after opening it, a
// signal through it cannot reach a newcomer that inherited the PID.
Result<int> pidfd_if_same(const ProcessId& id) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(id.pid), 0));
  if (pidfd < 0) {
    if (errno == ESRCH) return -1;
    return os_error("cannot open PID " + std::to_string(id.pid), errno);
  }
  auto info = inspect_process(id.pid);
  if (!info || !info->running || info->start != id.start) {
    ::close(pidfd);
    return -1;
  }
  return pidfd;
}

Result<bool> signal_process_if_same(const ProcessId& id, Signal signal, bool whole_group) {
  auto opened = pidfd_if_same(id);
  if (!opened) return opened.error();
  const int pidfd = *opened;
  if (pidfd < 0) return false;
  const int signo = to_posix(signal);
  int rc;
  if (whole_group && ::getpgid(static_cast<pid_t>(id.pid)) == static_cast<pid_t>(id.pid)) {
    rc = ::kill(static_cast<pid_t>(-id.pid), signo);
  } else {
    rc = static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
  }
  const int err = errno;
  ::close(pidfd);
  if (rc != 0) {
    if (err == ESRCH) return false;
    return Error{"cannot send " + signal_name(signo) + " to PID " + std::to_string(id.pid) + ": " +
                     ::strerror(err) + (err == EPERM ? " (it belongs to another user)" : ""),
                 err};
  }
  return true;
}

Result<bool> request_program_stop(const ProcessId& id, const std::string& program) {
  auto opened = pidfd_if_same(id);
  if (!opened) return opened.error();
  const int pidfd = *opened;
  if (pidfd < 0) return false;
  siginfo_t si{};
  si.si_signo = SIGUSR2;
  si.si_code = SI_QUEUE;
  si.si_pid = ::getpid();
  si.si_uid = ::getuid();
  si.si_value.sival_int = program_stop_token(program);
  const int rc = static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, SIGUSR2, &si, 0));
  const int err = errno;
  ::close(pidfd);
  if (rc != 0) {
    if (err == ESRCH) return false;
    return os_error("cannot ask PID " + std::to_string(id.pid) + " to stop " + program, err);
  }
  return true;
}

}  // namespace qc
