#include "qc/lock_record.hpp"

#include <gtest/gtest.h>

#include <random>

namespace qc {

TEST(LockRecord, RoundTripsEveryKey) {
  LockRecord r;
  r.name = "BRAIN_ATLAS";
  r.pid = 12345;
  r.account = "212000584";
  r.timestamp = "2026-02-11T10:00:00.000+00:00";
  r.host = "gtw";
  r.pid_start = 987654321;
  r.child_pid = 12346;
  r.child_start = 987654399;
  r.command = {"python", "BRAIN_ATLAS.py"};
  r.tool = "qc-lock";
  r.restarts = 2;
  const std::string text = serialize_lock_record(r);
  EXPECT_EQ(text.rfind("{\"name\":\"BRAIN_ATLAS\",\"pid\":12345,\"account\":\"212000584\"", 0), 0u)
      << text;
  auto back = parse_lock_record(text);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->legacy);
  EXPECT_EQ(back->name, r.name);
  EXPECT_EQ(back->pid, r.pid);
  EXPECT_EQ(back->account, r.account);
  EXPECT_EQ(back->pid_start, r.pid_start);
  EXPECT_EQ(back->child_pid, r.child_pid);
  EXPECT_EQ(back->child_start, r.child_start);
  EXPECT_EQ(back->command, r.command);
  EXPECT_EQ(back->tool, r.tool);
  EXPECT_EQ(back->restarts, 2);
}

TEST(LockRecord, NullAccountAndNoChild) {
  LockRecord r;
  r.name = "X";
  r.pid = 1;
  auto back = parse_lock_record(serialize_lock_record(r));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->account);
  EXPECT_FALSE(back->child());
}

TEST(LockRecord, ReadsProcessLockPyFiles) {
  auto r = parse_lock_record(
      R"({"name": "BRAIN_ATLAS", "pid": 19248, "account": "212000584", "timestamp": "2026-02-11T10:00:00.123456", "host": "gtw"})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->legacy);
  EXPECT_EQ(r->pid, 19248);
  EXPECT_EQ(r->host, "gtw");
  auto numeric_account = parse_lock_record(R"({"pid": 7, "account": 113326, "hostname": "h"})");
  ASSERT_TRUE(numeric_account);
  EXPECT_EQ(numeric_account->account, "113326");
  EXPECT_EQ(numeric_account->host, "h");
}

TEST(LockRecord, GarbageIsUnreadableNeverACrash) {
  for (const char* bad : {"", "{", "[]", "null", "{\"pid\":\"12\"}", "{\"pid\":-4}", "{\"pid\":0}",
                          "{\"name\":\"x\",\"pid\":1", "\xff\xfe\x00garbage", "{\"pid\":1e400}"}) {
    EXPECT_FALSE(parse_lock_record(bad)) << bad;
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 300, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    parse_lock_record(bytes);  // must not throw or crash
  }
}

TEST(LockRecord, NonUtf8CommandIsWrittenNotThrown) {
  LockRecord r;
  r.name = "X";
  r.pid = 1;
  r.command = {"caf\xe9.py"};
  const std::string text = serialize_lock_record(r);
  EXPECT_TRUE(parse_lock_record(text));
}

TEST(JoinCommand, QuotesWhatAShellWouldSplit) {
  EXPECT_EQ(join_command({"python", "BRAIN_ATLAS.py"}), "python BRAIN_ATLAS.py");
  EXPECT_EQ(join_command({"sh", "-c", "echo 'hi' there"}), "sh -c 'echo '\\''hi'\\'' there'");
  EXPECT_EQ(join_command({"a", ""}), "a ''");
}

}  // namespace qc
