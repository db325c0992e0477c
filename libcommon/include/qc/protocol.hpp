// Protocol v1.0 (docs/protocol.md), as JSON text: requests and replies built, parsed and validated in
// one place for the probe, the responder and qc-launch's heartbeat readiness check.
//
//   request: {"action": str, "req_id": str, "timestamp": number, "payload": object}
//   reply:   {"req_id": str|null, "status": "SUCCESS"|"ERROR"|"PENDING",
//             "timestamp": number, "data": any, "error": str|null}
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace qc::protocol {

inline constexpr const char* kInvalidRequest = "Invalid request structure";

// A fresh request id: "hb-<unix ms>-<8 hex digits>".
std::string new_request_id();

// Whether `text` is a JSON object (what --payload must be).
bool is_json_object(std::string_view text);

// The request, serialized. `payload_json` must be a JSON object's text.
std::string make_request(const std::string& action, const std::string& req_id,
                         std::string_view payload_json);

// The responder's answer to any bytes at all (never throws): SUCCESS with
// {"status": "alive", "service": SERVICE} for HEARTBEAT; ERROR "Invalid request structure"
// for anything that is not a well-typed request (req_id echoed when it is a string);
// ERROR "Unknown action: NAME" otherwise.
std::string respond(std::string_view request, const std::string& service);

// A responder's own actions: given a well-typed request's action and payload (a JSON
// object's text), SUCCESS or ERROR (with `error`), with `data_json` (JSON text) either way;
// nothing to answer as respond() above does (HEARTBEAT, unknown actions).
struct Answer {
  bool success = true;
  std::string data_json = "null";
  std::string error;
};
using Handler = std::function<std::optional<Answer>(const std::string& action, const std::string& payload_json)>;
std::string respond(std::string_view request, const std::string& service, const Handler& handler);

// What a reply said, checked against the request it answers.
struct ReplyCheck {
  enum class Verdict { kSuccess, kNotSuccess, kMismatch, kMalformed };
  Verdict verdict = Verdict::kMalformed;
  std::optional<std::string> status;  // "SUCCESS", "ERROR", "PENDING"
  std::optional<std::string> req_id;
  std::optional<std::string> error;   // the reply's error field
  std::string data_json = "null";     // the reply's data, as JSON text
  std::string problem;                // why it is not a success, for people
};
ReplyCheck check_reply(std::string_view reply, const std::string& expected_req_id);

}  // namespace qc::protocol
