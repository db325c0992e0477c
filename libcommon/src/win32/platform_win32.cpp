// The Windows definitions of platform.hpp, and glob matching.
#include "win32_util.hpp"  // <windows.h> before shlwapi.h

#include <io.h>
#include <sddl.h>
#include <shlwapi.h>

#include <cstdio>

#include "platform.hpp"
#include "qc/text.hpp"

namespace qc::platform {

void ignore_broken_pipes() {}  // a write to a closed pipe fails with an error; nothing kills us

namespace {

struct Identity {
  DWORD volume = 0, high = 0, low = 0;
};

bool identity_of(HANDLE h, Identity& out) {
  BY_HANDLE_FILE_INFORMATION info{};
  if (!GetFileInformationByHandle(h, &info)) return false;
  out = {info.dwVolumeSerialNumber, info.nFileIndexHigh, info.nFileIndexLow};
  return true;
}

// The attributes of PATH itself (a link, not its target); false when it does not exist.
bool own_attributes(const std::string& path, DWORD& attributes) {
  win32::Handle h(CreateFileW(win32::widen(path).c_str(), FILE_READ_ATTRIBUTES,
                              FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (!h) return false;
  FILE_ATTRIBUTE_TAG_INFO tag{};
  if (!GetFileInformationByHandleEx(h.get(), FileAttributeTagInfo, &tag, sizeof tag)) return false;
  attributes = tag.FileAttributes;
  return true;
}

}  // namespace

// As on POSIX: a log file is never written through a symbolic link or junction (a reparse
// point), and the file opened must be the one the path names.
std::string log_path_refusal(const std::string& path) {
  DWORD attributes = 0;
  if (!own_attributes(path, attributes)) return "";  // created by the open
  if (attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    return "it is a symbolic link or junction, which qc never follows; remove it";
  }
  return "";
}

std::string opened_log_refusal(const std::string& path, std::FILE* stream) {
  const auto opened = reinterpret_cast<HANDLE>(_get_osfhandle(_fileno(stream)));
  Identity of_stream, of_path;
  DWORD attributes = 0;
  win32::Handle named(CreateFileW(win32::widen(path).c_str(), FILE_READ_ATTRIBUTES,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                  FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (opened == INVALID_HANDLE_VALUE || !identity_of(opened, of_stream)) return "it cannot be examined";
  if (!named || !identity_of(named.get(), of_path) || !own_attributes(path, attributes) ||
      (attributes & FILE_ATTRIBUTE_REPARSE_POINT) || of_stream.volume != of_path.volume ||
      of_stream.high != of_path.high || of_stream.low != of_path.low) {
    return "it was replaced (by a symbolic link?) while it was being opened; remove it";
  }
  return "";
}

// Nothing has been written to a refused file when it is closed: nothing to redirect.
void discard_writes(std::FILE*) {}

bool local_time(std::time_t t, std::tm& out, long& utc_offset_s) {
  if (localtime_s(&out, &t) != 0) return false;
  std::tm copy = out;
  utc_offset_s = static_cast<long>(_mkgmtime(&copy) - t);
  return true;
}

bool stdin_is_terminal() { return _isatty(_fileno(stdin)) != 0; }

Status write_private_file(const std::string& path, const std::string& content) {
  const std::wstring wide = win32::widen(path);
  DeleteFileW(wide.c_str());
  // Protected (no inherited entries): full access for the owner, SYSTEM and Administrators.
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)",
                                                            SDDL_REVISION_1, &sd, nullptr)) {
    return win32::error("cannot build the security descriptor for " + path, GetLastError());
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, sd, FALSE};
  HANDLE h = CreateFileW(wide.c_str(), GENERIC_WRITE, 0, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  const DWORD created_error = GetLastError();
  LocalFree(sd);
  if (h == INVALID_HANDLE_VALUE) return win32::error("cannot create " + path, created_error);
  DWORD written = 0;
  const BOOL ok = WriteFile(h, content.data(), static_cast<DWORD>(content.size()), &written, nullptr);
  const DWORD write_error = GetLastError();
  CloseHandle(h);
  if (!ok || written != content.size()) return win32::error("cannot write " + path, write_error);
  return {};
}

void block_signals_in_this_thread() {}

}  // namespace qc::platform

namespace qc {

bool glob_match(const std::string& pattern, const std::string& text) {
  // PathMatchSpec splits patterns at ';', which lock names cannot contain.
  return PathMatchSpecW(win32::widen(text).c_str(), win32::widen(pattern).c_str()) != FALSE;
}

}  // namespace qc
