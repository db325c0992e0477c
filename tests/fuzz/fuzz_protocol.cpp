// libFuzzer: Protocol v1.0 requests (the responder's side) and replies (the probe's side).
// The responder must answer anything with a well-formed reply; the reply checker must judge
// anything without crashing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "qc/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string reply = qc::protocol::respond(text, "fuzz");
  const auto j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("status") || !j.contains("req_id")) std::abort();
  const auto check = qc::protocol::check_reply(reply, "expected");
  if (check.verdict == qc::protocol::ReplyCheck::Verdict::kMalformed) std::abort();  // ours always parse
  qc::protocol::check_reply(text, "expected");
  return 0;
}
