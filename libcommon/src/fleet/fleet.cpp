// The fleet lock over etcd v3's JSON gateway (qc/fleet.hpp). Keys and values travel base64
// encoded, 64-bit integers as decimal strings; see docs/fleet.md for the requests.
#include "qc/fleet.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "platform.hpp"
#include "qc/event_loop.hpp"
#include "qc/log.hpp"

namespace qc {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Connecting to a member that is down or black-holed must not eat a renewal period.
constexpr long kConnectTimeoutMs = 1000;
constexpr long kRequestTimeoutMs = 3000;

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return out;
}

std::string unbase64(const std::string& in) {
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+') d = 62;
    else if (c == '/') d = 63;
    else continue;  // '=' and anything else
    v = (v << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return out;
}

// etcd writes 64-bit integers as strings, and leaves out zero values.
std::int64_t i64(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

FleetHolder holder_from(const json& kv) {
  FleetHolder h;
  h.record_json = unbase64(kv.value("value", ""));
  h.fencing_token = i64(kv, "create_revision");
  h.lease = i64(kv, "lease");
  const auto record = json::parse(h.record_json, nullptr, false);
  h.host = "?";
  if (record.is_object()) {
    if (record.contains("host") && record["host"].is_string()) h.host = record["host"].get<std::string>();
    if (record.contains("pid") && record["pid"].is_number_integer()) h.pid = record["pid"].get<std::int64_t>();
  }
  return h;
}

void global_init() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

size_t append_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

std::string etcd_prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xFF) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

Result<std::vector<std::string>> parse_fleet_endpoints(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    std::string url = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    url.erase(0, url.find_first_not_of(" \t"));
    url.erase(url.find_last_not_of(" \t") + 1);
    if (!url.empty()) {
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return Error{"etcd endpoint '" + url + "' is not an http:// or https:// URL (e.g. http://127.0.0.1:2379)"};
      }
      while (url.size() > 8 && url.back() == '/') url.pop_back();
      out.push_back(url);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return Error{"no etcd endpoint given (e.g. --etcd http://127.0.0.1:2379)"};
  return out;
}

Status check_fleet_timing(double ttl_s, double stop_timeout_s) {
  if (ttl_s > stop_timeout_s + 2) return {};
  return Error{"the fleet lease TTL (" + std::to_string(static_cast<long long>(ttl_s)) +
               " s) must exceed the stop timeout (" + std::to_string(static_cast<long long>(stop_timeout_s)) +
               " s) + 2 s, so that a holder that cannot renew stops its command before the lease expires; "
               "raise --lease-ttl or lower --stop-timeout"};
}

std::string describe_fleet_holder(const std::string& name, const FleetHolder& h) {
  std::string text = name + " is held in the fleet by host " + h.host;
  if (h.pid > 0) text += " (PID " + std::to_string(h.pid) + ")";
  text += ", fencing token " + std::to_string(h.fencing_token);
  return text;
}

// EtcdClient -------------------------------------------------------------------------------

struct EtcdClient::Impl {
  CURL* curl = nullptr;
  std::size_t preferred = 0;  // the endpoint that answered last
  ~Impl() {
    if (curl) curl_easy_cleanup(curl);
  }
};

namespace {

void set_tls(CURL* curl, const FleetSettings& s) {
  if (!s.cacert.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, s.cacert.c_str());
  if (!s.cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, s.cert.c_str());
  if (!s.key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, s.key.c_str());
}

}  // namespace

EtcdClient::EtcdClient(FleetSettings settings) : settings_(std::move(settings)), impl_(std::make_unique<Impl>()) {
  global_init();
}

EtcdClient::~EtcdClient() = default;

Result<std::string> EtcdClient::post(const std::string& path, const std::string& body, long timeout_ms) {
  if (!impl_->curl) impl_->curl = curl_easy_init();
  CURL* curl = impl_->curl;
  if (!curl) return Error{"cannot initialise libcurl"};
  std::string tried;
  const std::size_t n = settings_.endpoints.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t e = (impl_->preferred + k) % n;
    const std::string url = settings_.endpoints[e] + path;
    std::string response;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(kConnectTimeoutMs, timeout_ms));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    set_tls(curl, settings_);
    const CURLcode rc = curl_easy_perform(curl);
    long http = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    std::string why;
    if (rc != CURLE_OK) {
      why = curl_easy_strerror(rc);
    } else if (http >= 500) {
      why = "HTTP " + std::to_string(http);
    } else {
      const auto j = json::parse(response, nullptr, false);
      if (http != 200 || !j.is_object() || j.contains("error")) {
        // etcd answered and refused: another member would say the same.
        std::string message = j.is_object() ? j.value("message", j.value("error", response)) : response;
        return Error{"etcd at " + settings_.endpoints[e] + " refused " + path + ": " + message};
      }
      impl_->preferred = e;
      return response;
    }
    tried += (tried.empty() ? "" : "; ") + settings_.endpoints[e] + " (" + why + ")";
  }
  return Error{"cannot reach etcd: " + tried};
}

