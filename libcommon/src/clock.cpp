// ISO 8601 timestamps (docs/conventions.md) and deadlines on steady_clock.
#include "qc/clock.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "platform.hpp"

namespace qc {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool read_digits(const std::string& s, std::size_t& pos, std::size_t count, int& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    out = out * 10 + (c - '0');
  }
  pos += count;
  return true;
}

bool expect(const std::string& s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::string format_iso8601(WallTime when) {
  using namespace std::chrono;
  const auto ms_total = duration_cast<milliseconds>(when.time_since_epoch()).count();
  long long secs = ms_total / 1000;
  long long ms = ms_total % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  std::tm tm{};
  long offset_s = 0;
  if (!platform::local_time(static_cast<std::time_t>(secs), tm, offset_s)) return "";
  const char sign = offset_s < 0 ? '-' : '+';
  const long off = std::labs(offset_s) / 60;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lld%c%02ld:%02ld",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                ms, sign, off / 60, off % 60);
  return buf;
}

std::string iso8601_now() { return format_iso8601(std::chrono::system_clock::now()); }

std::optional<WallTime> parse_iso8601(const std::string& text) {
  std::size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, month) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') ||
      !read_digits(text, pos, 2, minute) || !expect(text, pos, ':') ||
      !read_digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits on libstdc++: it ends in 2262. A timestamp
  // outside these years is garbage anyway (found by fuzz_lock_record).
  if (year < 1900 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  double fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    double scale = 0.1;
    std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      fraction += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  std::optional<long> offset_s;
  if (pos < text.size()) {
    if (text[pos] == 'Z') {
      offset_s = 0;
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      const int sign = text[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om;
      if (!read_digits(text, pos, 2, oh)) return std::nullopt;
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (!read_digits(text, pos, 2, om)) return std::nullopt;
      offset_s = sign * (oh * 3600L + om * 60L);
    } else {
      return std::nullopt;
    }
  }
  if (pos != text.size()) return std::nullopt;

  long long epoch_s;
  if (offset_s) {
    epoch_s = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
                  86400LL +
              hour * 3600LL + minute * 60LL + second - *offset_s;
  } else {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    const std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    epoch_s = t;
  }
  using namespace std::chrono;
  return WallTime(duration_cast<system_clock::duration>(
      seconds(epoch_s) + milliseconds(static_cast<long long>(std::llround(fraction * 1000)))));
}

double unix_seconds_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string format_duration(std::chrono::seconds elapsed) {
  long long s = elapsed.count();
  if (s < 0) s = 0;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
  }
  return buf;
}

SteadyTime deadline_after(double seconds) {
  const auto now = std::chrono::steady_clock::now();
  if (!(seconds > 0)) return now;
  // Cap absurd values so the arithmetic cannot overflow (about 30 years).
  if (seconds > 1e9) seconds = 1e9;
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(seconds));
}

}  // namespace qc
