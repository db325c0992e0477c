// Internal: the small OS pieces that generic libcommon code needs, one definition per
// platform in src/posix/ and src/win32/. Not installed, not seen by tools.
#pragma once

#include <cstdio>
#include <ctime>
#include <string>

#include "qc/result.hpp"

namespace qc::platform {

// Writes CONTENT to a new file at PATH that only this user can read (POSIX mode 0600;
// Windows a protected DACL: the owner, SYSTEM and Administrators). What was at PATH is
// replaced; a link there is removed, never followed.
Status write_private_file(const std::string& path, const std::string& content);

// Local broken-down time for `t` and the local UTC offset in seconds at that moment.
bool local_time(std::time_t t, std::tm& out, long& utc_offset_s);

// For a thread of libcommon's own (the fleet's renewals): no signal is ever delivered to it,
// so that a process-directed SIGTERM waits for the event loop, whether or not the loop has
// blocked it yet. Windows: nothing to do.
void block_signals_in_this_thread();

// Whether stdin is a terminal (for confirmations).
bool stdin_is_terminal();

// A reader that went away (`qc-launch | head`) must not kill a supervisor: writes to a
// closed pipe then fail with EPIPE instead of raising SIGPIPE. Children get the default back.
void ignore_broken_pipes();

// Log files are opened only where they cannot be turned against us: never through a
// symbolic link (another user could point logs/BRAIN.log at one of our files), never a file
// another user owns. Before the open: why PATH may not be opened ("" when it may). After:
// why the opened STREAM is not the regular file of ours at PATH; then its writes are sent
// to the null device, so nothing reaches the file it turned out to be.
std::string log_path_refusal(const std::string& path);
std::string opened_log_refusal(const std::string& path, std::FILE* stream);
void discard_writes(std::FILE* stream);

}  // namespace qc::platform
