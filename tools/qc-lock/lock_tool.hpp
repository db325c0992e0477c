// qc-lock: run a command while holding a name (docs/tools.md).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "qc/clock.hpp"
#include "qc/native_handle.hpp"

namespace qc::lock_tool {

enum class Mode { kRun, kCheck, kList, kClearStale, kClearAll };

struct Options {
  Mode mode = Mode::kRun;
  std::string name;
  std::vector<std::string> command;
  std::optional<std::string> account;
  double wait_s = 0;
  int conflict_exit_code = 75;
  std::optional<std::string> lock_dir;
  bool json = false;
  bool tsv = false;
  bool yes = false;
  // When COMMAND exits and descendants of it still run: stop them (SIGTERM, then SIGKILL
  // after stop_timeout_s) instead of keeping the name until they exit.
  bool kill_descendants = false;
  double stop_timeout_s = 10;
  // The fleet (docs/fleet.md): --etcd or $QC_ETCD_ENDPOINTS; empty: this host only.
  std::string etcd;
  std::string etcd_prefix = "/qc/";
  double lease_ttl_s = 20;
  std::string etcd_cacert, etcd_cert, etcd_key;
};

int run(const Options& options);

// The fleet half of qc-lock sits behind a link-time seam, so that qc-lock stays a static
// binary free of libcurl: qc-lock-fleet (fleet_hold.cpp) takes fleet names; qc-lock
// (fleet_handoff.cpp) hands an invocation with a fleet over to qc-lock-fleet, beside it,
// before it takes anything.
void hand_fleet_over(char** argv);

// A fleet name held (qc/fleet.hpp's FleetLock, seen from qc-lock).
class FleetHold {
 public:
  virtual ~FleetHold() = default;
  virtual long long fencing_token() const = 0;
  virtual NativeHandle wake_handle() const = 0;  // readable when a renewal was confirmed or failed
  virtual void clear_wake() = 0;
  virtual SteadyTime fence_deadline(double stop_timeout_s) const = 0;
  virtual std::string failure() const = 0;   // why renewals fail
  virtual void update(const std::string& record_json) = 0;
  virtual void release() = 0;
};
// Takes NAME in the fleet within --wait, watching its key while another host holds it: the
// hold, or the exit code after saying why not (75/-E held, 69 unreachable, 64 bad options).
std::variant<std::unique_ptr<FleetHold>, int> take_fleet_name(const Options& options, const std::string& record_json);

}  // namespace qc::lock_tool
