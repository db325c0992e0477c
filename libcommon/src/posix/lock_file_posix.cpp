// Lock-file primitives on Linux: open-file-description locks (F_OFD_SETLK), which belong to
// the open file rather than the process, survive in children that inherit the descriptor,
// and vanish when the last descriptor closes (classic fcntl locks vanish when *any*
// descriptor of the file is closed, and are not inherited). Waiting uses inotify and pidfd.
#include "lock_file.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <vector>

namespace qc {
namespace {

constexpr std::size_t kMaxContents = 1u << 20;
constexpr int kInheritedLockFdMin = 100;  // docs/lock-file.md

int fd_of(NativeHandle h) { return static_cast<int>(h); }

struct flock whole_file(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return fl;
}

Error open_error(const std::string& path, int err) {
  switch (err) {
    case EISDIR:
      return Error{"cannot use lock file " + path + ": it is a directory; remove it", err};
    case ELOOP:
      return Error{"cannot use lock file " + path +
                       ": it is a symbolic link, which qc never follows; remove it",
                   err};
    case EACCES:
    case EPERM:
      return Error{"cannot open lock file " + path +
                       ": permission denied; run as its owner or choose another --lock-dir",
                   err};
    case EROFS:
      return Error{"cannot create lock file " + path +
                       ": read-only file system; choose a writable --lock-dir",
                   err};
    case ENOSPC:
    case EDQUOT:
      return Error{"cannot create lock file " + path + ": no space left on the device", err};
    default:
      return os_error("cannot open lock file " + path, err);
  }
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Result<std::string> read_all(int fd, const std::string& path) {
  std::string out;
  char buf[8192];
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot read lock file " + path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    offset += n;
    if (out.size() >= kMaxContents) break;
  }
  return out;
}

int pidfd_open(Pid pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

Result<std::unique_ptr<LockFile>> LockFile::open(const std::string& path, bool create) {
  int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
  if (create) flags |= O_CREAT;
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{"cannot use lock file " + path + ": it is not a regular file; remove it"};
  }
  // Commands inherit the lock under this number: 100 or above, out of the way of scripts,
  // which use 3 to 9 (`exec 3>/dev/null` would drop a lock held as fd 3) and from 10 up
  // for `exec {var}>`.
  if (fd < kInheritedLockFdMin) {
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, kInheritedLockFdMin);
    if (high >= 0) {
      ::close(fd);
      fd = high;
    }
  }
  return std::unique_ptr<LockFile>(new LockFile(path, fd));
}

LockFile::~LockFile() { close(); }

NativeHandle LockFile::inheritable_handle() const { return handle_; }

void LockFile::close() {
  if (handle_ != kInvalidHandle) {
    ::close(fd_of(handle_));
    handle_ = kInvalidHandle;
  }
}

Result<bool> LockFile::try_lock() {
  struct flock fl = whole_file(F_WRLCK);
  for (;;) {
    if (::fcntl(fd_of(handle_), F_OFD_SETLK, &fl) == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) return false;
    return os_error("cannot lock " + path_, errno);
  }
}

void LockFile::unlock() {
  struct flock fl = whole_file(F_UNLCK);
  ::fcntl(fd_of(handle_), F_OFD_SETLK, &fl);
}

bool LockFile::open_handle_delays_removal() { return false; }  // unlink removes the name at once

bool LockFile::still_at_path() const {
  struct stat mine {}, named {};
  if (::fstat(fd_of(handle_), &mine) != 0) return false;
  if (::lstat(path_.c_str(), &named) != 0) return false;
  return same_file(mine, named);
}

Result<std::string> LockFile::read_contents() const { return read_all(fd_of(handle_), path_); }

Status LockFile::rewrite(std::string_view contents) {
  const int fd = fd_of(handle_);
  std::size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::pwrite(fd, contents.data() + done, contents.size() - done,
                         static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Error{"cannot write lock file " + path_ + ": " + std::strerror(errno) +
                       (errno == ENOSPC ? "; free some space on its device" : ""),
                   errno};
    }
    done += static_cast<std::size_t>(n);
  }
  if (::ftruncate(fd, static_cast<off_t>(contents.size())) != 0) {
    return os_error("cannot write lock file " + path_, errno);
  }
  return {};
}

Status LockFile::unlink_if_ours() {
  if (!still_at_path()) return {};
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return os_error("cannot remove lock file " + path_, errno);
  }
  return {};
}

std::optional<std::int64_t> LockFile::owner() const {
  struct stat st {};
  if (::fstat(fd_of(handle_), &st) != 0) return std::nullopt;
  return static_cast<std::int64_t>(st.st_uid);
}

