// The lock at the core of qc: an operating-system lock on an open lock file (docs/lock-file.md).
//
// POSIX: an open-file-description lock (F_OFD_SETLK) on <dir>/<NAME>.lock. It is released
// when the last descriptor of that open file goes away, however the holders die; children
// that inherit the descriptor hold it too. The file's existence means nothing by itself.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "qc/lock_record.hpp"
#include "qc/native_handle.hpp"
#include "qc/result.hpp"

namespace qc {

class LockFile;  // the platform's open, locked file

// Someone else holds the name. `holder` is what their file says, when it says anything.
struct LockConflict {
  std::string name;
  std::string path;
  std::optional<LockRecord> holder;
};

// A held lock. Move-only; releasing (or destroying) removes the file, then unlocks.
class HeldLock {
 public:
  // `file_size`: the bytes the file holds now (what a previous holder left).
  explicit HeldLock(std::unique_ptr<LockFile> file, std::size_t file_size = 0);
  HeldLock(HeldLock&&) noexcept;
  HeldLock& operator=(HeldLock&&) noexcept;
  ~HeldLock();

  const std::string& path() const;

  // Rewrites the file through the held descriptor, in one write that never shortens it: a
  // shorter record is padded with spaces, so no reader ever sees a new record followed by
  // the tail of an old one (the file is truncated only when it held over 64 KiB of junk).
  Status write_record(const LockRecord& record);

  // The handle a child must inherit to hold the lock with us (docs/lock-file.md, property 3).
  NativeHandle inheritable_handle() const;

  // Removes the file if it is still ours, then unlocks. Idempotent.
  Status release();

  // After a change in the lock directory (lock_change_handle() became readable): whether the
  // lock file is still ours at its path. A file that was removed or replaced (`rm -rf
  // .locks`, another user deleting it in a shared sticky directory) is put back at once: a
  // new file, locked and holding `record`. If another process took the name first, the lock
  // is lost: the caller must stop its command, so that one copy remains (docs/lock-file.md).
  enum class Integrity { kIntact, kRestored, kLost, kUnrestorable };
  struct Verdict {
    Integrity integrity = Integrity::kIntact;
    std::optional<LockConflict> taken_by;  // kLost: who holds the name now
    std::string detail;                    // kUnrestorable: why it could not be put back
  };
  Verdict verify_and_restore(const LockRecord& record);

 private:
  LockFile& current() const { return replacement_ ? *replacement_ : *file_; }
  std::unique_ptr<LockFile> file_;         // the file our commands inherited
  std::unique_ptr<LockFile> replacement_;  // the file put back at the path, if one was
  std::size_t file_size_ = 0;
};

// A handle that becomes readable when a lock file this process holds may have been removed
// or replaced (POSIX: one inotify instance for all of them); kInvalidHandle where there is
// none. drain_lock_changes() empties it; then call verify_and_restore on each lock.
NativeHandle lock_change_handle();
void drain_lock_changes();

struct AcquireOptions {
  // Wait up to this long for the name (0: fail at once). Waiting wakes on events (the file
  // closed or removed, a legacy holder's exit), never on a timer.
  double wait_s = 0;
  // Test hook: runs after the file is opened and before it is locked.
  std::function<void(const std::string& path)> after_open_for_test;
};

using AcquireResult = std::variant<HeldLock, LockConflict, Error>;

// Takes NAME in DIR and writes `record` (its name, pid, pid_start, timestamp and host are
// filled in when empty). Stale files, qc or legacy, are taken over; a legacy file whose
// python PID still runs counts as held. The directory must exist.
AcquireResult acquire_lock(const std::string& dir, const std::string& name, LockRecord record,
                           const AcquireOptions& options = {});

// What an observer sees. Observing never takes the lock, so it never makes an acquire fail.
enum class LockProbe { kFree, kHeld, kMissing };
Result<LockProbe> probe_lock(const std::string& path);

// Waits until no process holds PATH's OS lock (or it is gone), woken by the holder's last
// close, not by polling. True when it is free before `deadline`.
Result<bool> wait_until_unheld(const std::string& path, SteadyTime deadline);

// Removes the file at `path` if no process holds its OS lock and `may_remove` agrees with its
// contents (nullopt when unreadable). Returns whether it was removed. Safe against a
// concurrent acquirer: the removal happens under the lock.
Result<bool> remove_unheld_lock_file(
    const std::string& path,
    const std::function<bool(const std::optional<LockRecord>&)>& may_remove);

// "BRAIN_ATLAS is held by PID 12345 (account 212000584, host gtw, since ..., command: ...);
//  stop it with: qc-shutdown BRAIN_ATLAS"
std::string describe_conflict(const LockConflict& conflict);

}  // namespace qc
