// qc-lock-fleet's side of the fleet seam (lock_tool.hpp): fleet names through qc/fleet.hpp.
#include <algorithm>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "lock_tool.hpp"
#include "qc/exit_codes.hpp"
#include "qc/fleet.hpp"
#include "qc/log.hpp"

namespace qc::lock_tool {
namespace {

class Hold : public FleetHold {
 public:
  explicit Hold(std::unique_ptr<FleetLock> lock) : lock_(std::move(lock)) {}
  long long fencing_token() const override { return lock_->fencing_token(); }
  NativeHandle wake_handle() const override { return lock_->wake_handle(); }
  void clear_wake() override { lock_->clear_wake(); }
  SteadyTime fence_deadline(double stop_timeout_s) const override { return lock_->fence_deadline(stop_timeout_s); }
  std::string failure() const override { return lock_->last_failure(); }
  void update(const std::string& record_json) override {
    if (Status s = lock_->update(record_json); !s) log::warn("cannot update {} in etcd: {}", lock_->key(), s.error().message);
  }
  void release() override {
    if (Status s = lock_->release(); !s) {
      log::warn("cannot revoke the lease of {}: {}; it expires by itself", lock_->key(), s.error().message);
    }
  }

 private:
  std::unique_ptr<FleetLock> lock_;
};

}  // namespace

void hand_fleet_over(char**) {}  // this is the fleet's binary

std::variant<std::unique_ptr<FleetHold>, int> take_fleet_name(const Options& o, const std::string& record_json) {
  auto endpoints = parse_fleet_endpoints(o.etcd);
  if (!endpoints) {
    log::error("{}", endpoints.error().message);
    return exit_code::kUsage;
  }
  if (Status s = check_fleet_timing(o.lease_ttl_s, o.stop_timeout_s); !s) {
    log::error("{}", s.error().message);
    return exit_code::kUsage;
  }
  FleetSettings settings;
  settings.endpoints = std::move(*endpoints);
  settings.prefix = o.etcd_prefix;
  settings.ttl_s = o.lease_ttl_s;
  settings.cacert = o.etcd_cacert;
  settings.cert = o.etcd_cert;
  settings.key = o.etcd_key;
  const auto give_up_at = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(o.wait_s));
  const std::atomic<bool> never{false};
  for (;;) {
    auto taken = FleetLock::acquire(settings, o.name, record_json);
    if (auto* lock = std::get_if<std::unique_ptr<FleetLock>>(&taken)) return std::make_unique<Hold>(std::move(*lock));
    if (auto* error = std::get_if<Error>(&taken)) {
      log::error("cannot take {} in the fleet: {}", o.name, error->message);
      return exit_code::kUnavailable;
    }
    const FleetHolder& holder = std::get<FleetHolder>(taken);
    if (o.wait_s > 0 && std::chrono::steady_clock::now() < give_up_at) {
      // Watch the key (no polling): its deletion, by a release or an expired lease, is the
      // moment to try again. A signal while waiting ends qc-lock as usual: nothing is held.
      EtcdClient client(settings);
      auto deleted = client.wait_deleted(settings.prefix + "locks/" + o.name, holder.seen_at, give_up_at, never);
      if (!deleted) {  // every member cut the watch: try again (the name may be free), within a second
        log::warn("watching {} in the fleet: {}; trying again", o.name, deleted.error().message);
        std::this_thread::sleep_until(std::min(give_up_at, std::chrono::steady_clock::now() + std::chrono::seconds(1)));
        continue;
      }
      if (*deleted) continue;
    }
    log::error("{}", describe_fleet_holder(o.name, holder));
    if (o.json) {
      nlohmann::ordered_json j{{"event", "conflict"}, {"name", o.name}, {"fleet", true}, {"host", holder.host}};
      j["pid"] = holder.pid > 0 ? nlohmann::ordered_json(holder.pid) : nlohmann::ordered_json(nullptr);
      j["fencing_token"] = holder.fencing_token;
      j["message"] = describe_fleet_holder(o.name, holder);
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    }
    return o.conflict_exit_code;
  }
}

}  // namespace qc::lock_tool
