// The portable lock algorithm (docs/lock-file.md) over the platform's lock-file primitives.
//
// acquire: open (creating) -> try the OS lock -> if taken, make sure the path still names
// the file we locked (a releasing holder unlinks it: property 4) -> honour a live legacy
// holder -> write our record through the locked descriptor. A busy lock whose file names no
// running process is given a short grace: it is a new holder that has not written its record
// yet, or a cleaner removing a stale file, and neither is a reason to fail (property 5).
#include "qc/lock.hpp"

#include <algorithm>
#include <filesystem>

#include "lock_file.hpp"
#include "qc/names.hpp"
#include "qc/paths.hpp"

namespace qc {
namespace {

// Long enough for a new holder to write its record under heavy load; short enough that an
// unreadable holder is reported promptly.
constexpr auto kUnidentifiedHolderGrace = std::chrono::milliseconds(500);

bool names_a_running_process(const std::optional<LockRecord>& record) {
  if (!record || record->legacy) return false;
  if (is_running(record->holder())) return true;
  auto child = record->child();
  return child && is_running(*child);
}

bool is_live_legacy(const std::optional<LockRecord>& record) {
  return record && is_live_legacy_holder(*record);
}

std::string file_name_of(const std::string& name) { return name + kLockSuffix; }

std::string parent_of(const std::string& path) {
  const std::filesystem::path p = to_path(path);
  return p.parent_path().empty() ? "." : path_string(p.parent_path());
}

// A name that is held is reported as held, whoever holds it: a file another user owns and
// locked (opened read-only, since we may not write it) is a conflict like any other.
std::optional<LockConflict> held_by_someone_we_cannot_write_as(const std::string& name, const std::string& path) {
  auto probe = probe_lock_file(path);
  if (!probe || *probe != LockProbe::kHeld) return std::nullopt;
  std::optional<LockRecord> holder;
  if (auto contents = read_lock_file(path); contents && *contents) holder = parse_lock_record(**contents);
  return LockConflict{name, path, holder};
}

// A lock file that cannot be taken because another user owns it: whose it is, what to do.
Error foreign_file(const std::string& name, const std::string& path, std::int64_t owner) {
  return Error{"cannot take " + name + ": lock file " + path + " belongs to " + describe_user(owner) +
                   " and nobody holds it; remove it as that user or as root (qc-lock --clear-stale), "
                   "or use a lock directory of your own (--lock-dir)",
               EACCES};
}

}  // namespace

HeldLock::HeldLock(std::unique_ptr<LockFile> file, std::size_t file_size)
    : file_(std::move(file)), file_size_(file_size) {
  if (file_) DirectoryWatch::add(parent_of(file_->path()));
}
HeldLock::HeldLock(HeldLock&&) noexcept = default;
HeldLock& HeldLock::operator=(HeldLock&& other) noexcept {
  if (this != &other) {
    release();
    file_ = std::move(other.file_);
    replacement_ = std::move(other.replacement_);
    file_size_ = other.file_size_;
  }
  return *this;
}
HeldLock::~HeldLock() { release(); }

const std::string& HeldLock::path() const {
  static const std::string none;
  return file_ ? file_->path() : none;
}

Status HeldLock::write_record(const LockRecord& record) {
  if (!file_) return Error{"the lock was already released"};
  std::string text = serialize_lock_record(record);
  constexpr std::size_t kMaxPadding = 64 * 1024;
  if (text.size() < file_size_ && file_size_ <= kMaxPadding) {
    text.insert(text.size() - 1, file_size_ - text.size(), ' ');  // before the final newline
  }
  if (Status s = current().rewrite(text); !s) return s;
  file_size_ = text.size();
  return {};
}

NativeHandle HeldLock::inheritable_handle() const {
  return file_ ? current().inheritable_handle() : kInvalidHandle;
}

Status HeldLock::release() {
  if (!file_) return {};
  Status status = current().unlink_if_ours();
  if (replacement_) replacement_->close();
  replacement_.reset();
  file_->close();
  file_.reset();
  return status;
}

HeldLock::Verdict HeldLock::verify_and_restore(const LockRecord& record) {
  Verdict verdict;
  if (!file_ || current().still_at_path()) return verdict;
  const std::string path = current().path();
  const std::string dir = parent_of(path);
  if (Status s = ensure_directory(dir); !s) {
    verdict.integrity = Integrity::kUnrestorable;
    verdict.detail = s.error().message;
    return verdict;
  }
  DirectoryWatch::add(dir);  // a directory made anew needs a watch of its own
  auto opened = LockFile::open(path, /*create=*/true);
  if (!opened) {
    verdict.integrity = Integrity::kUnrestorable;
    verdict.detail = opened.error().message;
    return verdict;
  }
  auto& file = *opened;
  auto locked = file->try_lock();
  if (locked && *locked && file->still_at_path()) {
    if (replacement_) replacement_->close();
    replacement_ = std::move(file);
    file_size_ = 0;
    if (Status s = write_record(record); !s) {
      verdict.integrity = Integrity::kUnrestorable;
      verdict.detail = s.error().message;
      return verdict;
    }
    verdict.integrity = Integrity::kRestored;
    return verdict;
  }
  // Someone took the name while it had no file: two copies would run now.
  verdict.integrity = Integrity::kLost;
  auto contents = file->read_contents();
  std::optional<LockRecord> holder;
  if (contents) holder = parse_lock_record(*contents);
  verdict.taken_by = LockConflict{record.name, path, holder};
  return verdict;
}

NativeHandle lock_change_handle() { return DirectoryWatch::handle(); }
void drain_lock_changes() { DirectoryWatch::drain(); }

AcquireResult acquire_lock(const std::string& dir, const std::string& name, LockRecord record,
                           const AcquireOptions& options) {
  const std::string path = lock_file_path(dir, name);
  const ProcessId self = current_process();
  if (record.name.empty()) record.name = name;
  if (record.pid == 0) record.pid = self.pid;
  if (record.pid_start == 0) record.pid_start = self.start;
  if (record.timestamp.empty()) record.timestamp = iso8601_now();
  if (record.host.empty()) record.host = host_name();

  const SteadyTime deadline = deadline_after(options.wait_s);
  std::optional<SteadyTime> grace_end;
  std::unique_ptr<LockWaiter> waiter;
  std::unique_ptr<LockFile> file;

  // Waits for a change up to `limit`; returns an error to give up with, or nothing to retry.
  auto wait_for_change = [&](SteadyTime limit, const std::optional<LockRecord>& holder) -> Status {
    if (!waiter) {
      auto created = LockWaiter::create(dir, file_name_of(name));
      if (!created) return created.error();
      waiter = std::move(*created);
      return {};  // retry once before the first wait: a change may have come just before
    }
    if (holder) {
      std::vector<Pid> pids{holder->pid};
      if (holder->child_pid) pids.push_back(*holder->child_pid);
      waiter->watch_processes(pids);
    }
    auto changed = waiter->wait_until(limit);
    if (!changed) return changed.error();
    return {};
  };

  for (;;) {
    if (!file) {
      auto opened = LockFile::open(path, /*create=*/true);
      if (!opened && (opened.error().sys_errno == EACCES || opened.error().sys_errno == EPERM)) {
        // Another user's file (0644): held is a conflict; free, it says whose it is.
        if (auto held = held_by_someone_we_cannot_write_as(name, path)) {
          const auto now = std::chrono::steady_clock::now();
          if (now >= deadline) return *held;
          if (Status s = wait_for_change(deadline, held->holder); !s) return s.error();
          continue;
        }
        if (auto contents = read_lock_file(path); contents && *contents) {
          if (auto owner = file_owner_of(path)) return foreign_file(name, path, *owner);
        }
      }
      if (!opened) {
        // EBUSY: the name is on its way out (Windows: a file pending deletion): transient.
        if (opened.error().sys_errno != EBUSY) return opened.error();
        const auto now = std::chrono::steady_clock::now();
        if (!grace_end) grace_end = now + kUnidentifiedHolderGrace;
        if (now >= std::max(deadline, *grace_end)) return opened.error();
        if (Status s = wait_for_change(std::max(deadline, *grace_end), std::nullopt); !s) return s.error();
        continue;
      }
      file = std::move(*opened);
      if (options.after_open_for_test) options.after_open_for_test(path);
    }
    auto locked = file->try_lock();
    if (!locked) return locked.error();
    const auto now = std::chrono::steady_clock::now();
    if (!*locked && !file->still_at_path()) {  // its holder released it: the name is elsewhere now
      file.reset();
      continue;
    }

    if (*locked) {
      if (!file->still_at_path()) {  // released and unlinked since we opened it: start over
        file.reset();
        continue;
      }
      // Never a file another user could delete later to let a second copy start.
      if (auto owner = file->owner(); owner && *owner != current_uid() && *owner != 0) {
        file->unlock();
        return foreign_file(name, path, *owner);
      }
      auto contents = file->read_contents();
      if (!contents) return contents.error();
      auto previous = parse_lock_record(*contents);
      if (is_live_legacy(previous)) {
        file->unlock();
        if (LockFile::open_handle_delays_removal()) file.reset();
        if (now >= deadline) return LockConflict{name, path, previous};
        if (Status s = wait_for_change(deadline, previous); !s) return s.error();
        continue;
      }
      HeldLock held(std::move(file), contents->size());
      if (Status s = held.write_record(record); !s) {
        held.release();  // a full disk: leave no empty file behind
        return s.error();
      }
      return held;
    }

    auto contents = file->read_contents();
    std::optional<LockRecord> holder;
    if (contents) holder = parse_lock_record(*contents);
    SteadyTime limit = deadline;
    if (!names_a_running_process(holder)) {
      if (!grace_end) grace_end = now + kUnidentifiedHolderGrace;
      limit = std::max(deadline, *grace_end);
    }
    if (now >= limit) return LockConflict{name, path, holder};
    if (LockFile::open_handle_delays_removal()) file.reset();  // the next attempt reopens
    if (Status s = wait_for_change(limit, names_a_running_process(holder) ? holder : std::nullopt);
        !s) {
      return s.error();
    }
  }
}

Result<LockProbe> probe_lock(const std::string& path) { return probe_lock_file(path); }

Result<bool> wait_until_unheld(const std::string& path, SteadyTime deadline) {
  const std::filesystem::path p = to_path(path);
  auto waiter = LockWaiter::create(p.parent_path().empty() ? "." : path_string(p.parent_path()),
                                   path_string(p.filename()));
  if (!waiter) return waiter.error();
  for (;;) {
    auto probe = probe_lock_file(path);
    if (!probe) return probe.error();
    if (*probe != LockProbe::kHeld) return true;
    auto changed = (*waiter)->wait_until(deadline);
    if (!changed) return changed.error();
    if (!*changed) return false;
  }
}

Result<bool> remove_unheld_lock_file(
    const std::string& path,
    const std::function<bool(const std::optional<LockRecord>&)>& may_remove) {
  auto opened = LockFile::open(path, /*create=*/false);
  if (!opened) {
    if (opened.error().sys_errno == ENOENT) return false;
    return opened.error();
  }
  auto& file = *opened;
  auto locked = file->try_lock();
  if (!locked) return locked.error();
  if (!*locked || !file->still_at_path()) return false;
  auto contents = file->read_contents();
  if (!contents) return contents.error();
  if (!may_remove(parse_lock_record(*contents))) return false;
  if (Status s = file->unlink_if_ours(); !s) return s.error();
  return true;
}

std::string describe_conflict(const LockConflict& conflict) {
  const std::string stop_hint = "; stop it with: qc-shutdown " + conflict.name;
  if (!conflict.holder) {
    return conflict.name + " is held by a process that left no readable record in " +
           conflict.path + "; find it with: " + holder_search_hint(conflict.path);
  }
  const LockRecord& h = *conflict.holder;
  std::string details;
  auto add = [&details](const std::string& part) {
    if (part.empty()) return;
    if (!details.empty()) details += ", ";
    details += part;
  };
  if (h.legacy) add("legacy process_lock.py lock");
  if (h.account) add("account " + *h.account);
  if (!h.host.empty()) add("host " + h.host);
  if (!h.timestamp.empty()) add("since " + h.timestamp);
  if (!h.command.empty()) add("command: " + join_command(h.command));
  std::string who = "PID " + std::to_string(h.pid);
  if (!h.legacy && !is_running(h.holder())) {
    if (auto child = h.child(); child && is_running(*child)) {
      who += " (gone; its command, PID " + std::to_string(child->pid) + ", is winding down)";
    }
  }
  return conflict.name + " is held by " + who + (details.empty() ? "" : " (" + details + ")") +
         stop_hint;
}

}  // namespace qc
