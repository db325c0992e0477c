// take_fleet_name (qc/fleet_hold.hpp) with the fleet: through FleetLock.
#include <iostream>

#include <nlohmann/json.hpp>

#include "qc/exit_codes.hpp"
#include "qc/fleet.hpp"
#include "qc/log.hpp"

namespace qc {

std::variant<std::unique_ptr<FleetHold>, int> take_fleet_name(const FleetTake& t) {
  auto settings = resolve_fleet_settings(t.options, t.stop_timeout_s);
  if (!settings) {
    log::error("{}", settings.error().message);
    return exit_code::kUsage;
  }
  auto taken = FleetLock::acquire_waiting(*settings, t.name, t.record_json, t.wait_s);
  if (auto* lock = std::get_if<std::unique_ptr<FleetLock>>(&taken)) return std::unique_ptr<FleetHold>(std::move(*lock));
  if (auto* error = std::get_if<Error>(&taken)) {
    log::error("cannot take {} in the fleet: {}", t.name, error->message);
    return exit_code::kUnavailable;
  }
  const FleetHolder& holder = std::get<FleetHolder>(taken);
  log::error("{}", describe_fleet_holder(t.name, holder));
  if (t.json) {
    nlohmann::ordered_json j{{"event", "conflict"}, {"name", t.name}, {"fleet", true}, {"host", holder.host}};
    j["pid"] = holder.pid > 0 ? nlohmann::ordered_json(holder.pid) : nlohmann::ordered_json(nullptr);
    j["fencing_token"] = holder.fencing_token;
    j["message"] = describe_fleet_holder(t.name, holder);
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
  return t.conflict_exit_code;
}

}  // namespace qc
