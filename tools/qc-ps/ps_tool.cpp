// qc-ps: the lock directory (and, with --scan, the process table) as a table or a pipe.
#include "ps_tool.hpp"

#include <iostream>

#include "qc/exit_codes.hpp"
#include "qc/lock_table.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "qc/text.hpp"

namespace qc::ps_tool {

bool selected(const Options& o, const std::string& name) {
  if (o.globs.empty()) return true;
  for (const auto& glob : o.globs) {
    if (glob_match(glob, name)) return true;
  }
  return false;
}

namespace {

OutputFormat output_format(Format f) {
  switch (f) {
    case Format::kTsv: return OutputFormat::kTsv;
    case Format::kJson: return OutputFormat::kJson;
    case Format::kPids: return OutputFormat::kPids;
    case Format::kTable: break;
  }
  return OutputFormat::kTable;
}

}  // namespace

int run(const Options& o) {
  if (o.fleet && o.format != Format::kTable) return print_fleet(o);
  const std::string dir = resolve_lock_dir(o.lock_dir);
  auto table = read_lock_directory(dir);
  if (!table) {
    log::error("{}", table.error().message);
    return exit_code::kNoInput;
  }
  for (const auto& problem : table->problems) log::warn("{}", problem);

  std::vector<LockEntry> shown;
  for (auto& entry : table->entries) {
    if (!o.all && entry.state == EntryState::kStale) continue;
    if (selected(o, entry.name)) shown.push_back(entry);
  }
  if (o.scan) {
    auto unmanaged = scan_unmanaged(*o.scan, table->entries);
    if (!unmanaged) {
      log::error("--scan: {}", unmanaged.error().message);
      return exit_code::kUsage;
    }
    for (auto& row : *unmanaged) {
      if (selected(o, row.name)) shown.push_back(std::move(row));
    }
  }

  if (shown.empty() && o.format == Format::kTable) {
    if (!o.fleet) log::info("No active locks.");
  } else {
    render_entries(std::cout, shown, output_format(o.format), std::chrono::system_clock::now());
  }
  if (o.fleet) {
    std::cout << (shown.empty() ? "" : "\n") << "fleet (" << o.fleet_options.etcd << "):" << std::endl;
    if (int rc = print_fleet(o); rc != exit_code::kOk) return rc;
  }
  if (o.check) {
    for (const auto& entry : shown) {
      if (entry.state == EntryState::kDuplicate || entry.state == EntryState::kStale ||
          std::string(shown_state(entry)) == "failed") {
        return exit_code::kNo;
      }
    }
  }
  return exit_code::kOk;
}

}  // namespace qc::ps_tool
