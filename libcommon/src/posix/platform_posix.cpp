// The POSIX definitions of platform.hpp.
#include "platform.hpp"

#include <signal.h>
#include <unistd.h>

namespace qc::platform {

bool local_time(std::time_t t, std::tm& out, long& utc_offset_s) {
  if (::localtime_r(&t, &out) == nullptr) return false;
  utc_offset_s = out.tm_gmtoff;
  return true;
}

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

void ignore_broken_pipes() { ::signal(SIGPIPE, SIG_IGN); }

}  // namespace qc::platform

#include <fnmatch.h>

#include "qc/text.hpp"

namespace qc {

bool glob_match(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

}  // namespace qc
