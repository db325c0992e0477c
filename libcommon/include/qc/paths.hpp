// Paths as qc carries them: UTF-8 in std::string, on Windows too (every .exe runs with UTF-8
// as its active code page: cmake/windows/utf8.manifest, docs/install.md). std::filesystem
// takes and gives them only through these two: on Windows its own narrow conversions are
// not UTF-8 (a path through fs::path(std::string) loses "Jürgen" and every Cyrillic letter).
#pragma once

#include <filesystem>
#include <string>

namespace qc {

inline std::filesystem::path to_path(const std::string& utf8) { return std::filesystem::u8path(utf8); }
inline std::string path_string(const std::filesystem::path& p) { return p.u8string(); }

}  // namespace qc
