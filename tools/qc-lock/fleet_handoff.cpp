// qc-lock's side of the fleet seam (lock_tool.hpp): qc-lock is a static binary, free of
// libcurl, so an invocation with a fleet (--etcd, $QC_ETCD_ENDPOINTS) becomes qc-lock-fleet,
// found beside it, before anything is taken. Same options, same behaviour, same PID.
#include "lock_tool.hpp"

#include <cstdlib>

#include "qc/exit_codes.hpp"
#include "qc/log.hpp"
#include "qc/spawn.hpp"

namespace qc::lock_tool {

void hand_fleet_over(char** argv) {
  const Error error = exec_sibling("qc-lock-fleet", argv);
  log::error("the fleet lock needs qc-lock-fleet beside qc-lock: {}; install it, or run without --etcd "
             "and QC_ETCD_ENDPOINTS for this host's lock only",
             error.message);
  std::exit(exit_code::kUnavailable);
}

}  // namespace qc::lock_tool
