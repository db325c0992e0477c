#include "qc/protocol.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace qc::protocol {
namespace {

using json = nlohmann::json;

TEST(Protocol, ARequestHasTheFourTypedFields) {
  const json r = json::parse(make_request("HEARTBEAT", "hb-1", "{}"));
  EXPECT_EQ(r["action"], "HEARTBEAT");
  EXPECT_EQ(r["req_id"], "hb-1");
  EXPECT_TRUE(r["timestamp"].is_number_float());
  EXPECT_TRUE(r["payload"].is_object());
}

TEST(Protocol, HeartbeatIsAnsweredAlive) {
  const json r = json::parse(respond(make_request("HEARTBEAT", "hb-7", "{}"), "MT5 Gateway"));
  EXPECT_EQ(r["req_id"], "hb-7");
  EXPECT_EQ(r["status"], "SUCCESS");
  EXPECT_EQ(r["data"], json({{"status", "alive"}, {"service", "MT5 Gateway"}}));
  EXPECT_TRUE(r["error"].is_null());
  EXPECT_TRUE(r["timestamp"].is_number());
}

TEST(Protocol, TheSeedsFirstRequestIsAnInvalidStructure) {
  // The gateway report's first attempt: no req_id and no payload.
  const json r = json::parse(respond(R"({"action": "HEARTBEAT", "timestamp": 1767115660.77})", "g"));
  EXPECT_EQ(r["status"], "ERROR");
  EXPECT_EQ(r["error"], "Invalid request structure");
  EXPECT_TRUE(r["req_id"].is_null());
}

TEST(Protocol, IllTypedFieldsAreInvalidAndAStringReqIdIsEchoed) {
  for (const char* bad : {R"({"action": 1, "req_id": "x", "timestamp": 1, "payload": {}})",
                          R"({"action": "HEARTBEAT", "req_id": "x", "timestamp": "1", "payload": {}})",
                          R"({"action": "HEARTBEAT", "req_id": "x", "timestamp": 1, "payload": []})",
                          R"({"action": "HEARTBEAT", "req_id": "x", "timestamp": 1})"}) {
    const json r = json::parse(respond(bad, "g"));
    EXPECT_EQ(r["error"], "Invalid request structure") << bad;
    EXPECT_EQ(r["req_id"], "x") << bad;
  }
  const json numeric_id = json::parse(respond(R"({"action": "H", "req_id": 5, "timestamp": 1, "payload": {}})", "g"));
  EXPECT_TRUE(numeric_id["req_id"].is_null());
  for (const char* garbage : {"", "[]", "null", "\"x\"", "{", "\xff\xfe"}) {
    EXPECT_EQ(json::parse(respond(garbage, "g"))["error"], "Invalid request structure") << garbage;
  }
}

TEST(Protocol, AnUnknownActionIsNamed) {
  const json r = json::parse(respond(make_request("FOO", "r", "{}"), "g"));
  EXPECT_EQ(r["status"], "ERROR");
  EXPECT_EQ(r["error"], "Unknown action: FOO");
  EXPECT_EQ(r["req_id"], "r");
}

TEST(Protocol, TimestampIsAnyNumber) {
  const json r = json::parse(respond(R"({"action": "HEARTBEAT", "req_id": "i", "timestamp": 17, "payload": {}})", "g"));
  EXPECT_EQ(r["status"], "SUCCESS");
}

TEST(Protocol, RandomBytesNeverThrow) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 200, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(json::parse(respond(bytes, "g"))["status"], "ERROR");
    check_reply(bytes, "x");
  }
}

TEST(Protocol, DeepNestingIsRefusedBeforeAnythingRecurses) {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_EQ(json::parse(respond(deep, "g"))["error"], "Invalid request structure");
  const std::string deep_data = R"({"req_id":"a","status":"SUCCESS","data":)" + deep + "}";
  auto check = check_reply(deep_data, "a");
  EXPECT_EQ(check.verdict, ReplyCheck::Verdict::kMalformed);
  EXPECT_NE(check.problem.find("nested deeper"), std::string::npos);
  // Brackets inside strings do not count.
  const std::string in_string = R"({"req_id":"a","status":"SUCCESS","data":")" + std::string(10000, '[') + R"("})";
  EXPECT_EQ(check_reply(in_string, "a").verdict, ReplyCheck::Verdict::kSuccess);
}

TEST(ReplyCheck, SuccessNeedsTheSameReqId) {
  const std::string ok = respond(make_request("HEARTBEAT", "a", "{}"), "g");
  EXPECT_EQ(check_reply(ok, "a").verdict, ReplyCheck::Verdict::kSuccess);
  auto mismatch = check_reply(ok, "b");
  EXPECT_EQ(mismatch.verdict, ReplyCheck::Verdict::kMismatch);
  EXPECT_NE(mismatch.problem.find("sent b, got a"), std::string::npos);
}

TEST(ReplyCheck, ErrorAndMalformedRepliesAreNotSuccess) {
  auto error = check_reply(respond("x", "g"), "a");
  EXPECT_NE(error.verdict, ReplyCheck::Verdict::kSuccess);
  auto err2 = check_reply(respond(make_request("FOO", "a", "{}"), "g"), "a");
  EXPECT_EQ(err2.verdict, ReplyCheck::Verdict::kNotSuccess);
  EXPECT_EQ(err2.problem, "ERROR: Unknown action: FOO");
  EXPECT_EQ(check_reply("not json", "a").verdict, ReplyCheck::Verdict::kMalformed);
  EXPECT_EQ(check_reply("[1,2]", "a").problem, "malformed reply: a JSON array, not an object");
  EXPECT_EQ(check_reply(R"({"req_id":"a","status":"MAYBE"})", "a").verdict,
            ReplyCheck::Verdict::kMalformed);
  EXPECT_EQ(check_reply(R"({"req_id":"a","status":"PENDING","timestamp":1,"data":null,"error":null})", "a").verdict,
            ReplyCheck::Verdict::kNotSuccess);
}

}  // namespace
}  // namespace qc::protocol
