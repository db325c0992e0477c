// Lock-file primitives on Windows. The lock is a share-mode open: GENERIC_WRITE while
// sharing read (and delete) only, so a second writer gets ERROR_SHARING_VIOLATION. Share
// modes belong to the file object, which an inherited handle keeps alive: the name stays held
// until the command has exited too (a LockFileEx lock would die with the process that took
// it; see WINDOWS.md). A second handle, shared with everyone, reads the record.
// Observers probe with a read-only open that denies writers for an instant: an acquirer that
// meets it sees a holder with no running process in its record and retries (lock.cpp).
// Waiting wakes on directory change notifications and on the holders' process handles.
#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "lock_file.hpp"
#include "win32_util.hpp"

namespace qc {
namespace {

using win32::Handle;

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
constexpr std::size_t kMaxContents = 1u << 20;

Error open_error(const std::string& path, DWORD err) {
  switch (err) {
    case ERROR_ACCESS_DENIED:
      return Error{"cannot open lock file " + path +
                       ": access denied (a directory in its place, a read-only file, or a file "
                       "being deleted); remove it or choose another --lock-dir",
                   EACCES};
    case ERROR_WRITE_PROTECT:
      return Error{"cannot create lock file " + path + ": read-only medium; choose a writable --lock-dir", EROFS};
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return Error{"cannot create lock file " + path + ": the disk is full", ENOSPC};
    default:
      return win32::error("cannot open lock file " + path, err);
  }
}

// Refuses directories and reparse points (symbolic links, junctions): qc never follows them.
Status check_regular(HANDLE h, const std::string& path) {
  FILE_ATTRIBUTE_TAG_INFO tag{};
  if (GetFileInformationByHandleEx(h, FileAttributeTagInfo, &tag, sizeof tag)) {
    if (tag.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
      return Error{"cannot use lock file " + path + ": it is a directory; remove it", EISDIR};
    }
    if (tag.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
      return Error{"cannot use lock file " + path + ": it is a symbolic link, which qc never follows; remove it", ELOOP};
    }
  }
  return {};
}

bool same_file(HANDLE a, HANDLE b) {
  BY_HANDLE_FILE_INFORMATION ia{}, ib{};
  if (!GetFileInformationByHandle(a, &ia) || !GetFileInformationByHandle(b, &ib)) return false;
  return ia.dwVolumeSerialNumber == ib.dwVolumeSerialNumber && ia.nFileIndexHigh == ib.nFileIndexHigh &&
         ia.nFileIndexLow == ib.nFileIndexLow;
}

Result<std::string> read_all(HANDLE h, const std::string& path) {
  std::string out;
  char buf[8192];
  LARGE_INTEGER offset{};
  for (;;) {
    OVERLAPPED at{};
    at.Offset = offset.LowPart;
    at.OffsetHigh = static_cast<DWORD>(offset.HighPart);
    DWORD n = 0;
    if (!ReadFile(h, buf, sizeof buf, &n, &at)) {
      if (GetLastError() == ERROR_HANDLE_EOF) break;
      return win32::error("cannot read lock file " + path, GetLastError());
    }
    if (n == 0) break;
    out.append(buf, n);
    offset.QuadPart += n;
    if (out.size() >= kMaxContents) break;
  }
  return out;
}

HANDLE open_path(const std::string& path, DWORD access, DWORD share, DWORD disposition) {
  return CreateFileW(win32::widen(path).c_str(), access, share, nullptr, disposition,
                     FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr);
}

}  // namespace

// Access denied on a name whose attributes cannot be read either: a file being deleted, which
// goes as soon as its last handle closes. Transient (EBUSY), unlike a real permission error.
static bool delete_pending(const std::string& path) {
  return GetFileAttributesW(win32::widen(path).c_str()) == INVALID_FILE_ATTRIBUTES &&
         GetLastError() == ERROR_ACCESS_DENIED;
}

Result<std::unique_ptr<LockFile>> LockFile::open(const std::string& path, bool create) {
  HANDLE h = open_path(path, GENERIC_READ, kShareAll, create ? OPEN_ALWAYS : OPEN_EXISTING);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = GetLastError();
    if (err == ERROR_ACCESS_DENIED && delete_pending(path)) {
      return Error{"lock file " + path + " is being deleted", EBUSY};
    }
    return open_error(path, err);
  }
  if (Status s = check_regular(h, path); !s) {
    CloseHandle(h);
    return s.error();
  }
  return std::unique_ptr<LockFile>(new LockFile(path, win32::from_handle(h)));
}

LockFile::~LockFile() { close(); }

NativeHandle LockFile::inheritable_handle() const { return locked_; }

void LockFile::close() {
  unlock();
  if (handle_ != kInvalidHandle) {
    CloseHandle(win32::to_handle(handle_));
    handle_ = kInvalidHandle;
  }
}

