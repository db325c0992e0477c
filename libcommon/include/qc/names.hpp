// Lock names and the lock directory (docs/conventions.md): validation, resolution, paths.
#pragma once

#include <optional>
#include <string>

#include "qc/result.hpp"

namespace qc {

// Names match [A-Za-z0-9_.-]{1,100} and are not "." or "..".
bool is_valid_lock_name(const std::string& name);

// Ok, or an error that quotes the name and says what is allowed.
Status validate_lock_name(const std::string& name);

// --lock-dir DIR, else $QC_LOCK_DIR, else ./.locks.
std::string resolve_lock_dir(const std::optional<std::string>& from_option);

// Creates DIR (and its parents) when missing. Errors name the directory and the reason.
Status ensure_directory(const std::string& dir);

// <dir>/<name>.lock
std::string lock_file_path(const std::string& dir, const std::string& name);

inline constexpr const char* kLockSuffix = ".lock";

}  // namespace qc
