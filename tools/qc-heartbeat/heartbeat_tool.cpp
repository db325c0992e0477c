// qc-heartbeat's modes. The main thread blocks in ZeroMQ itself (a receive with a timeout:
// no zmq_poll per message, which keeps round trips short); a watcher thread reads the
// signals and, on SIGINT/SIGTERM, makes every blocking ZeroMQ call return at once.
#include "heartbeat_tool.hpp"

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "qc/event_loop.hpp"
#include "qc/exit_codes.hpp"
#include "qc/heartbeat.hpp"
#include "qc/log.hpp"
#include "qc/process.hpp"
#include "qc/protocol.hpp"

namespace qc::heartbeat_tool {
namespace {

using heartbeat::Outcome;
using json = nlohmann::json;

int exit_code_of(Outcome o) {
  switch (o) {
    case Outcome::kOk: return exit_code::plugin::kOk;
    case Outcome::kWarning: return exit_code::plugin::kWarning;
    case Outcome::kCritical: return exit_code::plugin::kCritical;
    case Outcome::kUnknown: return exit_code::plugin::kUnknown;
  }
  return exit_code::plugin::kUnknown;
}

Outcome worse(Outcome a, Outcome b) { return exit_code_of(a) >= exit_code_of(b) ? a : b; }

// Reads SIGINT/SIGTERM on its own thread: sets the stop flag, wakes interval waits, and
// interrupts whatever ZeroMQ call the main thread blocks in.
class SignalWatcher {
 public:
  SignalWatcher(EventLoop& loop, Notifier& done) : loop_(loop), done_(done) {
    loop_.watch_readable(done_.handle());
    thread_ = std::thread([this] { run(); });
  }
  ~SignalWatcher() {
    done_.notify();
    thread_.join();
  }
  bool stop_requested() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
  }
  // Waits `seconds`; true when a stop was requested meanwhile.
  bool sleep_unless_stopped(double seconds) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stop_; });
  }

 private:
  void run() {
    for (;;) {
      auto events = loop_.wait(std::nullopt);
      if (!events) return;
      if (!events->signals.empty()) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          stop_ = true;
        }
        cv_.notify_all();
        heartbeat::interrupt_all();
        return;
      }
      if (!events->readable.empty()) return;  // the main thread is done
    }
  }

  EventLoop& loop_;
  Notifier& done_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
};

std::string rtt_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rtt=%.2fms", ms);
  return buf;
}

