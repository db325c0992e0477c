// Readiness probes on threads: tcp (a connect succeeds) and heartbeat (Protocol v1.0).
#include "qc/probe.hpp"

#include <algorithm>
#include <chrono>

#include "qc/heartbeat.hpp"
#include "qc/net.hpp"

namespace qc {

Result<std::unique_ptr<ReadinessProbe>> ReadinessProbe::start(const ReadySpec& spec, bool once) {
  auto done = Notifier::create();
  if (!done) return done.error();
  auto cancel = Notifier::create();
  if (!cancel) return cancel.error();
  std::unique_ptr<ReadinessProbe> probe(
      new ReadinessProbe(spec, once, std::move(*done), std::move(*cancel)));
  probe->thread_ = std::thread([p = probe.get()] { p->run(); });
  return probe;
}

ReadinessProbe::ReadinessProbe(ReadySpec spec, bool once, std::unique_ptr<Notifier> done,
                               std::unique_ptr<Notifier> cancel)
    : spec_(std::move(spec)), once_(once), done_(std::move(done)), cancel_(std::move(cancel)) {}

ReadinessProbe::~ReadinessProbe() {
  cancel_->notify();
  if (thread_.joinable()) thread_.join();
}

std::optional<bool> ReadinessProbe::outcome() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outcome_;
}

std::string ReadinessProbe::last_failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_failure_;
}

void ReadinessProbe::run() {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + duration_cast<steady_clock::duration>(
                                                   duration<double>(spec_.timeout_s));
  std::string host, port;
  if (spec_.kind == ReadySpec::Kind::kTcp) {
    split_host_port(spec_.target, host, port);  // validated when the config was read
  }
  heartbeat::Client client;
  // Retries start fast and slow down: the port opening is not an event we can wait for.
  int retry_ms = 10;
  for (;;) {
    const auto left_ms = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left_ms <= 0) break;
    const int attempt_ms = static_cast<int>(once_ ? left_ms : std::min<long long>(left_ms, 1000));
    std::string why;
    ProbeOutcome result;
    if (spec_.kind == ReadySpec::Kind::kHeartbeat) {
      heartbeat::ProbeOptions options;
      options.endpoint = spec_.target;
      options.timeout_s = attempt_ms / 1000.0;
      const auto report = client.probe(options, cancel_->handle());
      result = report.interrupted ? ProbeOutcome::kCancelled
               : report.outcome == heartbeat::Outcome::kOk ? ProbeOutcome::kSucceeded
                                                           : ProbeOutcome::kFailed;
      why = report.problem.empty() ? report.error.value_or("") : report.problem;
    } else {
      result = tcp_connect_probe(host, port, attempt_ms, cancel_->handle(), why);
    }
    if (result == ProbeOutcome::kCancelled) return;
    if (result == ProbeOutcome::kSucceeded) {
      std::lock_guard<std::mutex> lock(mutex_);
      outcome_ = true;
      done_->notify();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_failure_ = why;
    }
    if (once_) break;
    const auto wait_ms = std::min<long long>(
        retry_ms, duration_cast<milliseconds>(deadline - steady_clock::now()).count());
    if (wait_ms > 0 && wait_cancelled(cancel_->handle(), static_cast<int>(wait_ms))) return;
    retry_ms = std::min(retry_ms * 2, 200);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  outcome_ = false;
  done_->notify();
}

}  // namespace qc
