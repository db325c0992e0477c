// Readiness and health checks (docs/config.md): observed, never assumed after a sleep. Each
// runs on a thread of its own, retrying until the program answers or the timeout passes (a
// health check: one attempt), and wakes the event loop through a notifier when it knows.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "qc/event_loop.hpp"

namespace qc {

// What to check: a TCP connect to HOST:PORT, or a Protocol v1.0 HEARTBEAT to tcp://HOST:PORT.
struct ReadySpec {
  enum class Kind { kNone, kTcp, kHeartbeat };
  Kind kind = Kind::kNone;
  std::string target;  // "HOST:PORT" or "tcp://HOST:PORT"
  double timeout_s = 30;
};

class ReadinessProbe {
 public:
  // Retries until the program answers or spec.timeout_s passes; with `once` (a health check)
  // makes one attempt bounded by the timeout.
  static Result<std::unique_ptr<ReadinessProbe>> start(const ReadySpec& spec, bool once = false);
  ~ReadinessProbe();  // cancels and joins

  // Readable once the outcome is known.
  NativeHandle wake_handle() const { return done_->handle(); }
  // nullopt while pending; true when ready, false when the timeout passed.
  std::optional<bool> outcome() const;
  // The last reason an attempt failed ("Connection refused").
  std::string last_failure() const;

 private:
  ReadinessProbe(ReadySpec spec, bool once, std::unique_ptr<Notifier> done, std::unique_ptr<Notifier> cancel);
  void run();

  ReadySpec spec_;
  bool once_ = false;
  std::unique_ptr<Notifier> done_;
  std::unique_ptr<Notifier> cancel_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::optional<bool> outcome_;
  std::string last_failure_;
};

}  // namespace qc
