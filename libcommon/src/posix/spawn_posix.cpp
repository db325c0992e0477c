// Spawning on Linux the way glibc's posix_spawn does it: clone(CLONE_VM | CLONE_VFORK) on a
// stack of our own, so no page tables are copied (a fork of a process with many mappings
// costs milliseconds), plus what posix_spawn cannot do: the parent-death signal. The child
// runs only async-signal-safe calls (qc-launch has ZeroMQ threads) and reports an exec
// failure through the shared memory, so that "not found" (127) and "not executable" (126)
// are told apart before anything is reported.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "qc/spawn.hpp"

extern char** environ;

namespace qc {
namespace {

enum Stage : int { kStageExec = 0, kStageChdir = 1, kStageSetup = 2 };

std::vector<std::string> build_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    const auto eq = entry.find('=');
    const std::string key = entry.substr(0, eq);
    bool overridden = false;
    for (const auto& kv : overrides) overridden = overridden || kv.first == key;
    if (!overridden) env.push_back(std::move(entry));
  }
  for (const auto& kv : overrides) env.push_back(kv.first + "=" + kv.second);
  return env;
}

std::string lookup_env(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& entry : env) {
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
        entry[key.size()] == '=') {
      return entry.substr(key.size() + 1);
    }
  }
  return "";
}

// execvp's search, done before fork so that the child does not allocate.
std::vector<std::string> candidates_for(const std::string& program,
                                        const std::vector<std::string>& env) {
  if (program.find('/') != std::string::npos) return {program};
  std::string path = lookup_env(env, "PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  std::size_t begin = 0;
  for (;;) {
    const auto end = path.find(':', begin);
    std::string dir = path.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

// Everything the child needs, prepared by the parent: after clone it may not allocate.
struct ChildPlan {
  const SpawnOptions* options;
  pid_t parent;
  char* const* argv;
  char* const* envp;
  const std::vector<std::string>* candidates;
  const char* cwd;
  sigset_t child_mask;
  // Written by the child when it fails; the parent reads them after clone returns (or from
  // report_fd when the child is a fork and shares no memory with us).
  int stage;
  int err;
  int report_fd;
};

// Sanitizer runtimes keep per-thread state that a child sharing our memory and TLS would
// update as if it were our thread (TSan then reports races that are not there): sanitized
// builds fork instead, and the child reports through a close-on-exec pipe.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kShareMemoryWithChild = false;
#else
constexpr bool kShareMemoryWithChild = true;
#endif

// The child runs on a stack of its own in our memory until it execs: sanitizer runtimes
// would take that stack for ours (and what they record there would corrupt ours), so the
// child's code is not instrumented. It makes async-signal-safe calls only.
#if defined(__clang__)
#define QC_CHILD_CODE __attribute__((no_sanitize("address", "thread", "undefined")))
#else
#define QC_CHILD_CODE __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))
#endif

[[noreturn]] QC_CHILD_CODE void fail_in_child(ChildPlan& plan, int stage, int err) {
  plan.stage = stage;
  plan.err = err;
  if (plan.report_fd >= 0) {
    const int report[2] = {stage, err};
    ssize_t ignored = ::write(plan.report_fd, report, sizeof report);
    (void)ignored;
  }
  ::_exit(127);
}

QC_CHILD_CODE int child_main(void* arg) {
  ChildPlan& plan = *static_cast<ChildPlan*>(arg);
  const SpawnOptions& options = *plan.options;
  if (options.own_process_group) ::setpgid(0, 0);
  if (options.stop_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != plan.parent) ::_exit(128 + SIGTERM);  // the parent died before prctl
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {  // no handler of the parent's may run in the child
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) == 0 && current.sa_handler != SIG_IGN &&
        current.sa_handler != SIG_DFL) {
      ::sigaction(sig, &dfl, nullptr);
    }
  }
  ::sigaction(SIGPIPE, &dfl, nullptr);
  if (options.stdin_from != kInvalidHandle) {
    if (::dup2(static_cast<int>(options.stdin_from), 0) < 0) fail_in_child(plan, kStageSetup, errno);
  } else if (options.stdin_null) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, 0) < 0) fail_in_child(plan, kStageSetup, errno);
    if (null_fd > 2) ::close(null_fd);
  }
  if (options.stdout_to != kInvalidHandle && ::dup2(static_cast<int>(options.stdout_to), 1) < 0) {
    fail_in_child(plan, kStageSetup, errno);
  }
  if (options.stderr_to != kInvalidHandle && ::dup2(static_cast<int>(options.stderr_to), 2) < 0) {
    fail_in_child(plan, kStageSetup, errno);
  }
  for (NativeHandle h : options.inherit) ::fcntl(static_cast<int>(h), F_SETFD, 0);
  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) fail_in_child(plan, kStageChdir, errno);
  ::sigprocmask(SIG_SETMASK, &plan.child_mask, nullptr);
  int err = ENOENT;
  bool denied = false;
  for (const auto& candidate : *plan.candidates) {
    ::execve(candidate.c_str(), plan.argv, plan.envp);
    err = errno;
    if (err == EACCES) {
      denied = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
               err != ETIMEDOUT) {
      break;
    }
  }
  if (denied && (err == ENOENT || err == ENOTDIR)) err = EACCES;
  fail_in_child(plan, kStageExec, err);
}

}  // namespace

