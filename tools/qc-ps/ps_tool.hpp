// qc-ps: what is running (docs/tools.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qc/fleet_hold.hpp"

namespace qc::ps_tool {

enum class Format { kTable, kTsv, kJson, kPids };

struct Options {
  std::vector<std::string> globs;
  bool all = false;
  Format format = Format::kTable;
  std::optional<std::string> scan;
  bool check = false;
  std::optional<std::string> lock_dir;
  bool fleet = false;         // --fleet: every name held in the cluster too (docs/fleet.md)
  FleetOptions fleet_options;  // --etcd or $QC_ETCD_ENDPOINTS
};

int run(const Options& options);
// Whether NAME is one the NAME-GLOBs ask for (all, without any).
bool selected(const Options& options, const std::string& name);

// qc-ps stays a static binary free of libcurl: --fleet is handed over to qc-ps-fleet, beside
// it (fleet_handoff.cpp); qc-ps-fleet, the same tool linked with the fleet, goes on
// (fleet_list.cpp).
void hand_fleet_over(char** argv);
// The fleet's names (after the local table in table form; alone with --tsv, --json, -q):
// 0, or 69 when no etcd member answers, 64 for a bad --etcd.
int print_fleet(const Options& options);

}  // namespace qc::ps_tool
