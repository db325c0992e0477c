// qc-heartbeat: Protocol v1.0 probe, responder and PUB check (docs/protocol.md).
#pragma once

#include <optional>
#include <string>

namespace qc::heartbeat_tool {

struct Options {
  std::string endpoint;  // resolved: argument, else $QC_GATEWAY, else tcp://127.0.0.1:5555
  double timeout_s = 5;
  int retries = 0;
  long long count = 1;  // 0: until interrupted
  double interval_s = 1;
  std::optional<double> warn_ms;
  std::string action = "HEARTBEAT";
  std::string payload = "{}";
  bool json = false;
  bool pin = true;  // probes keep their thread and ZeroMQ's I/O thread on one CPU
  std::optional<std::string> serve;
  std::string service = "qc-heartbeat";
  std::optional<std::string> sub;
};

// Checks what the parser cannot; returns a message for UNKNOWN (3) or nothing.
std::optional<std::string> validate(const Options& options);

int run(const Options& options);

}  // namespace qc::heartbeat_tool
