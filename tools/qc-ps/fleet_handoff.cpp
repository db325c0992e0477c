// qc-ps's side of the fleet seam (ps_tool.hpp): qc-ps is a static binary, free of libcurl,
// so --fleet becomes qc-ps-fleet, found beside it. Same options, same output, same PID.
#include <cstdlib>

#include "ps_tool.hpp"
#include "qc/exit_codes.hpp"
#include "qc/log.hpp"
#include "qc/spawn.hpp"

namespace qc::ps_tool {

void hand_fleet_over(char** argv) {
  const Error error = exec_sibling("qc-ps-fleet", argv);
  log::error("--fleet needs qc-ps-fleet beside qc-ps: {}", error.message);
  std::exit(exit_code::kUnavailable);
}

int print_fleet(const Options&) { return exit_code::kUnavailable; }  // handed over first

}  // namespace qc::ps_tool
