// Text helpers: confirmation prompts.
#include "qc/text.hpp"

#include <algorithm>
#include <iostream>

#include "platform.hpp"

namespace qc {


// Outside input (names, paths, a config's bad bytes, lock records, command lines) reaches
// terminals and logs only as valid UTF-8 without control characters: C0 and C1 controls,
// DEL and stray bytes are shown as \xNN, so no escape sequence from a record can move the
// cursor, retitle the window or hide a line.
std::string printable(std::string_view text, bool escape_tab) {
  std::string out;
  out.reserve(text.size());
  auto hex = [&out](unsigned char c) {
    static const char* digits = "0123456789abcdef";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 15];
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && (c != '\t' || escape_tab)) || c == 0x7f) {
        hex(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A well-formed multi-byte sequence is copied whole; a stray byte is escaped.
    const std::size_t length = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    bool valid = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    const bool c1_control = valid && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0;
    if (valid && !c1_control) {
      out.append(text.substr(i, length));
      i += length;
    } else if (c1_control) {
      hex(c);
      hex(static_cast<unsigned char>(text[i + 1]));
      i += 2;
    } else {
      hex(c);
      ++i;
    }
  }
  return out;
}

void print_columns(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  for (const auto& row : rows) {
    cells.emplace_back();
    for (const auto& cell : row) cells.back().push_back(printable(cell, /*escape_tab=*/true));
  }
  std::vector<std::size_t> width;
  for (const auto& row : cells) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : cells) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

bool confirm_yes(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  if (!answer.empty() && answer.back() == '\r') answer.pop_back();
  return answer == "YES";
}

bool stdin_is_terminal() { return platform::stdin_is_terminal(); }

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace qc
