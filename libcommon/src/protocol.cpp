// Protocol v1.0 with nlohmann/json: strict on what must hold, silent on extra keys.
#include "qc/protocol.hpp"

#include <chrono>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "qc/clock.hpp"
#include "qc/text.hpp"

namespace qc::protocol {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ordered_json reply(const ordered_json& req_id, const char* status, const ordered_json& data,
                   const ordered_json& error) {
  ordered_json r;
  r["req_id"] = req_id;
  r["status"] = status;
  r["timestamp"] = unix_seconds_now();
  r["data"] = data;
  r["error"] = error;
  return r;
}

}  // namespace

std::string new_request_id() {
  static std::mt19937 rng{std::random_device{}()};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  char buf[48];
  std::snprintf(buf, sizeof buf, "hb-%lld-%08x", static_cast<long long>(ms),
                static_cast<unsigned>(rng()));
  return buf;
}

bool is_json_object(std::string_view text) {
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) return false;
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  return !j.is_discarded() && j.is_object();
}

std::string make_request(const std::string& action, const std::string& req_id,
                         std::string_view payload_json) {
  ordered_json r;
  r["action"] = action;
  r["req_id"] = req_id;
  r["timestamp"] = unix_seconds_now();
  json payload = json::parse(payload_json.begin(), payload_json.end(), nullptr, false);
  r["payload"] = payload.is_object() ? payload : json::object();
  return dump(r);
}

std::string respond(std::string_view request, const std::string& service) {
  return respond(request, service, nullptr);
}

std::string respond(std::string_view request, const std::string& service, const Handler& handler) {
  if (json_nesting_depth(request, kMaxJsonDepth) > kMaxJsonDepth) {
    return dump(reply(nullptr, "ERROR", nullptr, kInvalidRequest));
  }
  const json j = json::parse(request.begin(), request.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return dump(reply(nullptr, "ERROR", nullptr, kInvalidRequest));
  }
  const auto req_id = j.find("req_id");
  const ordered_json echoed =
      req_id != j.end() && req_id->is_string() ? ordered_json(*req_id) : ordered_json(nullptr);
  const auto action = j.find("action");
  const auto timestamp = j.find("timestamp");
  const auto payload = j.find("payload");
  if (action == j.end() || !action->is_string() || req_id == j.end() || !req_id->is_string() ||
      timestamp == j.end() || !timestamp->is_number() || payload == j.end() ||
      !payload->is_object()) {
    return dump(reply(echoed, "ERROR", nullptr, kInvalidRequest));
  }
  const std::string name = action->get<std::string>();
  if (handler) {
    if (auto answer = handler(name, payload->dump(-1, ' ', false, json::error_handler_t::replace))) {
      ordered_json data = ordered_json::parse(answer->data_json, nullptr, false);
      if (data.is_discarded()) data = nullptr;
      if (!answer->success) return dump(reply(echoed, "ERROR", data, answer->error));
      return dump(reply(echoed, "SUCCESS", data, nullptr));
    }
  }
  if (name == "HEARTBEAT") {
    ordered_json data;
    data["status"] = "alive";
    data["service"] = service;
    return dump(reply(echoed, "SUCCESS", data, nullptr));
  }
  return dump(reply(echoed, "ERROR", nullptr, "Unknown action: " + name));
}

ReplyCheck check_reply(std::string_view text, const std::string& expected_req_id) {
  ReplyCheck c;
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    c.problem = "malformed reply: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return c;
  }
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    c.problem = "malformed reply: not JSON";
    return c;
  }
  if (!j.is_object()) {
    c.problem = std::string("malformed reply: a JSON ") + j.type_name() + ", not an object";
    return c;
  }
  const auto status = j.find("status");
  if (status == j.end() || !status->is_string()) {
    c.problem = "malformed reply: no \"status\" string";
    return c;
  }
  c.status = status->get<std::string>();
  if (*c.status != "SUCCESS" && *c.status != "ERROR" && *c.status != "PENDING") {
    c.problem = "malformed reply: status \"" + *c.status + "\" is not SUCCESS, ERROR or PENDING";
    return c;
  }
  if (auto ts = j.find("timestamp"); ts != j.end() && !ts->is_number()) {
    c.problem = "malformed reply: \"timestamp\" is not a number";
    return c;
  }
  if (auto data = j.find("data"); data != j.end()) c.data_json = data->dump(-1, ' ', false, json::error_handler_t::replace);
  if (auto error = j.find("error"); error != j.end()) {
    if (error->is_string()) {
      c.error = error->get<std::string>();
    } else if (!error->is_null()) {
      c.problem = "malformed reply: \"error\" is neither a string nor null";
      return c;
    }
  }
  const auto req_id = j.find("req_id");
  if (req_id != j.end() && req_id->is_string()) c.req_id = req_id->get<std::string>();
  if (!c.req_id || *c.req_id != expected_req_id) {
    c.verdict = ReplyCheck::Verdict::kMismatch;
    c.problem = "req_id mismatch: sent " + expected_req_id + ", got " +
                (c.req_id ? *c.req_id : std::string(req_id == j.end() ? "none" : req_id->dump()));
    return c;
  }
  if (*c.status != "SUCCESS") {
    c.verdict = ReplyCheck::Verdict::kNotSuccess;
    c.problem = *c.status + (c.error ? ": " + *c.error : std::string());
    return c;
  }
  c.verdict = ReplyCheck::Verdict::kSuccess;
  return c;
}

}  // namespace qc::protocol
