// Wall-clock formatting for humans and files; steady_clock for every deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace qc {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// ISO 8601 in local time with milliseconds and a ±HH:MM offset: 2026-02-11T10:00:00.123+01:00.
std::string format_iso8601(WallTime when);
std::string iso8601_now();

// Parses what format_iso8601 writes, plus what Python's isoformat() writes (any number of
// fraction digits; "Z", "±HH:MM", "±HHMM" or no offset, which means local time).
std::optional<WallTime> parse_iso8601(const std::string& text);

// Unix seconds with a fraction, as Protocol v1.0 timestamps are.
double unix_seconds_now();

// "45s", "12m03s", "3h05m", "2d04h".
std::string format_duration(std::chrono::seconds elapsed);

// A deadline `seconds` from now; non-positive means now.
SteadyTime deadline_after(double seconds);

// The earlier of two optional deadlines (nullopt: none).
inline std::optional<SteadyTime> earliest(std::optional<SteadyTime> a, std::optional<SteadyTime> b) {
  if (!a) return b;
  if (!b) return a;
  return *b < *a ? b : a;
}

}  // namespace qc
