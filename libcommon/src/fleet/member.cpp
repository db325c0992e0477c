// A host in the fleet (FleetMember, qc/fleet_hold.hpp): one lease for all of qc-launch's
// names. Three threads, each with its own etcd client and every signal blocked: the renewer
// keeps the lease alive (every TTL/5) and grants a new one when it is gone or abandoned; the
// requester takes and gives back names in the order asked; the watcher streams every change
// under the prefix. Each hands its news to the event loop through one queue and a Notifier.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "platform.hpp"
#include "qc/event_loop.hpp"
#include "qc/exit_codes.hpp"
#include "qc/fleet.hpp"
#include "qc/log.hpp"
#include "qc/process.hpp"

namespace qc {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

class Member final : public FleetMember {
 public:
  Member(FleetSettings settings, std::string host) : settings_(std::move(settings)), host_(std::move(host)) {}
  ~Member() override { leave(); }

  Status join() {
    auto notifier = Notifier::create();
    if (!notifier) return notifier.error();
    notifier_ = std::move(*notifier);
    EtcdClient client(settings_);
    const SteadyTime asked = Clock::now();
    auto lease = client.grant(settings_.ttl_s);
    if (!lease) return lease.error();
    std::int64_t revision = 0;
    auto keys = client.list(settings_.prefix, &revision);
    if (!keys) {
      (void)client.revoke(*lease);
      return keys.error();
    }
    for (const auto& [key, holder] : *keys) note_key(key, false, holder.record_json, 0, /*announce=*/false);
    lease_ = *lease;
    confirmed_ = asked;
    renewer_ = std::thread([this] { renew_loop(); });
    requester_ = std::thread([this] { request_loop(); });
    watcher_ = std::thread([this, revision] { watch_loop(revision); });
    return {};
  }

  const std::string& host() const override { return host_; }
  NativeHandle wake_handle() const override { return notifier_->handle(); }
  std::int64_t lease() const override {
    std::lock_guard<std::mutex> guard(mutex_);
    return lease_;
  }

  std::vector<FleetUpdate> updates() override {
    std::lock_guard<std::mutex> guard(mutex_);
    notifier_->clear();
    std::vector<FleetUpdate> out;
    out.swap(updates_);
    return out;
  }

  void take(const std::string& name, const std::string& record_json) override {
    queue({Request::kTake, name, record_json, 0});
  }
  void give_back(const std::string& name, std::int64_t token) override { queue({Request::kGiveBack, name, "", token}); }
  void clear_stop(const std::string& name) override { queue({Request::kClearStop, name, "", 0}); }
  void ask_handover(const std::string& name) override { queue({Request::kAskHandover, name, "", 0}); }
  void handover_done(const std::string& name) override { queue({Request::kHandoverDone, name, "", 0}); }
  void mark_standby(const std::string& name, bool standby, const std::string& record_json) override {
    queue({standby ? Request::kStandby : Request::kActive, name, record_json, 0});
  }

  bool stopped(const std::string& name) const override {
    std::lock_guard<std::mutex> guard(mutex_);
    return stopped_.count(name) > 0;
  }
  std::string handover_to(const std::string& name) const override {
    std::lock_guard<std::mutex> guard(mutex_);
    const auto it = handover_.find(name);
    return it == handover_.end() ? std::string() : it->second;
  }

  SteadyTime fence_deadline(double stop_timeout_s) const override {
    std::lock_guard<std::mutex> guard(mutex_);
    if (lease_ == 0) return Clock::now();
    return confirmed_ + seconds(settings_.ttl_s - stop_timeout_s - 1);
  }
  std::string failure() const override {
    std::lock_guard<std::mutex> guard(mutex_);
    return failure_.empty() ? "no renewal confirmed in time" : failure_;
  }
  double lease_left_s() const override {
    std::lock_guard<std::mutex> guard(mutex_);
    if (lease_ == 0) return 0;
    const double left = settings_.ttl_s - std::chrono::duration<double>(Clock::now() - confirmed_).count();
    return left > 0 ? left : 0;
  }
  void abandon_lease() override {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      abandon_ = true;
    }
    renew_wake_.notify_all();
  }

