// qc-heartbeat: Protocol v1.0 probe and responder over ZeroMQ (docs/protocol.md).
#include <cstdlib>
#include <iostream>

#include "heartbeat_tool.hpp"
#include "qc/cli.hpp"
#include "qc/log.hpp"

namespace {

constexpr const char* kFooter = R"(Sends {"action", "req_id", "timestamp", "payload"} on a REQ socket and checks the reply:
it must arrive within --timeout, parse, echo the req_id and say SUCCESS. Each attempt past
the first (--retries) uses a fresh socket (the Lazy Pirate pattern); sockets close with
linger 0, so the process never outlives (retries+1) x timeout by more than a second.
One line per probe on stdout, starting with the result:
  OK tcp://127.0.0.1:5555 HEARTBEAT rtt=0.21ms service="MT5 Gateway"

--serve ENDPOINT answers HEARTBEAT with {"status": "alive", "service": SERVICE}, anything that
is not a well-typed request with ERROR "Invalid request structure", other actions with
ERROR "Unknown action: NAME", and keeps serving whatever arrives until SIGINT/SIGTERM.
--sub ENDPOINT is OK when the PUB channel delivers a message within --timeout.

Exit status (monitoring-plugin codes; the worst probe counts): 0 OK; 1 WARNING (slower than
--warn); 2 CRITICAL (no reply, refused, ERROR, req_id mismatch, malformed reply); 3 UNKNOWN
(bad arguments).

Examples:
  qc-heartbeat tcp://172.19.141.255:5555
  qc-heartbeat -t 2 -r 2 -w 100 --json
  qc-heartbeat --serve tcp://127.0.0.1:5555 --service "MT5 Gateway"
  qc-heartbeat --sub tcp://127.0.0.1:5556 -t 10)";

}  // namespace

int main(int argc, char** argv) {
  qc::log::init("qc-heartbeat");
  qc::heartbeat_tool::Options o;
  CLI::App app{"Prove a ZeroMQ Protocol v1.0 service alive, or be one.", "qc-heartbeat"};
  app.footer(kFooter);
  qc::cli::add_version(app, "qc-heartbeat");
  std::optional<std::string> endpoint;
  app.add_option("ENDPOINT", endpoint, "Where to probe (default $QC_GATEWAY, else tcp://127.0.0.1:5555)");
  app.add_option("-t,--timeout", o.timeout_s, "Seconds to wait for each reply (default 5)")
      ->check(qc::cli::positive_seconds());
  app.add_option("-r,--retries", o.retries, "Extra attempts, each on a fresh socket (default 0)")
      ->check(CLI::Range(0, 1000));
  app.add_option("-c,--count", o.count, "Probes to send (default 1; 0: until interrupted)")
      ->check(qc::cli::count());
  app.add_option("-i,--interval", o.interval_s, "Seconds between probes (default 1)")
      ->check(qc::cli::seconds());
  app.add_option("-w,--warn", o.warn_ms, "A reply slower than this many ms is WARNING")
      ->check(qc::cli::number_at_least(0, true, "a number of milliseconds (0 or more)"));
  app.add_option("--action", o.action, "The action to send (default HEARTBEAT)");
  app.add_option("--payload", o.payload, "The payload, a JSON object (default {})");
  app.add_flag("--json", o.json, "One JSON object per probe: endpoint, action, req_id, status, "
                                 "rtt_ms, data, error, result");
  app.add_flag("!--no-pin", o.pin, "Let the scheduler move the probe's threads between CPUs (by "
                                   "default they stay on the CPU it started on, for shorter round trips)");
  auto* serve = app.add_option("--serve", o.serve, "Answer Protocol v1.0 requests on ENDPOINT");
  app.add_option("--service", o.service, "The service name --serve reports (default qc-heartbeat)");
  auto* sub = app.add_option("--sub", o.sub, "Check that a PUB channel delivers a message");
  serve->excludes(sub);
  if (auto code = qc::cli::parse(app, argc, argv)) {
    if (*code == qc::exit_code::kOk) return *code;
    std::cout << "UNKNOWN bad arguments (see qc-heartbeat --help)" << std::endl;
    return qc::exit_code::plugin::kUnknown;
  }
  if (endpoint) {
    o.endpoint = *endpoint;
  } else if (const char* env = std::getenv("QC_GATEWAY"); env != nullptr && *env != '\0') {
    o.endpoint = env;
  } else {
    o.endpoint = "tcp://127.0.0.1:5555";
  }
  if (auto problem = qc::heartbeat_tool::validate(o)) {
    qc::log::error("{}", *problem);
    std::cout << "UNKNOWN " << *problem << std::endl;
    return qc::exit_code::plugin::kUnknown;
  }
  return qc::heartbeat_tool::run(o);
}