// service="MT5 Gateway" for a heartbeat's data, data=... for anything else.
std::string data_text(const std::string& data_json) {
  const json data = json::parse(data_json, nullptr, false);
  if (!data.is_discarded() && data.is_object()) {
    auto service = data.find("service");
    if (service != data.end() && service->is_string()) {
      return "service=" + service->dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  if (data_json == "null") return "";
  return "data=" + (data_json.size() > 200 ? data_json.substr(0, 200) + "..." : data_json);
}

void print_probe(const Options& o, const heartbeat::ProbeReport& r, Outcome outcome) {
  if (o.json) {
    nlohmann::ordered_json j;
    j["endpoint"] = o.endpoint;
    j["action"] = o.action;
    j["req_id"] = r.req_id;
    j["status"] = r.status ? nlohmann::ordered_json(*r.status) : nlohmann::ordered_json(nullptr);
    j["rtt_ms"] = r.rtt_ms ? nlohmann::ordered_json(*r.rtt_ms) : nlohmann::ordered_json(nullptr);
    j["data"] = nlohmann::ordered_json::parse(r.data_json, nullptr, false);
    if (j["data"].is_discarded()) j["data"] = nullptr;
    j["error"] = r.error ? nlohmann::ordered_json(*r.error) : nlohmann::ordered_json(nullptr);
    j["result"] = heartbeat::outcome_name(outcome);
    std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
    return;
  }
  std::string line = std::string(heartbeat::outcome_name(outcome)) + " " + o.endpoint + " " + o.action;
  if (r.rtt_ms) line += " " + rtt_text(*r.rtt_ms);
  if (outcome == Outcome::kWarning) {
    line += " (slower than " + log::format("{}", {*o.warn_ms}) + "ms)";
  }
  if (r.outcome == Outcome::kOk) {
    const std::string data = data_text(r.data_json);
    if (!data.empty()) line += " " + data;
  } else if (!r.problem.empty()) {
    line += " " + r.problem;
  } else if (r.error) {
    line += " " + *r.error;
  }
  std::cout << line << std::endl;
}

int probe(const Options& o, SignalWatcher& watcher) {
  heartbeat::Client client;
  heartbeat::ProbeOptions p;
  p.endpoint = o.endpoint;
  p.action = o.action;
  p.payload_json = o.payload;
  p.timeout_s = o.timeout_s;
  p.retries = o.retries;
  std::optional<Outcome> worst;
  for (long long n = 0; o.count == 0 || n < o.count; ++n) {
    if (n > 0 && o.interval_s > 0 && watcher.sleep_unless_stopped(o.interval_s)) break;
    if (watcher.stop_requested()) break;
    const auto report = client.probe(p, kInvalidHandle);
    if (report.interrupted) break;
    Outcome outcome = report.outcome;
    if (outcome == Outcome::kOk && o.warn_ms && report.rtt_ms && *report.rtt_ms > *o.warn_ms) {
      outcome = Outcome::kWarning;
    }
    print_probe(o, report, outcome);
    worst = worst ? worse(*worst, outcome) : outcome;
  }
  return exit_code_of(worst.value_or(Outcome::kUnknown));
}

int serve(const Options& o) {
  auto responder = heartbeat::Responder::bind(*o.serve, o.service);
  if (!responder) {
    log::error("{}", responder.error().message);
    return exit_code::plugin::kCritical;
  }
  log::info("serving Protocol v1.0 on {} as \"{}\" until SIGINT or SIGTERM", *o.serve, o.service);
  auto answered = (*responder)->serve(kInvalidHandle);
  if (!answered) {
    log::error("{}", answered.error().message);
    return exit_code::plugin::kCritical;
  }
  log::info("stopped after answering {} request{}", *answered, *answered == 1 ? "" : "s");
  return exit_code::plugin::kOk;
}

int subscribe(const Options& o) {
  bool interrupted = false;
  auto message = heartbeat::first_published(*o.sub, o.timeout_s, kInvalidHandle, &interrupted);
  const std::string prefix = *o.sub + " SUB";
  Outcome outcome = Outcome::kCritical;
  std::string detail;
  if (!message) {
    outcome = Outcome::kUnknown;
    detail = message.error().message;
  } else if (*message) {
    outcome = Outcome::kOk;
    const auto& m = **message;
    detail = "message=" + std::to_string(m.bytes) + "B frames=" + std::to_string(m.frames) +
             " preview=" + json(m.preview).dump();
  } else {
    detail = interrupted ? "interrupted" : "no message within " + log::format("{}", {o.timeout_s}) + "s";
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["endpoint"] = *o.sub;
    j["action"] = "SUB";
    j["result"] = heartbeat::outcome_name(outcome);
    j["bytes"] = message && *message ? nlohmann::ordered_json((*message)->bytes) : nullptr;
    j["error"] = outcome == Outcome::kOk ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(detail);
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << heartbeat::outcome_name(outcome) << " " << prefix << " " << detail << std::endl;
  }
  return exit_code_of(outcome);
}

bool looks_like_endpoint(const std::string& e) {
  for (const char* scheme : {"tcp://", "ipc://", "inproc://", "pgm://", "epgm://", "udp://", "ws://", "wss://"}) {
    if (e.rfind(scheme, 0) == 0 && e.size() > std::char_traits<char>::length(scheme)) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> validate(const Options& o) {
  for (const auto* e : {&o.endpoint, o.serve ? &*o.serve : nullptr, o.sub ? &*o.sub : nullptr}) {
    if (e != nullptr && !looks_like_endpoint(*e)) {
      return "bad endpoint \"" + *e + "\": use tcp://HOST:PORT";
    }
  }
  if (!protocol::is_json_object(o.payload)) return "--payload must be a JSON object, not: " + o.payload;
  if (o.action.empty()) return "--action must not be empty";
  if (!(o.timeout_s > 0)) return "--timeout must be positive";
  return std::nullopt;
}

int run(const Options& o) {
  auto loop = EventLoop::create({Signal::kInterrupt, Signal::kTerminate});
  if (!loop) {
    log::error("{}", loop.error().message);
    return exit_code::plugin::kUnknown;
  }
  auto done = Notifier::create();
  if (!done) {
    log::error("{}", done.error().message);
    return exit_code::plugin::kUnknown;
  }
  // Before any thread starts (the signal watcher, ZeroMQ's I/O thread): they inherit it.
  // The responder is left to the scheduler: it runs for weeks beside busy programs.
  if (o.pin && !o.serve && !o.sub) stay_on_current_cpu();
  SignalWatcher watcher(*loop, **done);
  if (o.serve) return serve(o);
  if (o.sub) return subscribe(o);
  return probe(o, watcher);
}

}  // namespace qc::heartbeat_tool
