// Small text helpers shared by the tools.
#pragma once

#include <string>

namespace qc {

// Shell-style wildcard match (* ? [...]) of a whole name, as ls and fnmatch do it.
bool glob_match(const std::string& pattern, const std::string& text);

// Asks `prompt` on stderr and reads one line from stdin; true when it is exactly "YES".
// Only call when stdin is a terminal.
bool confirm_yes(const std::string& prompt);

// Whether stdin is a terminal.
bool stdin_is_terminal();

}  // namespace qc
