// Lock names and the lock directory.
#include "qc/names.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "qc/paths.hpp"

namespace qc {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kMaxNameLength = 100;

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

// Printable quoting for names that may hold control bytes.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) {  // names are ASCII: show anything else as bytes
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}
}  // namespace

bool is_valid_lock_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || name == "." || name == "..") return false;
  if (name[0] == '-') return false;  // it would read as an option wherever it is passed on
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

Status validate_lock_name(const std::string& name) {
  if (is_valid_lock_name(name)) return {};
  std::string why;
  if (name.empty()) {
    why = "it is empty";
  } else if (name.size() > kMaxNameLength) {
    why = "it is " + std::to_string(name.size()) + " characters long (at most 100)";
  } else if (name == "." || name == "..") {
    why = "it names a directory";
  } else if (name[0] == '-' && is_valid_lock_name("x" + name.substr(1))) {
    why = "it starts with '-', which reads as an option";
  } else {
    why = "it contains characters other than letters, digits, '_', '.' and '-'";
  }
  return Error{"invalid lock name " + quoted(name) + ": " + why +
               "; use 1-100 of A-Z a-z 0-9 _ . - (not starting with -)"};
}

std::string resolve_lock_dir(const std::optional<std::string>& from_option) {
  if (from_option && !from_option->empty()) return *from_option;
  if (const char* env = std::getenv("QC_LOCK_DIR"); env != nullptr && *env != '\0') return env;
  return ".locks";
}

Status ensure_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(to_path(dir), ec)) return {};
  fs::create_directories(to_path(dir), ec);
  if (ec) {
    return Error{"cannot create lock directory " + dir + ": " + ec.message() +
                     "; choose another with --lock-dir or QC_LOCK_DIR",
                 ec.value()};
  }
  if (!fs::is_directory(to_path(dir), ec)) {
    return Error{"cannot use " + dir + " as lock directory: it is not a directory"};
  }
  return {};
}

std::string lock_file_path(const std::string& dir, const std::string& name) {
  return path_string(to_path(dir) / (name + kLockSuffix));
}

}  // namespace qc
