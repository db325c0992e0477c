// Process identity on Linux, read from /proc. A zombie (state Z or X) counts as dead:
// PID 1 in containers often reaps nothing, so dead orphans linger as zombies.
#include "qc/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

namespace qc {
namespace {

// Reads a small /proc file in one go (they are generated on read, so no partial states).
bool read_small_file(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  ::close(fd);
  return true;
}

// Parses /proc/PID/stat: "pid (comm) state ppid ... starttime(22) ...". comm may hold spaces
// and parentheses, so the fields start after the last ')'.
bool parse_stat(const std::string& stat, ProcessInfo& info) {
  const auto open = stat.find('(');
  const auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  info.name = stat.substr(open + 1, close - open - 1);
  const char* p = stat.c_str() + close + 1;
  // Field 3 is the state; starttime is field 22, i.e. 19 fields after the state.
  while (*p == ' ') ++p;
  if (*p == '\0') return false;
  const char state = *p;
  info.running = state != 'Z' && state != 'X' && state != 'x';
  int field = 3;
  while (*p != '\0' && field < 22) {
    while (*p != '\0' && *p != ' ') ++p;
    while (*p == ' ') ++p;
    ++field;
    if (field == 4) info.parent = std::strtoll(p, nullptr, 10);
    if (field == 5) info.group = std::strtoll(p, nullptr, 10);
  }
  if (field != 22 || *p == '\0') return false;
  info.start = std::strtoull(p, nullptr, 10);
  return true;
}

std::vector<std::string> split_nul(const std::string& raw) {
  std::vector<std::string> args;
  std::size_t begin = 0;
  while (begin < raw.size()) {
    std::size_t end = raw.find('\0', begin);
    if (end == std::string::npos) end = raw.size();
    args.emplace_back(raw, begin, end - begin);
    begin = end + 1;
  }
  return args;
}

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::optional<ProcessInfo> inspect_process(Pid pid, bool with_command_line) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%lld/stat", static_cast<long long>(pid));
  std::string stat;
  if (!read_small_file(path, stat)) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  if (!parse_stat(stat, info)) return std::nullopt;
  std::snprintf(path, sizeof path, "/proc/%lld", static_cast<long long>(pid));
  struct stat st {};
  if (::stat(path, &st) == 0) info.uid = st.st_uid;
  if (with_command_line) {
    std::snprintf(path, sizeof path, "/proc/%lld/cmdline", static_cast<long long>(pid));
    std::string raw;
    if (read_small_file(path, raw)) info.command_line = split_nul(raw);
  }
  return info;
}

ProcessId current_process() {
  static const ProcessId self = [] {
    ProcessId id{static_cast<Pid>(::getpid()), 0};
    if (auto info = inspect_process(id.pid)) id.start = info->start;
    return id;
  }();
  return self;
}

bool stay_on_current_cpu() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return false;
  const int cpu = ::sched_getcpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return ::sched_setaffinity(0, sizeof one, &one) == 0;
}

bool is_running(const ProcessId& id) {
  auto info = inspect_process(id.pid);
  return info && info->running && info->start == id.start;
}

