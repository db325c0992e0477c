// qc-launch --status|--start|--stop|--restart|--reload: a client of a running
// orchestrator's control channel (docs/control.md). The orchestrator is found through its
// lock file: held, written by qc-launch, with a "control" endpoint.
#include "launch_tool.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "qc/clock.hpp"
#include "qc/control.hpp"
#include "qc/exit_codes.hpp"
#include "qc/heartbeat.hpp"
#include "qc/lock_table.hpp"
#include "qc/names.hpp"
#include "qc/log.hpp"
#include "qc/text.hpp"

namespace qc::launch {
namespace {

using json = nlohmann::ordered_json;

void print_status(const json& data) {
  std::vector<std::vector<std::string>> rows{{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "ACCOUNT"}};
  auto text = [](const json& v) -> std::string {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
  };
  if (!data.is_object() || !data.contains("programs") || !data["programs"].is_array()) return;
  for (const auto& p : data["programs"]) {
    if (!p.is_object()) continue;
    std::string uptime = "-";
    if (p.contains("uptime_s") && p["uptime_s"].is_number_integer()) {
      uptime = format_duration(std::chrono::seconds(p["uptime_s"].get<long long>()));
    }
    rows.push_back({printable(text(p.value("name", json()))), printable(text(p.value("state", json()))),
                    text(p.value("child_pid", json())), uptime, text(p.value("restarts", json())),
                    text(p.value("last_status", json())), printable(text(p.value("account", json())))});
  }
  print_columns(std::cout, rows);
}

}  // namespace

int control(const Options& o) {
  if (o.control_action == "RELOAD") {  // an invalid config is refused here already: nothing is sent
    auto loaded = load_launch_plan(o.config, o.load);
    if (auto* failure = std::get_if<ConfigFailure>(&loaded)) {
      log::error("{}; nothing was reloaded", failure->message);
      return failure->exit_code;
    }
  }
  const OrchestratorAddress where = orchestrator_address(o.config, o.load);
  const std::string lock = lock_file_path(where.lock_dir, where.name);
  auto entry = read_lock_entry(where.lock_dir, where.name);
  if (!entry || !entry->held() || !entry->record || entry->record->tool != "qc-launch") {
    log::error("no orchestrator runs: {} is not held by qc-launch (start one with: qc-launch {})", lock, o.config);
    return exit_code::kUnavailable;
  }
  if (!entry->record->control) {
    log::error("{} (PID {}) has no control channel (an older qc-launch, or it could not open one: see its log)",
               where.name, entry->record->pid);
    return exit_code::kUnavailable;
  }
  json payload = json::object();
  if (!o.control_name.empty()) payload["name"] = o.control_name;
  if (control_needs_secret()) {
    auto secret = read_control_secret(where.lock_dir, where.name);
    if (!secret) {
      log::error("{}", secret.error().message);
      return exit_code::kNo;
    }
    payload["secret"] = *secret;
  }
  heartbeat::ProbeOptions probe;
  probe.endpoint = *entry->record->control;
  probe.action = o.control_action;
  probe.payload_json = payload.dump();
  probe.timeout_s = o.control_timeout_s;
  heartbeat::Client client;
  const auto report = client.probe(probe, kInvalidHandle);
  const json data = json::parse(report.data_json, nullptr, false);
  if (!report.status) {
    log::error("{} (PID {}) did not answer on {}: {}", where.name, entry->record->pid, probe.endpoint, report.problem);
    return exit_code::kUnavailable;
  }
  if (o.json) std::cout << (data.is_discarded() ? json(nullptr) : data).dump() << std::endl;
  if (report.outcome != heartbeat::Outcome::kOk) {
    log::error("{} refused: {}", o.control_action, report.error ? *report.error : report.problem);
    if (data.is_object() && data.contains("exit_code") && data["exit_code"].is_number_integer()) {
      return data["exit_code"].get<int>();
    }
    return exit_code::kNo;
  }
  if (!o.json) {
    if (o.control_action == "STATUS") {
      print_status(data);
    } else if (data.is_object() && data.contains("summary") && data["summary"].is_string()) {
      log::info("{}", data["summary"].get<std::string>());
    } else if (data.is_object() && data.contains("state") && data["state"].is_string()) {
      log::info("{}: {}", o.control_name, data["state"].get<std::string>());
    }
  }
  return exit_code::kOk;
}

}  // namespace qc::launch
