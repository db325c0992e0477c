// The Windows definitions of platform.hpp, and glob matching.
#include "win32_util.hpp"  // <windows.h> before shlwapi.h

#include <io.h>
#include <shlwapi.h>

#include <cstdio>

#include "platform.hpp"
#include "qc/text.hpp"

namespace qc::platform {

void ignore_broken_pipes() {}  // a write to a closed pipe fails with an error; nothing kills us

// Windows: creating symbolic links needs a privilege that other users do not have by default;
// the per-user directories qc logs to are not shared. Nothing more is checked here.
std::string log_path_refusal(const std::string&) { return ""; }
std::string opened_log_refusal(const std::string&, std::FILE*) { return ""; }
void discard_writes(std::FILE*) {}

bool local_time(std::time_t t, std::tm& out, long& utc_offset_s) {
  if (localtime_s(&out, &t) != 0) return false;
  std::tm copy = out;
  utc_offset_s = static_cast<long>(_mkgmtime(&copy) - t);
  return true;
}

bool stdin_is_terminal() { return _isatty(_fileno(stdin)) != 0; }

}  // namespace qc::platform

namespace qc {

bool glob_match(const std::string& pattern, const std::string& text) {
  // PathMatchSpec splits patterns at ';', which lock names cannot contain.
  return PathMatchSpecW(win32::widen(text).c_str(), win32::widen(pattern).c_str()) != FALSE;
}

}  // namespace qc
