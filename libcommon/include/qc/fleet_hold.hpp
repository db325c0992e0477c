// A fleet name as the tools and the engine runner hold it (docs/fleet.md), behind an
// interface, so that what includes this needs no libcurl: qc-lock stays a static binary and
// the engine's tests can use a fake. The real one is FleetLock (fleet.hpp, qc_common_fleet).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

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

// A host in the fleet (qc-launch with LAUNCH.fleet, docs/fleet.md): one lease for all its
// names, kept alive by a thread of its own; its names taken and given back by another, in
// the order asked; one watch on the whole prefix says when a name is given back or expires,
// is stopped fleet-wide, or is asked back by its preferred host. Nothing here blocks the
// caller: requests are queued, their answers and the watch's news come back as updates, and
// wake_handle() is readable while there are some.
struct FleetUpdate {
  enum class Kind {
    kTaken,        // `name` is ours: `token`
    kHeld,         // another host holds `name` (`detail` says who)
    kTakeFailed,   // no member answered (`detail`): ask again later
    kFree,         // `name`'s key was deleted or its lease expired (`token`: at which revision)
    kStopped,      // `name` was stopped fleet-wide (qc-shutdown --fleet)
    kStopCleared,  // ... and may run again (qc-launch --start, qc-shutdown --fleet --release)
    kHandover,     // host `detail` is `name`'s preferred host and asks for it back
    kNewLease,     // the lease was gone and a new one is granted: names may be taken again
  };
  Kind kind;
  std::string name;
  std::int64_t token = 0;
  std::string detail;
  std::int64_t lease = 0;  // kTaken: the lease it was taken with
};

class FleetMember {
 public:
  virtual ~FleetMember() = default;
  virtual const std::string& host() const = 0;
  virtual NativeHandle wake_handle() const = 0;
  // The lease names are taken with now (0: none): a kTaken with another is already gone.
  virtual std::int64_t lease() const = 0;
  // What happened since the last call, in order; clears the wake.
  virtual std::vector<FleetUpdate> updates() = 0;
  // Takes `name` with the host's lease, the record as its value (answered kTaken, kHeld or
  // kTakeFailed); a key already ours under this lease counts as taken.
  virtual void take(const std::string& name, const std::string& record_json) = 0;
  // Deletes `name`'s key if it is still the one taken with `token`.
  virtual void give_back(const std::string& name, std::int64_t token) = 0;
  // Clears `name`'s fleet-wide stop; asks `name`'s holder to hand it over to this host.
  virtual void clear_stop(const std::string& name) = 0;
  virtual void ask_handover(const std::string& name) = 0;
  // This host took `name` after asking for it: the request is withdrawn.
  virtual void handover_done(const std::string& name) = 0;
  // Says (or stops saying) in etcd that this host stands by for `name` (qc-ps --fleet): a key
  // <prefix>standby/NAME/HOST under the lease, the record as its value.
  virtual void mark_standby(const std::string& name, bool standby, const std::string& record_json) = 0;
  // As last seen: stopped fleet-wide; the host a hand-over of `name` goes to ("": none).
  virtual bool stopped(const std::string& name) const = 0;
  virtual std::string handover_to(const std::string& name) const = 0;
  // When a program that stops within `stop_timeout_s` must be told to stop (self-fencing):
  // the last renewal confirmed (as sent) + TTL - stop timeout - 1 s; now, once the lease is gone.
  virtual SteadyTime fence_deadline(double stop_timeout_s) const = 0;
  virtual std::string failure() const = 0;
  // Seconds left on the lease as far as this host knows (from its last confirmed renewal).
  virtual double lease_left_s() const = 0;
  // The names under this lease were fenced: a new lease, once the cluster answers (kNewLease).
  virtual void abandon_lease() = 0;
  // Leaves the fleet: the queued requests are done (each within its timeout), the lease is
  // revoked (every name still under it goes at once), the threads end.
  virtual void leave() = 0;
};

// Joins the fleet for `host`: the member, or the exit code after saying why not on stderr
// (69 when no member answers or this build has no fleet, 64 for bad options).
std::variant<std::unique_ptr<FleetMember>, int> join_fleet(const FleetOptions& options, double longest_stop_s);

}  // namespace qc
