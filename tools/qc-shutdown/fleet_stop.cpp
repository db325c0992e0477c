// qc-shutdown --fleet NAME... (docs/fleet.md): stops names wherever they run in the fleet and
// keeps them stopped: a key <prefix>stop/NAME that every qc-launch holding NAME watches (it
// stops it and gives it back) and that standbys obey, until qc-launch --start NAME or
// qc-shutdown --fleet --release NAME clears it. Waits up to --timeout for each name's holder
// to give it back.
#include <atomic>
#include <chrono>
#include <optional>
#include <vector>

#include "qc/exit_codes.hpp"
#include "qc/fleet.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "shutdown_tool.hpp"

namespace qc::shutdown_tool {

int fleet_stop(const Options& o) {
  if (o.names.empty()) {
    log::error("--fleet needs the names to stop fleet-wide (e.g. qc-shutdown --fleet BRAIN_ATLAS)");
    return exit_code::kUsage;
  }
  for (const auto& name : o.names) {
    if (Status s = validate_lock_name(name); !s) {
      log::error("{} (--fleet takes names, not wildcards)", s.error().message);
      return exit_code::kUsage;
    }
  }
  auto settings = resolve_fleet_settings(o.fleet_options, 0);
  if (!settings) {
    log::error("{}", settings.error().message);
    return exit_code::kUsage;
  }
  EtcdClient etcd(*settings);
  const std::string& prefix = settings->prefix;
  // Who holds each name, read before the stop: its holder may give it back within
  // milliseconds of the stop key, and the wait below starts from this reading.
  std::vector<std::optional<FleetHolder>> holders;
  for (const auto& name : o.names) {
    auto holder = etcd.get(prefix + "locks/" + name);
    if (!holder) {
      log::error("cannot reach the fleet: {}", holder.error().message);
      return exit_code::kUnavailable;
    }
    holders.push_back(*holder);
  }
  for (const auto& name : o.names) {
    if (o.dry_run) {
      log::info("would {} {} fleet-wide", o.release ? "release" : "stop", name);
      continue;
    }
    Status s = o.release ? etcd.remove(prefix + "stop/" + name) : etcd.put(prefix + "stop/" + name, "stopped", 0);
    if (!s) {
      log::error("cannot {} {} fleet-wide: {}", o.release ? "release" : "stop", name, s.error().message);
      return exit_code::kUnavailable;
    }
    log::info(o.release ? "{} may run again: the first host that takes it runs it"
                        : "{} is stopped fleet-wide (qc-launch --start {} or qc-shutdown --fleet --release {} "
                          "lets it run again)",
              name, name, name);
  }
  if (o.release || o.dry_run) return exit_code::kOk;
  // Its holder stops it and gives it back.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(o.timeout_s));
  const std::atomic<bool> never{false};
  bool all_gone = true;
  for (std::size_t i = 0; i < o.names.size(); ++i) {
    const std::string& name = o.names[i];
    const auto& holder = holders[i];
    if (!holder) continue;
    log::info("waiting for host {} to stop {}", holder->host, name);
    auto gone = etcd.wait_deleted(prefix + "locks/" + name, holder->seen_at, deadline, never);
    if (!gone || !*gone) {
      log::error("{} still runs on host {} after {} s: is its qc-launch connected to etcd? It stays stopped "
                 "fleet-wide: no other host starts it",
                 name, holder->host, o.timeout_s);
      all_gone = false;
    } else {
      log::info("{} stopped on host {}", name, holder->host);
    }
  }
  return all_gone ? exit_code::kOk : exit_code::kNo;
}

}  // namespace qc::shutdown_tool