Result<bool> LockFile::try_lock() {
  if (locked_ != kInvalidHandle) return true;
  // No DELETE access: readers that do not share delete (type, Python's open) can still read
  // the record. Release deletes through a handle of its own. WRITE_DAC marks the handle as a
  // lock for processes_holding; a file whose owner is someone else (no WRITE_DAC for us) is
  // still locked, without the mark.
  HANDLE h = open_path(path_, win32::kLockHandleAccess, FILE_SHARE_READ | FILE_SHARE_DELETE, OPEN_EXISTING);
  if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_ACCESS_DENIED) {
    h = open_path(path_, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, OPEN_EXISTING);
  }
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = GetLastError();
    // Sharing violation: a holder. Not found or access denied: the file was removed (or is
    // being deleted) since we opened ours; the caller sees it is not at its path any more.
    if (err == ERROR_SHARING_VIOLATION || err == ERROR_LOCK_VIOLATION) return false;
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_ACCESS_DENIED) return false;
    return win32::error("cannot lock " + path_, err);
  }
  if (!same_file(h, win32::to_handle(handle_))) {  // replaced meanwhile: not the file we hold open
    CloseHandle(h);
    return false;
  }
  locked_ = win32::from_handle(h);
  return true;
}

void LockFile::unlock() {
  if (locked_ != kInvalidHandle) {
    CloseHandle(win32::to_handle(locked_));
    locked_ = kInvalidHandle;
  }
}

// Even with POSIX delete semantics available, a FAT or network volume may not honour them.
bool LockFile::open_handle_delays_removal() { return true; }

bool LockFile::still_at_path() const {
  Handle named(open_path(path_, 0, kShareAll, OPEN_EXISTING));
  return named && same_file(named.get(), win32::to_handle(handle_));
}

Result<std::string> LockFile::read_contents() const { return read_all(win32::to_handle(handle_), path_); }

Status LockFile::rewrite(std::string_view contents) {
  HANDLE h = win32::to_handle(locked_);
  if (locked_ == kInvalidHandle) return Error{"cannot write lock file " + path_ + ": not locked"};
  OVERLAPPED at{};
  DWORD written = 0;
  if (!WriteFile(h, contents.data(), static_cast<DWORD>(contents.size()), &written, &at) ||
      written != contents.size()) {
    return win32::error("cannot write lock file " + path_, GetLastError());
  }
  FILE_END_OF_FILE_INFO end{};
  end.EndOfFile.QuadPart = static_cast<LONGLONG>(contents.size());
  if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &end, sizeof end)) {
    return win32::error("cannot write lock file " + path_, GetLastError());
  }
  return {};
}

std::optional<std::int64_t> LockFile::owner() const { return std::nullopt; }

std::optional<std::int64_t> file_owner_of(const std::string&) { return std::nullopt; }
std::string describe_user(std::int64_t uid) { return "uid " + std::to_string(uid); }

// The process-wide watch: one change notification per lock directory, each waited on by the
// thread pool, all setting one manual-reset event (reset by drain(), before the caller looks
// at its files again, so that no change is lost between the two).
namespace {

struct Watches {
  std::mutex mutex;
  HANDLE changed = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  struct Entry {
    std::wstring dir;
    HANDLE notification = nullptr;
    HANDLE wait = nullptr;
  };
  std::vector<std::unique_ptr<Entry>> entries;

  static VOID CALLBACK on_change(PVOID context, BOOLEAN) {
    auto* entry = static_cast<Entry*>(context);
    FindNextChangeNotification(entry->notification);
    SetEvent(instance().changed);
  }

  static Watches& instance() {
    static Watches* w = new Watches();  // never destroyed: thread-pool callbacks may run at exit
    return *w;
  }
};

}  // namespace

NativeHandle DirectoryWatch::handle() { return win32::from_handle(Watches::instance().changed); }

void DirectoryWatch::add(const std::string& dir) {
  Watches& w = Watches::instance();
  if (w.changed == nullptr) return;
  const std::wstring wide = win32::widen(dir);
  std::lock_guard<std::mutex> lock(w.mutex);
  // Again for a directory already watched: it may have been removed and made anew since.
  for (auto it = w.entries.begin(); it != w.entries.end(); ++it) {
    if (_wcsicmp((*it)->dir.c_str(), wide.c_str()) != 0) continue;
    UnregisterWaitEx((*it)->wait, INVALID_HANDLE_VALUE);
    FindCloseChangeNotification((*it)->notification);
    w.entries.erase(it);
    break;
  }
  auto entry = std::make_unique<Watches::Entry>();
  entry->dir = wide;
  entry->notification = FindFirstChangeNotificationW(wide.c_str(), FALSE, FILE_NOTIFY_CHANGE_FILE_NAME |
                                                                             FILE_NOTIFY_CHANGE_DIR_NAME);
  if (entry->notification == INVALID_HANDLE_VALUE) return;
  if (!RegisterWaitForSingleObject(&entry->wait, entry->notification, Watches::on_change, entry.get(), INFINITE,
                                   WT_EXECUTEDEFAULT)) {
    FindCloseChangeNotification(entry->notification);
    return;
  }
  w.entries.push_back(std::move(entry));
}