Result<std::int64_t> EtcdClient::grant(double ttl_s) {
  json body{{"TTL", static_cast<std::int64_t>(ttl_s)}};
  auto r = post("/v3/lease/grant", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  const auto j = json::parse(*r, nullptr, false);
  const std::int64_t id = i64(j, "ID");
  if (id == 0) return Error{"etcd granted no lease: " + j.value("error", *r)};
  return id;
}

Result<std::int64_t> EtcdClient::keep_alive(std::int64_t lease) {
  json body{{"ID", std::to_string(lease)}};
  const long timeout = std::max<long>(500, std::min<long>(2000, static_cast<long>(settings_.ttl_s * 1000 / 10)));
  auto r = post("/v3/lease/keepalive", body.dump(), timeout);
  if (!r) return r.error();
  const auto j = json::parse(*r, nullptr, false);
  if (!j.contains("result") || !j["result"].is_object()) return Error{"etcd's keep-alive answer has no result: " + *r};
  return i64(j["result"], "TTL");
}

Status EtcdClient::revoke(std::int64_t lease) {
  json body{{"ID", std::to_string(lease)}};
  auto r = post("/v3/lease/revoke", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  return {};
}

Result<std::variant<std::int64_t, FleetHolder>> EtcdClient::create(const std::string& key, const std::string& value,
                                                                   std::int64_t lease) {
  const std::string k = base64(key);
  json body{
      {"compare", json::array({{{"key", k}, {"result", "EQUAL"}, {"target", "CREATE"}, {"create_revision", "0"}}})},
      {"success", json::array({{{"request_put", {{"key", k}, {"value", base64(value)}, {"lease", std::to_string(lease)}}}}})},
      {"failure", json::array({{{"request_range", {{"key", k}}}}})}};
  auto r = post("/v3/kv/txn", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  const auto j = json::parse(*r, nullptr, false);
  if (j.value("succeeded", false)) {
    const std::int64_t revision = j.contains("header") ? i64(j["header"], "revision") : 0;
    if (revision == 0) return Error{"etcd's answer to the transaction has no revision: " + *r};
    return std::variant<std::int64_t, FleetHolder>(revision);
  }
  FleetHolder holder;
  holder.host = "?";
  try {
    const json& kvs = j.at("responses").at(0).at("response_range").at("kvs");
    if (!kvs.empty()) holder = holder_from(kvs.at(0));
  } catch (const json::exception&) {
  }
  holder.seen_at = j.contains("header") ? i64(j["header"], "revision") : 0;
  return std::variant<std::int64_t, FleetHolder>(holder);
}

Status EtcdClient::put(const std::string& key, const std::string& value, std::int64_t lease) {
  json body{{"key", base64(key)}, {"value", base64(value)}, {"lease", std::to_string(lease)}};
  auto r = post("/v3/kv/put", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  return {};
}

Result<std::optional<FleetHolder>> EtcdClient::get(const std::string& key) {
  json body{{"key", base64(key)}};
  auto r = post("/v3/kv/range", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  const auto j = json::parse(*r, nullptr, false);
  if (!j.contains("kvs") || !j["kvs"].is_array() || j["kvs"].empty()) return std::optional<FleetHolder>();
  FleetHolder holder = holder_from(j["kvs"][0]);
  holder.seen_at = j.contains("header") ? i64(j["header"], "revision") : 0;
  return std::optional<FleetHolder>(holder);
}

Result<std::vector<std::pair<std::string, FleetHolder>>> EtcdClient::list(const std::string& prefix,
                                                                          std::int64_t* revision) {
  json body{{"key", base64(prefix)}, {"range_end", base64(etcd_prefix_end(prefix))}};
  auto r = post("/v3/kv/range", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  const auto j = json::parse(*r, nullptr, false);
  if (revision) *revision = j.contains("header") ? i64(j["header"], "revision") : 0;
  std::vector<std::pair<std::string, FleetHolder>> out;
  if (!j.contains("kvs") || !j["kvs"].is_array()) return out;
  for (const auto& kv : j["kvs"]) out.emplace_back(unbase64(kv.value("key", "")), holder_from(kv));
  return out;
}

Result<std::int64_t> EtcdClient::time_to_live(std::int64_t lease) {
  json body{{"ID", std::to_string(lease)}};
  auto r = post("/v3/lease/timetolive", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  return std::max<std::int64_t>(0, i64(json::parse(*r, nullptr, false), "TTL"));
}

namespace {

struct WatchState {
  std::string buffer;
  bool done = false;  // on_event said so
  std::optional<SteadyTime> deadline;
  const std::atomic<bool>* cancel = nullptr;
  bool timed_out = false;
  bool answered = false;  // the member answered (a line came)
  bool canceled = false;  // etcd ended the watch itself
  std::int64_t compact_revision = 0;  // ... because the history after the revision asked is gone
  std::string cancel_reason;
  std::int64_t* last_revision = nullptr;
  const std::function<bool(const WatchEvent&)>* on_event = nullptr;
};

size_t on_watch_data(char* data, size_t size, size_t count, void* p) {
  auto* w = static_cast<WatchState*>(p);
  w->buffer.append(data, size * count);
  // One JSON object per response, each on its own line.
  std::size_t nl;
  while (!w->done && (nl = w->buffer.find('\n')) != std::string::npos) {
    const auto j = json::parse(w->buffer.substr(0, nl), nullptr, false);
    w->buffer.erase(0, nl + 1);
    if (!j.is_object() || !j.contains("result")) continue;
    w->answered = true;
    const json& result = j["result"];
    if (result.is_object() && result.value("canceled", false)) {
      // The stream stays open after a cancelled watch: nothing more would ever come on it.
      w->canceled = true;
      w->compact_revision = i64(result, "compact_revision");
      w->cancel_reason = result.value("cancel_reason", "");
      w->done = true;
      break;
    }
    for (const auto& e : result.value("events", json::array())) {
      WatchEvent event;
      event.deleted = e.value("type", "") == "DELETE";  // PUT, the zero value, is left out
      const json kv = e.value("kv", json::object());
      event.key = unbase64(kv.value("key", ""));
      event.value = unbase64(kv.value("value", ""));
      event.revision = i64(kv, "mod_revision");
      if (event.revision > *w->last_revision) *w->last_revision = event.revision;
      if ((*w->on_event)(event)) {
        w->done = true;
        break;
      }
    }
  }
  return w->done ? 0 : size * count;  // 0 ends the transfer: we know enough
}

int on_watch_progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* w = static_cast<WatchState*>(p);
  if (w->cancel && w->cancel->load()) return 1;
  if (w->deadline && Clock::now() >= *w->deadline) {
    w->timed_out = true;
    return 1;
  }
  return 0;
}

}  // namespace

Result<bool> EtcdClient::watch(const std::string& key, const std::string& range_end, std::int64_t& revision,
                               std::optional<SteadyTime> deadline, const std::atomic<bool>& cancel,
                               const std::function<bool(const WatchEvent&)>& on_event) {
  CURL* curl = curl_easy_init();
  if (!curl) return Error{"cannot initialise libcurl"};
  std::string tried;
  Result<bool> result = Error{"no etcd endpoint"};
  for (std::size_t k = 0; k < settings_.endpoints.size(); ++k) {
    json request{{"key", base64(key)}, {"start_revision", std::to_string(revision + 1)}};
    if (!range_end.empty()) request["range_end"] = base64(range_end);
    const std::string text = json{{"create_request", request}}.dump();
    const std::size_t e = (impl_->preferred + k) % settings_.endpoints.size();
    const std::string url = settings_.endpoints[e] + "/v3/watch";
    WatchState w;
    w.deadline = deadline;
    w.cancel = &cancel;
    w.last_revision = &revision;
    w.on_event = &on_event;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_watch_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &w);
    set_tls(curl, settings_);
    const CURLcode rc = curl_easy_perform(curl);
    if (w.canceled && w.compact_revision > 0) {
      result = Error{"etcd compacted its history of " + key + " to revision " + std::to_string(w.compact_revision) +
                         ", past revision " + std::to_string(revision + 1) + " this watch was to start at",
                     kWatchCompacted};
      break;
    }
    if (w.canceled) {
      result = Error{"etcd cancelled the watch of " + key +
                     (w.cancel_reason.empty() ? std::string() : ": " + w.cancel_reason)};
      break;
    }
    if (w.done) {
      result = true;
      break;
    }
    if (w.timed_out || cancel.load()) {
      result = false;
      break;
    }
    tried += (tried.empty() ? "" : "; ") + settings_.endpoints[e] + " (" + curl_easy_strerror(rc) + ")";
    result = Error{"cannot watch " + key + " in etcd: " + tried};
    if (w.answered) break;  // it was cut after it had worked: the caller watches again
  }
  curl_easy_cleanup(curl);
  return result;
}

Result<bool> EtcdClient::wait_deleted(const std::string& key, std::int64_t revision,
                                      std::optional<SteadyTime> deadline, const std::atomic<bool>& cancel) {
  return watch(key, "", revision, deadline, cancel, [](const WatchEvent& e) { return e.deleted; });
}

Status EtcdClient::remove_if_created_at(const std::string& key, std::int64_t create_revision) {
  const std::string k = base64(key);
  json body{{"compare", json::array({{{"key", k}, {"result", "EQUAL"}, {"target", "CREATE"},
                                      {"create_revision", std::to_string(create_revision)}}})},
            {"success", json::array({{{"request_delete_range", {{"key", k}}}}})}};
  auto r = post("/v3/kv/txn", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  return {};
}

Status EtcdClient::remove(const std::string& key) {
  json body{{"key", base64(key)}};
  auto r = post("/v3/kv/deleterange", body.dump(), kRequestTimeoutMs);
  if (!r) return r.error();
  return {};
}

// FleetLock ------------------------------------------------------------------------------

struct FleetLock::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  bool released = false;
  SteadyTime confirmed{};  // when the last renewal the cluster confirmed was sent
  std::string failure;
  std::unique_ptr<Notifier> notifier;
  std::thread thread;
};

std::variant<std::unique_ptr<FleetLock>, FleetHolder, Error> FleetLock::acquire(const FleetSettings& settings,
                                                                                const std::string& name,
                                                                                const std::string& record_json) {
  auto client = std::make_unique<EtcdClient>(settings);
  const std::string key = settings.prefix + "locks/" + name;
  const SteadyTime asked = Clock::now();  // the lease runs from no earlier than this
  auto lease = client->grant(settings.ttl_s);
  if (!lease) return lease.error();
  auto created = client->create(key, record_json, *lease);
  if (!created || std::holds_alternative<FleetHolder>(*created)) {
    (void)client->revoke(*lease);  // best effort: it expires anyway
    if (!created) return created.error();
    return std::get<FleetHolder>(*created);
  }
  auto notifier = Notifier::create();
  if (!notifier) {
    (void)client->revoke(*lease);
    return notifier.error();
  }
  std::unique_ptr<FleetLock> lock(new FleetLock());
  lock->client_ = std::move(client);
  lock->key_ = key;
  lock->lease_ = *lease;
  lock->token_ = std::get<std::int64_t>(*created);
  lock->ttl_s_ = settings.ttl_s;
  lock->shared_ = std::make_shared<Shared>();
  lock->shared_->confirmed = asked;
  lock->shared_->notifier = std::move(*notifier);
  lock->shared_->thread = std::thread([raw = lock.get()] { raw->renew_loop(); });
  return lock;
}

FleetLock::~FleetLock() {
  if (!shared_) return;
  {
    std::lock_guard<std::mutex> guard(shared_->mutex);
    shared_->stop = true;
  }
  shared_->wake.notify_all();
  if (shared_->thread.joinable()) shared_->thread.join();
}

// Renews every ttl/5 on a client of its own; after a failure, again within a second.
void FleetLock::renew_loop() {
  platform::block_signals_in_this_thread();
  EtcdClient client(client_->settings());
  const auto every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ttl_s_ / 5));
  const auto retry = std::min<Clock::duration>(every, std::chrono::seconds(1));
  SteadyTime next = Clock::now() + every;
  std::unique_lock<std::mutex> guard(shared_->mutex);
  while (!shared_->stop) {
    if (shared_->wake.wait_until(guard, next, [this] { return shared_->stop; })) break;
    guard.unlock();
    const SteadyTime sent = Clock::now();
    auto left = client.keep_alive(lease_);
    guard.lock();
    if (left && *left > 0) {
      shared_->confirmed = sent;
      shared_->failure.clear();
      next = sent + every;
    } else if (left) {
      shared_->failure = "etcd says the lease has expired";
      gone_ = true;
      shared_->notifier->notify();
      return;
    } else {
      shared_->failure = left.error().message;
      next = Clock::now() + retry;
    }
    shared_->notifier->notify();
  }
}

NativeHandle FleetLock::wake_handle() const { return shared_->notifier->handle(); }

void FleetLock::clear_wake() { shared_->notifier->clear(); }

SteadyTime FleetLock::fence_deadline(double stop_timeout_s) const {
  if (gone_) return Clock::now();
  std::lock_guard<std::mutex> guard(shared_->mutex);
  return shared_->confirmed +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ttl_s_ - stop_timeout_s - 1));
}

std::string FleetLock::failure() const {
  std::lock_guard<std::mutex> guard(shared_->mutex);
  return shared_->failure.empty() ? "no renewal confirmed in time" : shared_->failure;
}

void FleetLock::update(const std::string& record_json) {
  if (Status s = client_->put(key_, record_json, lease_); !s) {
    log::warn("cannot update {} in etcd: {}", key_, s.error().message);
  }
}

void FleetLock::release() {
  {
    std::lock_guard<std::mutex> guard(shared_->mutex);
    if (shared_->released) return;
    shared_->released = true;
    shared_->stop = true;
  }
  shared_->wake.notify_all();
  if (shared_->thread.joinable()) shared_->thread.join();
  if (gone_) return;  // nothing left to revoke
  if (Status s = client_->revoke(lease_); !s) {
    log::warn("cannot revoke the lease of {}: {}; it expires by itself", key_, s.error().message);
  }
}

std::variant<std::unique_ptr<FleetLock>, FleetHolder, Error> FleetLock::acquire_waiting(
    const FleetSettings& settings, const std::string& name, const std::string& record_json, double wait_s) {
  const auto give_up_at =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
  const std::atomic<bool> never{false};
  for (;;) {
    auto taken = acquire(settings, name, record_json);
    if (!std::holds_alternative<FleetHolder>(taken) || wait_s <= 0 || Clock::now() >= give_up_at) return taken;
    EtcdClient client(settings);
    auto deleted = client.wait_deleted(settings.prefix + "locks/" + name, std::get<FleetHolder>(taken).seen_at,
                                       give_up_at, never);
    if (!deleted) {  // every member cut the watch: the name may be free; try again within a second
      log::warn("watching {} in the fleet: {}; trying again", name, deleted.error().message);
      std::this_thread::sleep_until(std::min(give_up_at, Clock::now() + std::chrono::seconds(1)));
    } else if (!*deleted) {
      return taken;  // the wait is over
    }
  }
}

Result<FleetSettings> resolve_fleet_settings(const FleetOptions& options, double stop_timeout_s) {
  auto endpoints = parse_fleet_endpoints(options.etcd);
  if (!endpoints) return endpoints.error();
  if (Status s = check_fleet_timing(options.ttl_s, stop_timeout_s); !s) return s.error();
  FleetSettings settings;
  settings.endpoints = std::move(*endpoints);
  settings.prefix = options.prefix;
  settings.ttl_s = options.ttl_s;
  settings.cacert = options.cacert;
  settings.cert = options.cert;
  settings.key = options.key;
  return settings;
}

}  // namespace qc
