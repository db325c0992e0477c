// Network checks for readiness: a TCP connect that a cancel handle can interrupt.
#pragma once

#include <string>

#include "qc/native_handle.hpp"

namespace qc {

// Splits "HOST:PORT" (or "[v6]:PORT"); false when it is not that shape.
bool split_host_port(const std::string& text, std::string& host, std::string& port);

enum class ProbeOutcome { kSucceeded, kFailed, kCancelled };

// Connects to HOST:PORT within `timeout_ms`, giving up early when `cancel` becomes
// readable. On failure `why` says what went wrong ("Connection refused").
ProbeOutcome tcp_connect_probe(const std::string& host, const std::string& port, int timeout_ms,
                               NativeHandle cancel, std::string& why);

// Waits up to `timeout_ms` for `cancel` to become readable; true when it did.
bool wait_cancelled(NativeHandle cancel, int timeout_ms);

}  // namespace qc