void DirectoryWatch::drain() {
  Watches& w = Watches::instance();
  if (w.changed != nullptr) ResetEvent(w.changed);
}

Status LockFile::unlink_if_ours() {
  if (locked_ == kInvalidHandle || !still_at_path()) return {};
  Handle deleter(open_path(path_, DELETE, kShareAll, OPEN_EXISTING));
  if (!deleter || !same_file(deleter.get(), win32::to_handle(handle_))) {
    return win32::error("cannot remove lock file " + path_, GetLastError());
  }
  HANDLE h = deleter.get();
  // POSIX semantics where the system has them: the name goes at once, even while a handle
  // (an observer's) is open; otherwise the file goes when the last handle closes.
  // FileDispositionInfoEx (Windows 10 1709+); mingw's headers do not have it yet.
  constexpr auto kFileDispositionInfoEx = static_cast<FILE_INFO_BY_HANDLE_CLASS>(21);
  struct {
    ULONG Flags;
  } posix{0x1 /* DELETE */ | 0x2 /* POSIX_SEMANTICS */};
  if (SetFileInformationByHandle(h, kFileDispositionInfoEx, &posix, sizeof posix)) return {};
  FILE_DISPOSITION_INFO classic{TRUE};
  if (!SetFileInformationByHandle(h, FileDispositionInfo, &classic, sizeof classic)) {
    return win32::error("cannot remove lock file " + path_, GetLastError());
  }
  return {};
}

Result<LockProbe> probe_lock_file(const std::string& path) {
  HANDLE h = open_path(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, OPEN_EXISTING);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD err = GetLastError();
    if (err == ERROR_SHARING_VIOLATION) return LockProbe::kHeld;
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND || err == ERROR_ACCESS_DENIED) {
      return LockProbe::kMissing;  // access denied: being deleted
    }
    return open_error(path, err);
  }
  Status regular = check_regular(h, path);
  CloseHandle(h);
  if (!regular) return regular.error();
  return LockProbe::kFree;
}

Result<std::optional<std::string>> read_lock_file(const std::string& path) {
  Handle h(open_path(path, GENERIC_READ, kShareAll, OPEN_EXISTING));
  if (!h) {
    const DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return std::optional<std::string>();
    return open_error(path, err);
  }
  if (Status s = check_regular(h.get(), path); !s) return s.error();
  auto contents = read_all(h.get(), path);
  if (!contents) return contents.error();
  return std::optional<std::string>(std::move(*contents));
}

Result<std::unique_ptr<LockWaiter>> LockWaiter::create(const std::string& dir, const std::string& file_name) {
  std::unique_ptr<LockWaiter> waiter(new LockWaiter());
  waiter->file_name_ = file_name;
  HANDLE h = FindFirstChangeNotificationW(win32::widen(dir).c_str(), FALSE,
                                          FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_LAST_WRITE |
                                              FILE_NOTIFY_CHANGE_SIZE);
  if (h == INVALID_HANDLE_VALUE) return win32::error("cannot watch lock directory " + dir, GetLastError());
  waiter->watch_handle_ = win32::from_handle(h);
  return waiter;
}

LockWaiter::~LockWaiter() {
  if (watch_handle_ != kInvalidHandle) FindCloseChangeNotification(win32::to_handle(watch_handle_));
  for (auto& p : processes_) CloseHandle(win32::to_handle(p.second));
}

void LockWaiter::watch_processes(const std::vector<Pid>& pids) {
  for (Pid pid : pids) {
    bool known = false;
    for (const auto& p : processes_) known = known || p.first == pid;
    if (known || processes_.size() >= MAXIMUM_WAIT_OBJECTS - 1) continue;
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
    if (h != nullptr) processes_.emplace_back(pid, win32::from_handle(h));
  }
}

Result<bool> LockWaiter::wait_until(SteadyTime deadline) {
  std::vector<HANDLE> handles{win32::to_handle(watch_handle_)};
  for (const auto& p : processes_) handles.push_back(win32::to_handle(p.second));
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return false;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  const DWORD r = WaitForMultipleObjects(static_cast<DWORD>(handles.size()), handles.data(), FALSE,
                                         static_cast<DWORD>(std::min<long long>(left, INFINITE - 1)));
  if (r == WAIT_TIMEOUT) return false;
  if (r == WAIT_FAILED) return win32::error("cannot wait for the lock", GetLastError());
  if (r == WAIT_OBJECT_0) FindNextChangeNotification(win32::to_handle(watch_handle_));
  // A holder's death closes its handle with no directory notification; its process handle
  // tells. Either way something changed: the caller tries again.
  return true;
}

}  // namespace qc
