// Small text helpers shared by the tools.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>
#include <string_view>

namespace qc {

// Shell-style wildcard match (* ? [...]) of a whole name, as ls and fnmatch do it.
bool glob_match(const std::string& pattern, const std::string& text);

// `text` made safe for a terminal or a log: valid UTF-8 without control characters (C0,
// C1, DEL, stray bytes become \xNN; tabs too with escape_tab). JSON output never needs it.
std::string printable(std::string_view text, bool escape_tab = false);

// Prints rows as left-aligned columns two spaces apart (the first row is the header); the
// last column is not padded. Every cell goes through printable().
void print_columns(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

// Asks `prompt` on stderr and reads one line from stdin; true when it is exactly "YES".
// Only call when stdin is a terminal.
bool confirm_yes(const std::string& prompt);

// Whether stdin is a terminal.
bool stdin_is_terminal();

// How deep JSON text nests ([ and { outside strings), stopping at `limit` + 1. Outside input
// is checked before it is parsed: nlohmann/json parses any depth without recursion, but
// printing or copying a value recurses, and a million nested arrays would exhaust the stack.
int json_nesting_depth(std::string_view text, int limit);
inline constexpr int kMaxJsonDepth = 256;

}  // namespace qc