  void leave() override {
    if (left_) return;
    left_ = true;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stop_requests_ = true;
    }
    request_wake_.notify_all();
    if (requester_.joinable()) requester_.join();  // the queue is done first: names given back
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stop_renewing_ = true;
    }
    renew_wake_.notify_all();
    if (renewer_.joinable()) renewer_.join();
    if (lease_ != 0) {
      EtcdClient client(settings_);
      if (Status s = client.revoke(lease_); !s) {
        log::warn("cannot revoke this host's fleet lease: {}; it expires by itself", s.error().message);
      }
    }
    cancel_watch_ = true;
    if (watcher_.joinable()) watcher_.join();
  }

 private:
  struct Request {
    enum Kind { kTake, kGiveBack, kClearStop, kAskHandover, kHandoverDone, kStandby, kActive } kind;
    std::string name;
    std::string value;
    std::int64_t token;
  };

  void queue(Request r) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      requests_.push_back(std::move(r));
    }
    request_wake_.notify_all();
  }

  // Under mutex_.
  void post(FleetUpdate u) {
    updates_.push_back(std::move(u));
    notifier_->notify();
  }

  std::string lock_key(const std::string& name) const { return settings_.prefix + "locks/" + name; }
  std::string stop_key(const std::string& name) const { return settings_.prefix + "stop/" + name; }
  std::string handover_key(const std::string& name) const { return settings_.prefix + "handover/" + name; }
  std::string standby_key(const std::string& name) const { return settings_.prefix + "standby/" + name + "/" + host_; }

  // A key of the prefix as its directory and name; directory kOther for the keys this host
  // does not follow (standby/, anything else).
  enum class Dir { kLocks, kStop, kHandover, kOther };
  std::pair<Dir, std::string> parse_key(const std::string& key) const {
    static const std::pair<Dir, std::string> dirs[] = {
        {Dir::kLocks, "locks/"}, {Dir::kStop, "stop/"}, {Dir::kHandover, "handover/"}};
    if (key.compare(0, settings_.prefix.size(), settings_.prefix) != 0) return {Dir::kOther, ""};
    for (const auto& [dir, text] : dirs) {
      if (key.compare(settings_.prefix.size(), text.size(), text) == 0) {
        return {dir, key.substr(settings_.prefix.size() + text.size())};
      }
    }
    return {Dir::kOther, ""};
  }

  // A key under the prefix seen changed.
  void note_key(const std::string& key, bool deleted, const std::string& value, std::int64_t revision,
                bool announce) {
    const auto [dir, name] = parse_key(key);
    std::lock_guard<std::mutex> guard(mutex_);
    if (dir == Dir::kLocks) {
      if (deleted) {
        held_.erase(name);
        if (announce) post({FleetUpdate::Kind::kFree, name, revision, ""});
      } else {
        held_.insert(name);
      }
    } else if (dir == Dir::kStop) {
      if (deleted) {
        stopped_.erase(name);
      } else {
        stopped_.insert(name);
      }
      if (announce) post({deleted ? FleetUpdate::Kind::kStopCleared : FleetUpdate::Kind::kStopped, name, 0, ""});
    } else if (dir == Dir::kHandover) {
      if (deleted) {  // taken, or its host went before it could: the name may be free for all
        handover_.erase(name);
        if (announce) post({FleetUpdate::Kind::kFree, name, 0, ""});
      } else {
        handover_[name] = value;
        if (announce) post({FleetUpdate::Kind::kHandover, name, 0, value});
      }
    }
  }

  // Whether what this host knows of `key` matches `value` (a key it does not follow: yes).
  bool knows(const std::string& key, const std::string& value) const {
    const auto [dir, name] = parse_key(key);
    std::lock_guard<std::mutex> guard(mutex_);
    switch (dir) {
      case Dir::kLocks: return held_.count(name) > 0;
      case Dir::kStop: return stopped_.count(name) > 0;
      case Dir::kHandover: {
        const auto it = handover_.find(name);
        return it != handover_.end() && it->second == value;
      }
      case Dir::kOther: return true;
    }
    return true;
  }

  // The watch's history was compacted while it was away: the changes since `revision` may be
  // lost (a name given back, a fleet-wide stop). The keys as they are now say what is true;
  // every difference from what this host knew is announced as the change it stands for (a
  // name of ours that is gone: kFree after our token, which fences it). A name held on
  // another lease is announced free as well: it may have been given back and taken again in
  // the gap, and if it was ours the kFree fences it (to a host that only waits for it, it is a
  // try answered "held"). Then watch from now.
  Status resync(EtcdClient& client, std::int64_t& revision) {
    std::int64_t now = 0;
    auto keys = client.list(settings_.prefix, &now);
    if (!keys) return keys.error();
    std::map<std::string, std::string> present;
    for (const auto& [key, holder] : *keys) present[key] = holder.record_json;
    std::vector<std::string> known;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      for (const auto& [key, holder] : *keys) {
        const auto [dir, name] = parse_key(key);
        if (dir == Dir::kLocks && holder.lease != lease_) post({FleetUpdate::Kind::kFree, name, now, ""});
      }
      for (const auto& name : held_) known.push_back(lock_key(name));
      for (const auto& name : stopped_) known.push_back(stop_key(name));
      for (const auto& [name, host] : handover_) known.push_back(handover_key(name));
    }
    for (const auto& key : known) {
      if (present.count(key) == 0) note_key(key, /*deleted=*/true, "", now, /*announce=*/true);
    }
    for (const auto& [key, value] : present) {
      if (!knows(key, value)) note_key(key, /*deleted=*/false, value, now, /*announce=*/true);
    }
    revision = now;
    return {};
  }

  void renew_loop() {
    platform::block_signals_in_this_thread();
    EtcdClient client(settings_);
    const auto every = seconds(settings_.ttl_s / 5);
    const auto retry = std::min<Clock::duration>(every, std::chrono::seconds(1));
    std::unique_lock<std::mutex> guard(mutex_);
    SteadyTime next = confirmed_ + every;
    while (!stop_renewing_) {
      if (abandon_ || lease_ == 0) {  // a new lease, once the cluster answers
        const std::int64_t old = lease_;
        lease_ = 0;
        abandon_ = false;
        guard.unlock();
        if (old != 0) (void)client.revoke(old);  // best effort: it expires anyway
        const SteadyTime sent = Clock::now();
        auto lease = client.grant(settings_.ttl_s);
        guard.lock();
        if (lease) {
          lease_ = *lease;
          confirmed_ = sent;
          failure_.clear();
          next = sent + every;
          post({FleetUpdate::Kind::kNewLease, "", 0, ""});
        } else {
          failure_ = lease.error().message;
          renew_wake_.wait_until(guard, Clock::now() + retry, [this] { return stop_renewing_; });
        }
        continue;
      }
      if (renew_wake_.wait_until(guard, next, [this] { return stop_renewing_ || abandon_; })) continue;
      const std::int64_t lease = lease_;
      guard.unlock();
      const SteadyTime sent = Clock::now();
      auto left = client.keep_alive(lease);
      guard.lock();
      if (lease != lease_) continue;
      if (left && *left > 0) {
        confirmed_ = sent;
        failure_.clear();
        next = sent + every;
      } else if (left) {
        failure_ = "etcd says the lease has expired";
        lease_ = 0;  // fence now; a new one next
      } else {
        failure_ = left.error().message;
        next = Clock::now() + retry;
      }
      notifier_->notify();  // the loop looks at the fence deadline again
    }
  }

  void request_loop() {
    platform::block_signals_in_this_thread();
    EtcdClient client(settings_);
    std::unique_lock<std::mutex> guard(mutex_);
    bool unreachable = false;  // the last request found no member
    for (;;) {
      request_wake_.wait(guard, [this] { return stop_requests_ || !requests_.empty(); });
      if (requests_.empty()) return;  // stopping, and everything asked is done
      Request r = std::move(requests_.front());
      requests_.pop_front();
      if (stop_requests_ && unreachable && r.kind != Request::kClearStop) continue;  // the lease goes anyway
      unreachable = false;
      const std::int64_t lease = lease_;
      const std::string why_no_lease = failure_;
      guard.unlock();
      std::optional<FleetUpdate> answer;
      switch (r.kind) {
        case Request::kTake:
          answer = take_now(client, r, lease, why_no_lease);
          unreachable = answer->kind == FleetUpdate::Kind::kTakeFailed;
          break;
        case Request::kGiveBack:
          if (Status s = client.remove_if_created_at(lock_key(r.name), r.token); !s) {
            unreachable = true;
            log::warn("cannot give {} back to the fleet: {}; it goes when this host's lease expires", r.name,
                      s.error().message);
          }
          break;
        case Request::kClearStop:
          if (Status s = client.remove(stop_key(r.name)); !s) log::warn("cannot clear {}'s fleet stop: {}", r.name, s.error().message);
          break;
        case Request::kAskHandover:
          if (lease == 0) break;
          if (Status s = client.put(handover_key(r.name), host_, lease); !s) {
            log::warn("cannot ask for {} back: {}", r.name, s.error().message);
          }
          break;
        case Request::kHandoverDone: (void)client.remove(handover_key(r.name)); break;
        case Request::kStandby:
          if (lease != 0) (void)client.put(standby_key(r.name), r.value, lease);  // shown only
          break;
        case Request::kActive: (void)client.remove(standby_key(r.name)); break;
      }
      guard.lock();
      if (answer) post(std::move(*answer));
    }
  }

  FleetUpdate take_now(EtcdClient& client, const Request& r, std::int64_t lease, const std::string& why_no_lease) {
    if (lease == 0) {
      return {FleetUpdate::Kind::kTakeFailed, r.name, 0,
              "this host has no fleet lease" + (why_no_lease.empty() ? std::string() : " (" + why_no_lease + ")")};
    }
    auto created = client.create(lock_key(r.name), r.value, lease);
    if (!created) return {FleetUpdate::Kind::kTakeFailed, r.name, 0, created.error().message};
    if (auto* token = std::get_if<std::int64_t>(&*created)) return {FleetUpdate::Kind::kTaken, r.name, *token, "", lease};
    const FleetHolder& holder = std::get<FleetHolder>(*created);
    if (holder.lease == lease) return {FleetUpdate::Kind::kTaken, r.name, holder.fencing_token, "", lease};
    return {FleetUpdate::Kind::kHeld, r.name, holder.fencing_token, describe_fleet_holder(r.name, holder)};
  }

  void watch_loop(std::int64_t revision) {
    platform::block_signals_in_this_thread();
    EtcdClient client(settings_);
    const std::string end = etcd_prefix_end(settings_.prefix);
    bool warned = false;
    while (!cancel_watch_) {
      auto watched = client.watch(settings_.prefix, end, revision, std::nullopt, cancel_watch_,
                                  [this](const WatchEvent& e) {
                                    note_key(e.key, e.deleted, e.value, e.revision, /*announce=*/true);
                                    return false;
                                  });
      if (watched) break;  // cancelled
      if (watched.error().sys_errno == kWatchCompacted) {
        log::warn("watching the fleet: {}; reading the fleet again", watched.error().message);
        if (resync(client, revision)) continue;  // and watch from there at once
      } else if (!warned) {
        log::warn("watching the fleet: {}; watching again", watched.error().message);
      }
      warned = true;
      std::unique_lock<std::mutex> guard(mutex_);
      renew_wake_.wait_for(guard, std::chrono::seconds(1), [this] { return cancel_watch_.load(); });
    }
  }

  const FleetSettings settings_;
  const std::string host_;
  std::unique_ptr<Notifier> notifier_;
  mutable std::mutex mutex_;
  std::condition_variable renew_wake_, request_wake_;
  std::int64_t lease_ = 0;  // 0: none (gone, or not granted yet)
  SteadyTime confirmed_{};
  std::string failure_;
  bool abandon_ = false;
  bool stop_renewing_ = false;
  bool stop_requests_ = false;
  std::atomic<bool> cancel_watch_{false};
  bool left_ = false;
  std::deque<Request> requests_;
  std::vector<FleetUpdate> updates_;
  std::set<std::string> held_;  // the names whose lock key exists, whichever host holds them
  std::set<std::string> stopped_;
  std::map<std::string, std::string> handover_;
  std::thread renewer_, requester_, watcher_;
};

}  // namespace

std::variant<std::unique_ptr<FleetMember>, int> join_fleet(const FleetOptions& options, double longest_stop_s) {
  auto settings = resolve_fleet_settings(options, longest_stop_s);
  if (!settings) {
    log::error("{}", settings.error().message);
    return exit_code::kUsage;
  }
  auto member = std::make_unique<Member>(*settings, host_name());
  if (Status s = member->join(); !s) {
    log::error("cannot join the fleet: {}", s.error().message);
    return exit_code::kUnavailable;
  }
  return std::unique_ptr<FleetMember>(std::move(member));
}

}  // namespace qc