bool is_running_python(Pid pid) {
  auto info = inspect_process(pid);
  if (!info || !info->running) return false;
  if (info->name.find("python") != std::string::npos) return true;
  // A script started through its shebang shows its own name in comm; the executable tells.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%lld/exe", static_cast<long long>(pid));
  char target[4096];
  ssize_t n = ::readlink(path, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return basename_of(target).find("python") != std::string::npos;
}

std::vector<ProcessInfo> list_processes(bool with_command_lines) {
  std::vector<ProcessInfo> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long long pid = std::strtoll(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    if (auto info = inspect_process(pid, with_command_lines)) out.push_back(std::move(*info));
  }
  ::closedir(dir);
  return out;
}

namespace {

// Each numeric entry of /proc, as a PID.
template <class F>
void for_each_pid(F&& f) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long long pid = std::strtoll(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    f(static_cast<Pid>(pid));
  }
  ::closedir(dir);
}

// Whether the open file description behind fd `name` of the process whose /proc/PID is
// `proc_dir` carries a lock: the kernel lists each lock owned by that description (OFD and
// flock locks, POSIX locks of that process) as a "lock:" line of its fdinfo.
bool descriptor_holds_a_lock(int proc_dir, const char* name) {
  const std::string path = std::string("fdinfo/") + name;
  const int fd = ::openat(proc_dir, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return std::strncmp(buf, "lock:", 5) == 0 || std::strstr(buf, "\nlock:") != nullptr;
}

}  // namespace

std::vector<std::vector<ProcessInfo>> processes_holding(const std::vector<std::string>& paths) {
  std::vector<std::vector<ProcessInfo>> out(paths.size());
  std::map<std::pair<dev_t, ino_t>, std::size_t> wanted;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    struct stat st {};
    if (::stat(paths[i].c_str(), &st) == 0) wanted.emplace(std::make_pair(st.st_dev, st.st_ino), i);
  }
  if (wanted.empty()) return out;
  for_each_pid([&](Pid pid) {
    char proc_path[64];
    std::snprintf(proc_path, sizeof proc_path, "/proc/%lld", static_cast<long long>(pid));
    const int proc_dir = ::open(proc_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_dir < 0) return;  // gone
    const int dfd = ::openat(proc_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {  // gone, or not ours to look into
      ::close(proc_dir);
      return;
    }
    DIR* fds = ::fdopendir(dfd);
    if (fds == nullptr) {
      ::close(dfd);
      ::close(proc_dir);
      return;
    }
    std::vector<std::size_t> found;
    while (const dirent* entry = ::readdir(fds)) {
      if (entry->d_name[0] == '.') continue;
      struct stat st {};
      if (::fstatat(dfd, entry->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
      auto it = wanted.find({st.st_dev, st.st_ino});
      if (it != wanted.end() && std::find(found.begin(), found.end(), it->second) == found.end() &&
          descriptor_holds_a_lock(proc_dir, entry->d_name)) {
        found.push_back(it->second);
      }
    }
    ::closedir(fds);
    ::close(proc_dir);
    if (found.empty()) return;
    auto info = inspect_process(pid, true);
    if (!info || !info->running) return;
    for (std::size_t index : found) out[index].push_back(*info);
  });
  return out;
}

bool can_see_file_holders() { return true; }

std::string holder_search_hint(const std::string& path) { return "fuser -v " + path; }
std::string superuser_name() { return "root"; }

void adopt_orphaned_descendants() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

std::vector<Pid> child_pids() {
  std::vector<Pid> out;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return out;
  while (const dirent* task = ::readdir(tasks)) {
    if (task->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + task->d_name + "/children";
    std::string text;
    if (!read_small_file(path.c_str(), text)) continue;
    const char* p = text.c_str();
    while (*p != '\0') {
      char* end = nullptr;
      const long long pid = std::strtoll(p, &end, 10);
      if (end == p) break;
      out.push_back(pid);
      p = end;
    }
  }
  ::closedir(tasks);
  return out;
}

bool has_child_processes() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;  // -1 ECHILD: none
}

std::vector<ProcessInfo> living_descendants() {
  std::vector<ProcessInfo> all;
  for_each_pid([&](Pid pid) {
    if (auto info = inspect_process(pid)) all.push_back(std::move(*info));
  });
  std::vector<Pid> ours{static_cast<Pid>(::getpid())};
  std::vector<ProcessInfo> out;
  for (bool grew = true; grew;) {  // a few rounds: the depth of the tree
    grew = false;
    for (auto& p : all) {
      if (p.pid == 0 || std::find(ours.begin(), ours.end(), p.parent) == ours.end()) continue;
      ours.push_back(p.pid);
      if (p.running) out.push_back(p);
      p.pid = 0;  // taken
      grew = true;
    }
  }
  for (auto& p : out) {
    if (auto info = inspect_process(p.pid, true)) p.command_line = std::move(info->command_line);
  }
  return out;
}

std::int64_t current_uid() { return static_cast<std::int64_t>(::geteuid()); }
bool running_as_root() { return ::geteuid() == 0; }

std::optional<WallTime> start_time_of(StartToken start) {
  static const long long boot_time_s = [] {
    std::string stat;
    if (!read_small_file("/proc/stat", stat)) return -1LL;
    const auto pos = stat.find("\nbtime ");
    if (pos == std::string::npos) return -1LL;
    return std::strtoll(stat.c_str() + pos + 7, nullptr, 10);
  }();
  static const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  if (boot_time_s < 0 || ticks_per_s <= 0) return std::nullopt;
  using namespace std::chrono;
  const auto since_boot = milliseconds(static_cast<long long>(start) * 1000 / ticks_per_s);
  return WallTime(duration_cast<system_clock::duration>(seconds(boot_time_s) + since_boot));
}

ExitWatcher::ExitWatcher() = default;

ExitWatcher::~ExitWatcher() {
  for (auto& w : watched_) {
    if (w.handle != kInvalidHandle) ::close(static_cast<int>(w.handle));
  }
}

void ExitWatcher::add(const ProcessId& id) {
  for (const auto& w : watched_) {
    if (w.id == id) return;
  }
  Watched w{id, kInvalidHandle, true};
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(id.pid), 0));
  if (fd >= 0) {
    // The pidfd pins whatever now has the PID: it watches our process only if the start
    // token still matches after it was opened.
    auto info = inspect_process(id.pid);
    if (info && info->running && info->start == id.start) {
      w.handle = fd;
      w.gone = false;
    } else {
      ::close(fd);
    }
  }
  watched_.push_back(w);
}

bool ExitWatcher::wait_all(SteadyTime deadline) {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Watched*> owners;
    for (auto& w : watched_) {
      if (w.gone) continue;
      fds.push_back({static_cast<int>(w.handle), POLLIN, 0});
      owners.push_back(&w);
    }
    if (fds.empty()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // Rounded up: a poll that wakes a fraction of a millisecond early is not the deadline.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Watched& w = *owners[i];
      // Readable at exit; a zombie that nobody reaps has exited too.
      w.gone = true;
      ::close(static_cast<int>(w.handle));
      w.handle = kInvalidHandle;
    }
  }
}

void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::string host_name() {
  if (const char* given = std::getenv("QC_HOST_NAME"); given && *given) return given;
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace qc
