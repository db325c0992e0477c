#include "qc/clock.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace qc {

TEST(Iso8601, FormatHasMillisecondsAndAColonOffset) {
  const std::string now = iso8601_now();
  EXPECT_TRUE(std::regex_match(
      now, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)")))
      << now;
}

TEST(Iso8601, RoundTripsToTheMillisecond) {
  using namespace std::chrono;
  const WallTime t = system_clock::time_point(milliseconds(1770804000123));
  auto parsed = parse_iso8601(format_iso8601(t));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(duration_cast<milliseconds>(parsed->time_since_epoch()).count(), 1770804000123);
}

TEST(Iso8601, ReadsOffsetsZuluAndPythonIsoformat) {
  using namespace std::chrono;
  auto ms = [](const std::string& s) {
    auto t = parse_iso8601(s);
    return t ? duration_cast<milliseconds>(t->time_since_epoch()).count() : -1;
  };
  EXPECT_EQ(ms("2026-02-11T10:00:00.123+00:00"), 1770804000123);
  EXPECT_EQ(ms("2026-02-11T10:00:00.123Z"), 1770804000123);
  EXPECT_EQ(ms("2026-02-11T11:00:00.123+01:00"), 1770804000123);
  EXPECT_EQ(ms("2026-02-11T11:00:00.123456+0100"), 1770804000123);
  EXPECT_GT(ms("2026-02-11T10:00:00.123456"), 0);  // local time, as Python writes it
  for (const char* bad : {"", "2026-02-11", "2026-13-01T00:00:00", "2026-02-11T10:00:00+", "garbage",
                          "2026-02-11T10:00:00.+00:00"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
}

TEST(Iso8601, AYearBeyondTheClockIsRefusedNotOverflowed) {
  // Regression: fuzz_lock_record found 4052-02-11T11:00:00.123+01:00 overflowing
  // system_clock's nanoseconds (signed overflow, undefined behaviour).
  EXPECT_FALSE(parse_iso8601("4052-02-11T11:00:00.123+01:00"));
  EXPECT_FALSE(parse_iso8601("9999-12-31T23:59:59"));
  EXPECT_FALSE(parse_iso8601("0001-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_iso8601("2200-01-01T00:00:00Z"));
}

TEST(Duration, IsShortAndHuman) {
  using std::chrono::seconds;
  EXPECT_EQ(format_duration(seconds(45)), "45s");
  EXPECT_EQ(format_duration(seconds(723)), "12m03s");
  EXPECT_EQ(format_duration(seconds(3 * 3600 + 300)), "3h05m");
  EXPECT_EQ(format_duration(seconds(2 * 86400 + 4 * 3600)), "2d04h");
  EXPECT_EQ(format_duration(seconds(-5)), "0s");
}

}  // namespace qc
