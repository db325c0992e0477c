// The fleet lock (docs/fleet.md): one name across hosts, held in etcd v3 through its JSON
// gateway (/v3/...) over libcurl. The key <prefix>locks/<NAME> is created by a transaction
// that succeeds only if it does not exist, attached to a lease that a thread of the holder's
// keeps alive; its value is the lock record (docs/lock-file.md); its create revision is the
// fencing token. Every request is bounded by a timeout and fails over between the cluster's
// endpoints. Part of qc_common_fleet: only the tools that take fleet names link libcurl.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "qc/clock.hpp"
#include "qc/fleet_hold.hpp"
#include "qc/native_handle.hpp"
#include "qc/result.hpp"

namespace qc {

struct FleetSettings {
  std::vector<std::string> endpoints;  // http:// or https:// client URLs
  std::string prefix = "/qc/";
  double ttl_s = 20;
  std::string cacert, cert, key;  // TLS, as etcdctl names them; empty: none
};

// "http://10.0.0.1:2379,http://10.0.0.2:2379" (--etcd, $QC_ETCD_ENDPOINTS) as URLs; an error
// names the one that is not an http:// or https:// URL.
Result<std::vector<std::string>> parse_fleet_endpoints(const std::string& text);
// The lease must outlive the command's stop: ttl > stop_timeout + 2 s (docs/fleet.md).
Status check_fleet_timing(double ttl_s, double stop_timeout_s);
// A tool's fleet options checked (the endpoints, the TTL against `stop_timeout_s`): an error
// is a usage error (64).
Result<FleetSettings> resolve_fleet_settings(const FleetOptions& options, double stop_timeout_s);

// Who holds a fleet name: its lock record as stored (JSON text) and what the tools show.
struct FleetHolder {
  std::string record_json;
  std::string host;  // from the record; "?" when it has none
  std::int64_t pid = 0;
  std::int64_t fencing_token = 0;  // the key's create revision
  std::int64_t lease = 0;
  std::int64_t seen_at = 0;  // the store's revision when it was read (watch from the next)
};
std::string describe_fleet_holder(const std::string& name, const FleetHolder& holder);

// One change seen by a watch: a key put (created or changed) or deleted (or expired).
struct WatchEvent {
  bool deleted = false;
  std::string key;
  std::string value;
  std::int64_t revision = 0;  // the change's
};
// The smallest key after every key that starts with `prefix` (etcd's range_end).
std::string etcd_prefix_end(std::string prefix);

// The sys_errno of EtcdClient::watch's error when the revision asked was compacted away
// (qc's own value, below every OS error number).
inline constexpr int kWatchCompacted = -1;

// One etcd cluster: blocking requests, each within `timeout_ms`, on the first endpoint that
// answers (the last one that did first). Not shared between threads.
class EtcdClient {
 public:
  explicit EtcdClient(FleetSettings settings);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const FleetSettings& settings() const { return settings_; }
  // The response body of a POST to PATH (a JSON object), or an error that names every
  // endpoint tried and why each failed. An error object from etcd is an error too.
  Result<std::string> post(const std::string& path, const std::string& body, long timeout_ms);

  Result<std::int64_t> grant(double ttl_s);
  // The seconds left on `lease`: 0 when it has expired or was revoked.
  Result<std::int64_t> keep_alive(std::int64_t lease);
  Status revoke(std::int64_t lease);
  // Creates `key` with `value` on `lease` if it does not exist: its create revision; or
  // who holds it.
  Result<std::variant<std::int64_t, FleetHolder>> create(const std::string& key, const std::string& value,
                                                         std::int64_t lease);
  Status put(const std::string& key, const std::string& value, std::int64_t lease);
  Result<std::optional<FleetHolder>> get(const std::string& key);
  // Every key under `prefix` with its holder; `revision`: the store's when it was read.
  Result<std::vector<std::pair<std::string, FleetHolder>>> list(const std::string& prefix,
                                                                std::int64_t* revision = nullptr);
  // Deletes `key` if it is still the one created at `create_revision` (a name given back by
  // its holder, never a later holder's).
  Status remove_if_created_at(const std::string& key, std::int64_t create_revision);
  Status remove(const std::string& key);
  Result<std::int64_t> time_to_live(std::int64_t lease);
  // Streams the changes of `key` (with `range_end`, of [key, range_end)) after `revision`,
  // which follows the last change seen, to `on_event` until it returns true (then true),
  // `deadline` passes or `cancel` becomes true (false), or the stream is cut (an error: watch
  // again from `revision`). No polling: one streaming request. `cancel` is looked at about
  // once a second. An error with sys_errno kWatchCompacted: etcd no longer has the history
  // after `revision` (compacted while the watcher was away); changes may have been missed, so
  // read the current state again (list) and watch from its revision.
  Result<bool> watch(const std::string& key, const std::string& range_end, std::int64_t& revision,
                     std::optional<SteadyTime> deadline, const std::atomic<bool>& cancel,
                     const std::function<bool(const WatchEvent&)>& on_event);
  // Blocks until `key` is deleted (or expires) after `revision`, `deadline` passes (false),
  // or `cancel` becomes true (false). No polling: one streaming watch request.
  Result<bool> wait_deleted(const std::string& key, std::int64_t revision, std::optional<SteadyTime> deadline,
                            const std::atomic<bool>& cancel);

 private:
  struct Impl;
  FleetSettings settings_;
  std::unique_ptr<Impl> impl_;
};

// A fleet name held: the lease kept alive by a thread of its own, which wakes the holder's
// event loop (wake_handle()) whenever a renewal is confirmed or the lease is gone. The
// holder stops its command at fence_deadline() (docs/fleet.md, self-fencing).
class FleetLock : public FleetHold {
 public:
  // Takes NAME: 69's error when no endpoint answers, a FleetHolder when another holds it.
  static std::variant<std::unique_ptr<FleetLock>, FleetHolder, Error> acquire(const FleetSettings& settings,
                                                                              const std::string& name,
                                                                              const std::string& record_json);
  // The same, and while another holds it, for up to `wait_s`: watches its key (one streaming
  // request, no polling) and tries again when it is deleted or expires. A watch every member
  // cut is tried again within a second. Blocks: before a tool's event loop exists, so that
  // SIGINT and SIGTERM still end the process while it waits (nothing is held then).
  static std::variant<std::unique_ptr<FleetLock>, FleetHolder, Error> acquire_waiting(
      const FleetSettings& settings, const std::string& name, const std::string& record_json, double wait_s);
  ~FleetLock() override;  // stops renewing; the lease expires unless release() revoked it
  FleetLock(const FleetLock&) = delete;
  FleetLock& operator=(const FleetLock&) = delete;

  std::int64_t lease() const { return lease_; }
  const std::string& key() const { return key_; }
  bool lease_gone() const { return gone_.load(); }

  // FleetHold
  std::int64_t fencing_token() const override { return token_; }
  NativeHandle wake_handle() const override;
  void clear_wake() override;
  SteadyTime fence_deadline(double stop_timeout_s) const override;
  std::string failure() const override;
  void update(const std::string& record_json) override;
  void release() override;

 private:
  FleetLock() = default;
  void renew_loop();
  struct Shared;
  std::unique_ptr<EtcdClient> client_;  // this thread's (acquire, update, release)
  std::shared_ptr<Shared> shared_;
  std::string key_;
  std::int64_t lease_ = 0;
  std::int64_t token_ = 0;
  std::atomic<bool> gone_{false};
  double ttl_s_ = 20;
};

}  // namespace qc
