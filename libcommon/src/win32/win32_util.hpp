// Internal helpers for the win32 platform layer: UTF-8 <-> UTF-16, errors with the Windows
// message and the errno that portable callers test (ENOENT, EACCES...), RAII for handles.
#pragma once

#include <windows.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qc/native_handle.hpp"
#include "qc/result.hpp"

namespace qc::win32 {

inline std::wstring widen(const std::string& s) {
  if (s.empty()) return {};
  const int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n);
  return out;
}

inline std::string narrow(const std::wstring& s) {
  if (s.empty()) return {};
  const int n = WideCharToMultiByte(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0,
                                    nullptr, nullptr);
  std::string out(static_cast<std::size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n, nullptr,
                      nullptr);
  return out;
}

// One argument, quoted so that CommandLineToArgvW (and the C runtime) read it back unchanged.
inline std::wstring quote_argument(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  for (auto it = arg.begin();; ++it) {
    std::size_t backslashes = 0;
    while (it != arg.end() && *it == L'\\') {
      ++it;
      ++backslashes;
    }
    if (it == arg.end()) {
      out.append(backslashes * 2, L'\\');
      break;
    }
    if (*it == L'"') {
      out.append(backslashes * 2 + 1, L'\\');
    } else {
      out.append(backslashes, L'\\');
    }
    out.push_back(*it);
  }
  out.push_back(L'"');
  return out;
}

// ARGV (UTF-8) as one command line for CreateProcessW or a service's binary path.
inline std::wstring command_line(const std::vector<std::string>& argv) {
  std::wstring line;
  for (const auto& arg : argv) {
    if (!line.empty()) line += L' ';
    line += quote_argument(widen(arg));
  }
  return line;
}

inline std::string message(DWORD error) {
  wchar_t* buf = nullptr;
  const DWORD n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, error, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::wstring text = n > 0 && buf != nullptr ? std::wstring(buf, n) : L"error " + std::to_wstring(error);
  if (buf != nullptr) LocalFree(buf);
  while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r' || text.back() == L'.')) text.pop_back();
  return narrow(text);
}

inline int to_errno(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_NETPATH:
      return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
      return EACCES;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return EBUSY;
    case ERROR_DIRECTORY:
      return ENOTDIR;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return ENOSPC;
    case ERROR_WRITE_PROTECT:
      return EROFS;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return EEXIST;
    default:
      return EIO;
  }
}

inline Error error(const std::string& what, DWORD error) {
  return Error{what + ": " + message(error), to_errno(error)};
}

// A handle closed on destruction. Move-only.
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
  Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Handle& operator=(Handle&& o) noexcept {
    reset();
    h_ = std::exchange(o.h_, nullptr);
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset() {
    if (h_ != nullptr) CloseHandle(h_);
    h_ = nullptr;
  }
  HANDLE get() const { return h_; }
  HANDLE release() { return std::exchange(h_, nullptr); }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  HANDLE h_ = nullptr;
};

inline HANDLE to_handle(NativeHandle h) { return reinterpret_cast<HANDLE>(h); }
inline NativeHandle from_handle(HANDLE h) {
  return h == nullptr || h == INVALID_HANDLE_VALUE ? kInvalidHandle : reinterpret_cast<NativeHandle>(h);
}

// A FILETIME as one 64-bit number (100 ns since 1601): the Windows start-time token.
inline std::uint64_t to_u64(const FILETIME& ft) {
  return (static_cast<std::uint64_t>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime;
}

// The named event our supervisors wait on for a stop request (qc-shutdown sets it).
inline std::wstring stop_event_name(unsigned long pid) {
  return L"Local\\qc-stop-" + std::to_wstring(pid);
}
inline std::wstring stop_event_name(unsigned long pid, std::int32_t token) {
  return stop_event_name(pid) + L"-" + std::to_wstring(token);
}

// The access a lock holder's handle has, and only lock handles have: WRITE_DAC (granted to
// a file's owner) beside read and write. A scan of the system's handle table looks at handles
// with exactly this access and nothing else: duplicating and querying other handles (a pipe
// with a pending synchronous read) can block.
constexpr DWORD kLockHandleAccess = FILE_GENERIC_READ | FILE_GENERIC_WRITE | WRITE_DAC;

// The job objects of the children this process started (spawn_process registers them): what
// is left of a command's tree after the command has exited (qc-lock waits for it).
void register_job(HANDLE job);
void unregister_job(HANDLE job);
std::vector<DWORD> processes_in_jobs();

}  // namespace qc::win32
