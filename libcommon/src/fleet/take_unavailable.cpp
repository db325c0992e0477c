// take_fleet_name (qc/fleet_hold.hpp) in a build without the fleet (qc_common_nofleet: the
// tools that must not load libcurl, and any build without it).
#include "qc/exit_codes.hpp"
#include "qc/fleet_hold.hpp"
#include "qc/log.hpp"

namespace qc {

std::variant<std::unique_ptr<FleetHold>, int> take_fleet_name(const FleetTake& t) {
  log::error("cannot take {} in the fleet: this build of qc has no fleet (no libcurl); run without --etcd and "
             "QC_ETCD_ENDPOINTS for this host's lock only",
             t.name);
  return exit_code::kUnavailable;
}

std::variant<std::unique_ptr<FleetMember>, int> join_fleet(const FleetOptions&, double) {
  log::error("cannot join the fleet: this build of qc has no fleet (no libcurl); remove LAUNCH.fleet for this "
             "host's locks only");
  return exit_code::kUnavailable;
}

}  // namespace qc
