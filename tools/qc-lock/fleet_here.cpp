// qc-lock-fleet's side of the fleet seam (lock_tool.hpp): the fleet is here, nothing to hand over.
#include "lock_tool.hpp"

namespace qc::lock_tool {

void hand_fleet_over(char**) {}

}  // namespace qc::lock_tool
