#include "qc/log.hpp"

#include <gtest/gtest.h>

namespace qc {

TEST(LogFormat, FormatsTextAndNumbersWithBraces) {
  EXPECT_EQ(log::format("{} is held by PID {} ({})", {"A", 12345, std::string("x")}),
            "A is held by PID 12345 (x)");
  EXPECT_EQ(log::format("{} {} {}", {std::uint64_t{18446744073709551615u}, -3, 1.5}),
            "18446744073709551615 -3 1.5");
}

TEST(LogFormat, ABadFormatStringKeepsTheMessage) {
  EXPECT_EQ(log::format("unbalanced { brace", {1}), "unbalanced { brace");
  EXPECT_EQ(log::format("{} {}", {1}), "{} {}");
}

TEST(LogFormat, BadBytesNeverReachTheTerminal) {
  testing::internal::CaptureStderr();
  log::error("bad name {} and caf\xc3\xa9", std::string("\xff\x01x"));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("bad name \\xff\\x01x and caf\xc3\xa9"), std::string::npos) << err;
}

}  // namespace qc