Child::~Child() {
  if (handle_ != kInvalidHandle) ::close(static_cast<int>(handle_));
}

Result<Child> spawn_process(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Error{"no command given", ENOENT};
  }
  // Everything the child needs is prepared here: after fork it may not allocate.
  const std::vector<std::string> env = build_environment(options.env);
  const std::vector<std::string> candidates = candidates_for(options.argv[0], env);
  std::vector<char*> argv, envp;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

  ChildPlan plan{};
  plan.options = &options;
  plan.parent = ::getpid();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.candidates = &candidates;
  plan.cwd = cwd;
  plan.stage = -1;
  plan.report_fd = -1;
  ::sigemptyset(&plan.child_mask);
  int report[2] = {-1, -1};
  if (!kShareMemoryWithChild) {
    if (::pipe2(report, O_CLOEXEC) != 0) return os_error("cannot create a pipe", errno);
    plan.report_fd = report[1];
  }

  // All signals stay blocked across clone, so that nothing runs in the child before it has
  // reset its dispositions; it unblocks them just before exec.
  sigset_t all, previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  // The child's own stack: mapped, not zero-filled, so only the pages it touches cost.
  constexpr std::size_t kStackSize = 64 * 1024;
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) {
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return os_error("cannot map a stack for a new process", err);
  }
  char* stack_top = static_cast<char*>(stack) + kStackSize;  // x86 and arm stacks grow down
  pid_t pid;
  if (kShareMemoryWithChild) {
    pid = ::clone(child_main, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  } else {
    pid = ::fork();
    if (pid == 0) child_main(&plan);  // does not return
  }
  const int clone_errno = errno;
  ::munmap(stack, kStackSize);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (!kShareMemoryWithChild) {
    ::close(report[1]);
    int failure[2];
    ssize_t n;
    do {
      n = ::read(report[0], failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof failure)) {
      plan.stage = failure[0];
      plan.err = failure[1];
    }
  }
  if (pid < 0) return os_error("cannot start a process", clone_errno);
  if (options.own_process_group) ::setpgid(pid, pid);  // both sides: no race with signals

  if (plan.stage >= 0) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string& program = options.argv[0];
    switch (plan.stage) {
      case kStageChdir:
        return Error{"cannot change to directory " + options.cwd + ": " + ::strerror(plan.err), 0};
      case kStageSetup:
        return Error{"cannot set up the standard streams of " + program + ": " +
                         ::strerror(plan.err), 0};
      default: {
        std::string why = ::strerror(plan.err);
        if (plan.err == EACCES) why += " (is it executable?)";
        if (plan.err == ENOENT && program.find('/') == std::string::npos) {
          why = "command not found in PATH";
        }
        return Error{program + ": " + why, plan.err};
      }
    }
  }
  ProcessId id{pid, 0};
  if (auto info = inspect_process(pid)) id.start = info->start;
  return Child(id, kInvalidHandle);
}

}  // namespace qc

namespace qc {

Error exec_sibling(const std::string& sibling, char** argv) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return Error{"cannot find this program's own path (/proc/self/exe): " + std::string(strerror(errno))};
  std::string path(self, static_cast<std::size_t>(n));
  path = path.substr(0, path.rfind('/') + 1) + sibling;
  std::vector<char*> args;
  args.push_back(path.data());
  for (char** a = argv + 1; *a != nullptr; ++a) args.push_back(*a);
  args.push_back(nullptr);
  execv(path.c_str(), args.data());
  return Error{"cannot run " + path + ": " + std::string(strerror(errno)), errno};
}

}  // namespace qc
