// The guardian on Linux: a forked child that reads its supervisor's messages from a pipe.
// End of file without the goodbye byte means the supervisor died: stop everything it named.
// Messages, one per line: "+PGID", "-PGID", "LPATH"; the goodbye is ".".
#include "qc/guardian.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "qc/spawn.hpp"

namespace qc::guardian {
namespace {

int to_guardian = -1;  // our end of the pipe
pid_t guardian_pid = -1;

void send(const std::string& message) {
  if (to_guardian < 0) return;
  const std::string line = message + "\n";
  ssize_t n;
  do {
    n = ::write(to_guardian, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
}

// Everything the supervisor left: its programs' groups and the holders of its lock files.
std::vector<ProcessId> targets(const std::vector<Pid>& groups, const std::vector<std::string>& locks) {
  std::vector<ProcessId> out;
  for (const auto& holders : processes_holding(locks)) {
    for (const auto& h : holders) out.push_back({h.pid, h.start});
  }
  for (const auto& p : list_processes()) {
    if (p.running && std::find(groups.begin(), groups.end(), p.group) != groups.end()) {
      out.push_back({p.pid, p.start});
    }
  }
  return out;
}

[[noreturn]] void guard(int from_supervisor, double stop_timeout_s) {
  ::prctl(PR_SET_NAME, "qc-guardian");
  std::vector<Pid> groups;
  std::vector<std::string> locks;
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(from_supervisor, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the supervisor is gone
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t line_end;
    while ((line_end = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, line_end);
      pending.erase(0, line_end + 1);
      if (line == ".") ::_exit(0);  // goodbye: a normal end
      if (line.empty()) continue;
      if (line[0] == '+') groups.push_back(std::strtoll(line.c_str() + 1, nullptr, 10));
      if (line[0] == '-') {
        const Pid g = std::strtoll(line.c_str() + 1, nullptr, 10);
        groups.erase(std::remove(groups.begin(), groups.end(), g), groups.end());
      }
      if (line[0] == 'L') locks.push_back(line.substr(1));
    }
  }
  // The supervisor died without a goodbye: nothing may trade on unsupervised.
  for (Pid g : groups) ::kill(static_cast<pid_t>(-g), SIGTERM);
  ExitWatcher watcher;
  for (const auto& id : targets(groups, locks)) {
    signal_process_if_same(id, Signal::kTerminate, false);
    watcher.add(id);
  }
  watcher.wait_all(deadline_after(stop_timeout_s));
  for (Pid g : groups) ::kill(static_cast<pid_t>(-g), SIGKILL);
  for (const auto& id : targets(groups, locks)) signal_process_if_same(id, Signal::kKill, false);
  ::_exit(0);
}

}  // namespace

bool start(double stop_timeout_s) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Keep nothing of the supervisor's (above all not its lock descriptors, or the guardian
    // would hold the names itself), ignore what the terminal sends the group, and keep the
    // read end of the pipe, whose end of file is the supervisor's death.
    ::close(fds[1]);
    const int null_fd = ::open("/dev/null", O_RDWR);  // no pipeline waits on us
    for (int std_fd = 0; std_fd <= 2 && null_fd >= 0; ++std_fd) ::dup2(null_fd, std_fd);
    const int keep = ::fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
    ::syscall(SYS_close_range, 3u, static_cast<unsigned>(keep) - 1u, 0u);
    ::syscall(SYS_close_range, static_cast<unsigned>(keep) + 1u, ~0u, 0u);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE}) ::sigaction(sig, &ignore, nullptr);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    guard(keep, stop_timeout_s);
  }
  ::close(fds[0]);
  to_guardian = fds[1];
  guardian_pid = pid;
  return true;
}

Pid pid() { return guardian_pid > 0 ? guardian_pid : 0; }

void watch_group(Pid group) { send("+" + std::to_string(group)); }
void forget_group(Pid group) { send("-" + std::to_string(group)); }
void watch_lock_file(const std::string& path) { send("L" + path); }

void dismiss() {
  if (to_guardian < 0) return;
  send(".");
  ::close(to_guardian);
  to_guardian = -1;
  int status;
  while (::waitpid(guardian_pid, &status, 0) < 0 && errno == EINTR) {
  }
  guardian_pid = -1;
}

}  // namespace qc::guardian
