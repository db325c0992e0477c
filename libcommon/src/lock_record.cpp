// Reading and writing lock-file contents. Readers tolerate any bytes at all.
#include "qc/lock_record.hpp"

#include <nlohmann/json.hpp>

#include "qc/text.hpp"

namespace qc {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::optional<std::int64_t> as_int(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
  return std::nullopt;
}

std::optional<std::uint64_t> as_uint(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(it->get<std::int64_t>());
  }
  return std::nullopt;
}

std::string as_string(const json& object, const char* key) {
  auto it = object.find(key);
  if (it != object.end() && it->is_string()) return it->get<std::string>();
  return "";
}

bool needs_quotes(const std::string& arg) {
  if (arg.empty()) return true;
  for (char c : arg) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '\\' || c == '$' ||
        c == '`' || c == '*' || c == '?' || c == ';' || c == '&' || c == '|' || c == '<' ||
        c == '>' || c == '(' || c == ')') {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<ProcessId> LockRecord::child() const {
  if (!child_pid || !child_start) return std::nullopt;
  return ProcessId{*child_pid, *child_start};
}

LockRecord own_lock_record(const std::string& name, const std::string& tool,
                           const std::vector<std::string>& command,
                           const std::optional<std::string>& account) {
  LockRecord r;
  r.name = name;
  r.pid = current_process().pid;
  r.pid_start = current_process().start;
  r.account = account;
  r.timestamp = iso8601_now();
  r.host = host_name();
  r.command = command;
  r.tool = tool;
  return r;
}

std::string serialize_lock_record(const LockRecord& r) {
  ordered_json j;
  j["name"] = r.name;
  j["pid"] = r.pid;
  j["account"] = r.account ? ordered_json(*r.account) : ordered_json(nullptr);
  j["timestamp"] = r.timestamp;
  j["host"] = r.host;
  j["version"] = r.version;
  j["pid_start"] = r.pid_start;
  j["child_pid"] = r.child_pid ? ordered_json(*r.child_pid) : ordered_json(nullptr);
  j["child_start"] = r.child_start ? ordered_json(*r.child_start) : ordered_json(nullptr);
  j["command"] = r.command;
  j["tool"] = r.tool;
  j["restarts"] = r.restarts;
  j["state"] = r.state.empty() ? "running" : r.state;
  j["run_started"] = r.run_started ? ordered_json(*r.run_started) : ordered_json(nullptr);
  j["last_status"] = r.last_status ? ordered_json(*r.last_status) : ordered_json(nullptr);
  j["control"] = r.control ? ordered_json(*r.control) : ordered_json(nullptr);
  j["fencing_token"] = r.fencing_token ? ordered_json(*r.fencing_token) : ordered_json(nullptr);
  // Command lines may hold bytes that are not UTF-8; replace them rather than fail.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<LockRecord> parse_lock_record(std::string_view text) {
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) return std::nullopt;
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto pid = as_int(j, "pid");
  if (!pid || *pid <= 0) return std::nullopt;

  LockRecord r;
  r.pid = *pid;
  r.name = as_string(j, "name");
  r.timestamp = as_string(j, "timestamp");
  r.host = as_string(j, "host");
  if (r.host.empty()) r.host = as_string(j, "hostname");
  if (auto it = j.find("account"); it != j.end()) {
    if (it->is_string()) {
      r.account = it->get<std::string>();
    } else if (it->is_number_integer() || it->is_number_unsigned()) {
      r.account = it->dump();
    }
  }

  const auto version = as_int(j, "version");
  r.legacy = !version.has_value();
  if (r.legacy) return r;

  r.version = static_cast<int>(*version);
  r.pid_start = as_uint(j, "pid_start").value_or(0);
  r.child_pid = as_int(j, "child_pid");
  r.child_start = as_uint(j, "child_start");
  if (auto it = j.find("command"); it != j.end() && it->is_array()) {
    for (const auto& arg : *it) {
      if (arg.is_string()) r.command.push_back(arg.get<std::string>());
    }
  }
  r.tool = as_string(j, "tool");
  r.restarts = static_cast<int>(as_int(j, "restarts").value_or(0));
  r.state = as_string(j, "state");
  if (auto it = j.find("run_started"); it != j.end() && it->is_string()) r.run_started = it->get<std::string>();
  if (auto status = as_int(j, "last_status"); status && *status >= 0 && *status <= 255) {
    r.last_status = static_cast<int>(*status);
  }
  if (auto it = j.find("control"); it != j.end() && it->is_string()) r.control = it->get<std::string>();
  r.fencing_token = as_int(j, "fencing_token");
  return r;
}

bool is_live_legacy_holder(const LockRecord& record) {
  if (!record.legacy || !is_running_python(record.pid)) return false;
  const auto taken = parse_iso8601(record.timestamp);
  if (!taken) return true;  // no usable time: the old rule alone
  const auto info = inspect_process(record.pid);
  const auto started = info ? start_time_of(info->start) : std::nullopt;
  // A second of slack for the clock-tick granularity of start times.
  return !started || *started <= *taken + std::chrono::seconds(1);
}

std::string describe_processes(const std::vector<ProcessInfo>& processes) {
  std::string out;
  for (const auto& p : processes) {
    if (!out.empty()) out += ", ";
    out += "PID " + std::to_string(p.pid) + " (" +
           (p.command_line.empty() ? p.name : join_command(p.command_line)) + ")";
  }
  return out;
}

std::string join_command(const std::vector<std::string>& command) {
  std::string out;
  for (const auto& arg : command) {
    if (!out.empty()) out += ' ';
    if (!needs_quotes(arg)) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

}  // namespace qc
