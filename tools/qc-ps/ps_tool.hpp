// qc-ps: what is running (docs/tools.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qc::ps_tool {

enum class Format { kTable, kTsv, kJson, kPids };

struct Options {
  std::vector<std::string> globs;
  bool all = false;
  Format format = Format::kTable;
  std::optional<std::string> scan;
  bool check = false;
  std::optional<std::string> lock_dir;
};

int run(const Options& options);

}  // namespace qc::ps_tool
