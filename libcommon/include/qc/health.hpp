// Health checks of every program of a supervisor on one thread (docs/config.md#health): each
// check is one attempt bounded by its timeout, all of them multiplexed in one zmq_poll, so a
// check that hangs costs nothing but its own timeout and 50 programs checked every second
// cost one thread's wake-ups. A heartbeat check keeps its program's REQ socket between
// checks while it answers (a fresh one after a failure: the Lazy Pirate pattern); a TCP
// check is a non-blocking connect. Part of qc_common_zmq.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <map>

#include "qc/clock.hpp"
#include "qc/event_loop.hpp"
#include "qc/native_handle.hpp"
#include "qc/probe.hpp"
#include "qc/result.hpp"

namespace qc {

class HealthChecker {
 public:
  static Result<std::unique_ptr<HealthChecker>> start();
  ~HealthChecker();  // cancels every check and joins the thread
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Readable while outcomes wait for take().
  NativeHandle wake_handle() const;
  // Begins one check of program `key` (spec.timeout_s bounds it); one in flight for `key`
  // is dropped first. Cancels one; its outcome never comes.
  void begin(std::size_t key, const ReadySpec& spec);
  void cancel(std::size_t key);

  struct Outcome {
    std::size_t key = 0;
    bool healthy = false;
    std::string why;  // why not
  };
  std::vector<Outcome> take();

 private:
  struct Impl;
  explicit HealthChecker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class SupervisionEngine;

// A supervisor's side of the engine's health checks (EngineHost::begin_health_check and
// cancel_health_check), the same for qc-run and qc-launch: one HealthChecker, started with
// the first check, whose outcomes go back to the engine.
class EngineHealthChecks {
 public:
  explicit EngineHealthChecks(EventLoop& loop) : loop_(loop) {}
  ~EngineHealthChecks();
  // What program `index` is checked with.
  void set(std::size_t index, const ReadySpec& check) { checks_[index] = check; }
  Status begin(std::size_t index, double timeout_s);
  void cancel(std::size_t index);
  // When the checker woke the loop (its handle is in `readable`): each outcome to the engine.
  void deliver(const std::vector<NativeHandle>& readable, SupervisionEngine& engine, SteadyTime now);

 private:
  EventLoop& loop_;
  std::unique_ptr<HealthChecker> checker_;
  std::map<std::size_t, ReadySpec> checks_;
};

// "heartbeat tcp://127.0.0.1:5555", "tcp 127.0.0.1:8000": a check as messages name it.
std::string check_text(const ReadySpec& check);

}  // namespace qc
