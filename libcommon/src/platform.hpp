// Internal: the small OS pieces that generic libcommon code needs, one definition per
// platform in src/posix/ and src/win32/. Not installed, not seen by tools.
#pragma once

#include <ctime>
#include <string>

namespace qc::platform {

// Local broken-down time for `t` and the local UTC offset in seconds at that moment.
bool local_time(std::time_t t, std::tm& out, long& utc_offset_s);

// Whether stdin is a terminal (for confirmations).
bool stdin_is_terminal();

// A reader that went away (`qc-launch | head`) must not kill a supervisor: writes to a
// closed pipe then fail with EPIPE instead of raising SIGPIPE. Children get the default back.
void ignore_broken_pipes();

}  // namespace qc::platform
