// qc-ps --fleet (qc-ps-fleet, and qc-ps.exe on Windows): every name held in etcd, with its
// holder's host, PID, account and state from the record, its fencing token and its lease's
// time left.
#include <algorithm>
#include <iostream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "ps_tool.hpp"
#include "qc/exit_codes.hpp"
#include "qc/fleet.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "qc/text.hpp"

namespace qc::ps_tool {

void hand_fleet_over(char**) {}  // the fleet is here

int print_fleet(const Options& o) {
  auto settings = resolve_fleet_settings(o.fleet_options, 0);  // listing holds nothing: no stop to fit
  if (!settings) {
    log::error("{}", settings.error().message);
    return exit_code::kUsage;
  }
  EtcdClient client(*settings);
  const std::string locks = settings->prefix + "locks/";
  auto held = client.list(locks);
  if (!held) {
    log::error("{}", held.error().message);
    return exit_code::kUnavailable;
  }
  // The hosts that stand by for a name: <prefix>standby/NAME/HOST (docs/fleet.md).
  const std::string standby = settings->prefix + "standby/";
  auto standing = client.list(standby);
  if (!standing) {
    log::error("{}", standing.error().message);
    return exit_code::kUnavailable;
  }
  std::vector<std::tuple<std::string, FleetHolder, bool>> entries;  // name, holder, standby
  for (const auto& [key, holder] : *held) entries.emplace_back(key.substr(locks.size()), holder, false);
  for (const auto& [key, holder] : *standing) {
    const std::string rest = key.substr(standby.size());
    entries.emplace_back(rest.substr(0, rest.rfind('/')), holder, true);
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  std::vector<std::vector<std::string>> rows{{"NAME", "HOST", "PID", "ACCOUNT", "STATE", "TOKEN", "LEASE_LEFT"}};
  for (const auto& [name, holder, standing_by] : entries) {
    if (!selected(o, name)) continue;
    const auto record = nlohmann::json::parse(holder.record_json, nullptr, false);
    auto text = [&record](const char* k) {
      return record.is_object() && record.contains(k) && record[k].is_string() ? record[k].get<std::string>() : std::string();
    };
    auto left = client.time_to_live(holder.lease);
    const long long lease_left = left ? *left : -1;
    const std::string state = standing_by ? "standby" : text("state").empty() ? "running" : text("state");
    if (o.format == Format::kJson) {
      nlohmann::ordered_json j{{"name", name}, {"fleet", true}, {"host", holder.host}};
      j["pid"] = holder.pid > 0 ? nlohmann::ordered_json(holder.pid) : nlohmann::ordered_json(nullptr);
      j["account"] = text("account").empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text("account"));
      j["state"] = state;
      j["fencing_token"] = standing_by ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(holder.fencing_token);
      j["lease_left_s"] = lease_left >= 0 ? nlohmann::ordered_json(lease_left) : nlohmann::ordered_json(nullptr);
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    } else if (o.format == Format::kPids) {
      if (holder.pid > 0 && !standing_by) std::cout << holder.pid << '\n';
    } else {
      rows.push_back({name, holder.host, holder.pid > 0 ? std::to_string(holder.pid) : "-",
                      text("account").empty() ? "-" : text("account"), state,
                      standing_by ? "-" : std::to_string(holder.fencing_token), lease_left >= 0 ? std::to_string(lease_left) + "s" : "-"});
    }
  }
  if (o.format == Format::kTsv) {
    for (const auto& row : rows) {
      for (std::size_t i = 0; i < row.size(); ++i) std::cout << (i ? "\t" : "") << printable(row[i], true);
      std::cout << '\n';
    }
  } else if (o.format == Format::kTable) {
    if (rows.size() == 1) {
      std::cout << "no name is held in the fleet" << std::endl;
    } else {
      print_columns(std::cout, rows);
    }
  }
  std::cout.flush();
  return exit_code::kOk;
}

}  // namespace qc::ps_tool
