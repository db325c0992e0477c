// A fleet name as the tools and the engine runner hold it (docs/fleet.md), behind an
// interface, so that what includes this needs no libcurl: qc-lock stays a static binary and
// the engine's tests can use a fake. The real one is FleetLock (fleet.hpp, qc_common_fleet).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "qc/clock.hpp"
#include "qc/native_handle.hpp"

namespace qc {

// The fleet options of a tool, as given (--etcd and the rest; fleet.hpp's
// resolve_fleet_settings() checks them).
struct FleetOptions {
  std::string etcd;  // comma-separated client URLs; empty: this host only
  std::string prefix = "/qc/";
  double ttl_s = 20;
  std::string cacert, cert, key;
  bool configured() const { return !etcd.empty(); }
};

class FleetHold {
 public:
  virtual ~FleetHold() = default;
  // The key's create revision: larger for every new holder (QC_FENCING_TOKEN).
  virtual std::int64_t fencing_token() const = 0;
  // Readable when a renewal was confirmed or failed, or the lease is gone; clear_wake() after.
  virtual NativeHandle wake_handle() const = 0;
  virtual void clear_wake() = 0;
  // When a command that stops within `stop_timeout_s` must be told to stop (self-fencing):
  // the last renewal the cluster confirmed (as sent) + TTL - stop timeout - 1 s; now, once
  // the lease is gone.
  virtual SteadyTime fence_deadline(double stop_timeout_s) const = 0;
  // Why renewals fail (for the message when the command is stopped).
  virtual std::string failure() const = 0;
  // Writes a new record (JSON) under the same lease; a failure is logged, the lock stays.
  virtual void update(const std::string& record_json) = 0;
  // Gives the name back (revokes the lease); a failure is logged: the lease expires anyway.
  virtual void release() = 0;
};

// A tool taking NAME in the fleet after its local lock (qc-lock, qc-run).
struct FleetTake {
  FleetOptions options;
  std::string name;
  std::string record_json;  // the lock record, stored as the key's value
  double wait_s = 0;        // -w: watch the key while another host holds it
  double stop_timeout_s = 10;
  bool json = false;        // a conflict event on stdout too
  int conflict_exit_code = 75;
};
// The hold, or the exit code after saying why not on stderr: conflict_exit_code when another
// host holds it, 69 when no member answers (or this build has no fleet: qc_common_nofleet),
// 64 for bad options (an endpoint that is no URL, a TTL that cannot outlive the stop).
std::variant<std::unique_ptr<FleetHold>, int> take_fleet_name(const FleetTake& take);

}  // namespace qc
