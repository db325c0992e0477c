// Internal: the platform's lock-file primitives, under qc/lock.hpp's portable algorithm.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qc/clock.hpp"
#include "qc/lock.hpp"
#include "qc/native_handle.hpp"
#include "qc/process.hpp"
#include "qc/result.hpp"

namespace qc {

// An open lock file: POSIX, a descriptor on which an OFD write lock may be taken.
class LockFile {
 public:
  // Opens PATH for locking, creating it when `create`. Does not lock. Errors name the path
  // and say what to do (a directory or a symlink in its place, no permission).
  static Result<std::unique_ptr<LockFile>> open(const std::string& path, bool create);
  ~LockFile();
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  // Takes the lock without waiting: true when taken, false when another holder has it.
  Result<bool> try_lock();
  // Gives the lock back but keeps the file open (closing would wake every waiter).
  void unlock();
  // Whether PATH still names the file this object has open (not unlinked or replaced).
  bool still_at_path() const;
  // The current contents (at most 1 MiB).
  Result<std::string> read_contents() const;
  // Replaces the contents in one write (new bytes first, then the length).
  Status rewrite(std::string_view contents);
  // Unlinks PATH if it still names this file.
  Status unlink_if_ours();
  // The uid that owns the file (POSIX); nullopt where there is no such thing.
  std::optional<std::int64_t> owner() const;
  const std::string& path() const { return path_; }
  // The handle a child must inherit to hold the lock with us.
  NativeHandle inheritable_handle() const;
  // Closes the handle; the lock goes with it unless a child inherited it.
  void close();
  // Whether a handle of ours keeps a released file at its path: on Windows without POSIX
  // delete semantics (and under Wine) a deleted file lives on until its last handle closes,
  // so an acquirer must close its handle before it waits, or the removal it waits for never
  // comes. POSIX: no (and closing would wake our own inotify watch).
  static bool open_handle_delays_removal();

 private:
  LockFile(std::string path, NativeHandle handle) : path_(std::move(path)), handle_(handle) {}
  std::string path_;
  NativeHandle handle_ = kInvalidHandle;  // POSIX: the locked descriptor; Windows: shared, for reading
  [[maybe_unused]] NativeHandle locked_ = kInvalidHandle;  // Windows: the exclusive lock handle
};

// The uid that owns the file at PATH (not following a link); nullopt where unknown.
std::optional<std::int64_t> file_owner_of(const std::string& path);

// "user alice (uid 1001)", or "uid 1001" when it has no name.
std::string describe_user(std::int64_t uid);

// The process-wide watch behind lock_change_handle(): one inotify instance, one watch per
// lock directory (added again after the directory is removed and made anew).
class DirectoryWatch {
 public:
  static NativeHandle handle();
  static void add(const std::string& dir);
  static void drain();
};

// Whether PATH's OS lock is held, without taking it.
Result<LockProbe> probe_lock_file(const std::string& path);

// Reads a lock file for an observer (no lock taken). nullopt when it does not exist.
Result<std::optional<std::string>> read_lock_file(const std::string& path);

// Waits for a change that may free a lock: the file in DIR closed by a writer, removed,
// renamed or rewritten, or a watched process's exit. Created before the first attempt so
// that no change is missed between an attempt and the wait.
class LockWaiter {
 public:
  static Result<std::unique_ptr<LockWaiter>> create(const std::string& dir,
                                                    const std::string& file_name);
  ~LockWaiter();
  // Also wake when these processes exit: a legacy holder has no OS lock to release, and on
  // Windows a holder's death closes its handle without any directory notification.
  void watch_processes(const std::vector<Pid>& pids);
  // True on a change, false when the deadline passed first.
  Result<bool> wait_until(SteadyTime deadline);

 private:
  LockWaiter() = default;
  std::string file_name_;
  NativeHandle watch_handle_ = kInvalidHandle;
  std::vector<std::pair<Pid, NativeHandle>> processes_;
};

}  // namespace qc