std::optional<std::int64_t> file_owner_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::int64_t>(st.st_uid);
}

// The name is read from /etc/passwd itself: getpwuid would load NSS modules at run time,
// which statically linked tools must not (and a message needs no directory service).
std::string describe_user(std::int64_t uid) {
  std::ifstream passwd("/etc/passwd");
  std::string line;
  while (std::getline(passwd, line)) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    const auto third = second == std::string::npos ? second : line.find(':', second + 1);
    if (third == std::string::npos) continue;
    if (line.compare(second + 1, third - second - 1, std::to_string(uid)) == 0) {
      return "user " + line.substr(0, first) + " (uid " + std::to_string(uid) + ")";
    }
  }
  return "uid " + std::to_string(uid);
}

namespace {
int& directory_watch_fd() {
  static int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  return fd;
}
}  // namespace

NativeHandle DirectoryWatch::handle() {
  const int fd = directory_watch_fd();
  return fd < 0 ? kInvalidHandle : static_cast<NativeHandle>(fd);
}

void DirectoryWatch::add(const std::string& dir) {
  const int fd = directory_watch_fd();
  if (fd < 0) return;
  // Removed, renamed or replaced entries; the directory itself removed or moved.
  ::inotify_add_watch(fd, dir.c_str(),
                      IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF);
}

void DirectoryWatch::drain() {
  const int fd = directory_watch_fd();
  if (fd < 0) return;
  alignas(inotify_event) char buf[8192];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
}

Result<LockProbe> probe_lock_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return LockProbe::kMissing;
    return open_error(path, errno);
  }
  struct flock fl = whole_file(F_WRLCK);
  const int rc = ::fcntl(fd, F_OFD_GETLK, &fl);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return os_error("cannot query the lock on " + path, err);
  return fl.l_type == F_UNLCK ? LockProbe::kFree : LockProbe::kHeld;
}

Result<std::optional<std::string>> read_lock_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return open_error(path, errno);
  }
  auto contents = read_all(fd, path);
  ::close(fd);
  if (!contents) return contents.error();
  return std::optional<std::string>(std::move(*contents));
}

Result<std::unique_ptr<LockWaiter>> LockWaiter::create(const std::string& dir,
                                                       const std::string& file_name) {
  std::unique_ptr<LockWaiter> waiter(new LockWaiter());
  waiter->file_name_ = file_name;
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return os_error("cannot watch lock directory " + dir, errno);
  waiter->watch_handle_ = fd;
  // IN_CLOSE_WRITE: the last descriptor of a writer closed (the OS lock goes with it, also
  // when the holder was killed); IN_DELETE/IN_MOVED_*: released or replaced; IN_MODIFY: a
  // new holder wrote its record.
  const uint32_t mask = IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE |
                        IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF;
  if (::inotify_add_watch(fd, dir.c_str(), mask) < 0) {
    return os_error("cannot watch lock directory " + dir, errno);
  }
  return waiter;
}

LockWaiter::~LockWaiter() {
  if (watch_handle_ != kInvalidHandle) ::close(fd_of(watch_handle_));
  for (auto& p : processes_) ::close(fd_of(p.second));
}

void LockWaiter::watch_processes(const std::vector<Pid>& pids) {
  for (Pid pid : pids) {
    bool known = false;
    for (const auto& p : processes_) known = known || p.first == pid;
    if (known) continue;
    const int fd = pidfd_open(pid);
    if (fd >= 0) processes_.emplace_back(pid, fd);
  }
}

Result<bool> LockWaiter::wait_until(SteadyTime deadline) {
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const auto left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    std::vector<pollfd> fds{{fd_of(watch_handle_), POLLIN, 0}};
    for (const auto& p : processes_) fds.push_back({fd_of(p.second), POLLIN, 0});
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left_ms > INT_MAX ? INT_MAX : left_ms));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot wait for the lock", errno);
    if (n == 0) continue;  // the loop head decides whether the deadline passed
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) return true;
    }
    bool relevant = false;
    alignas(inotify_event) char buf[8192];
    for (;;) {
      ssize_t len = ::read(fd_of(watch_handle_), buf, sizeof buf);
      if (len <= 0) break;
      for (char* p = buf; p < buf + len;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW)) != 0 ||
            (ev->len > 0 && file_name_ == ev->name)) {
          relevant = true;
        }
        p += sizeof(inotify_event) + ev->len;
      }
    }
    if (relevant) return true;
  }
}

}  // namespace qc
