// Health checks on one thread (health.hpp). The thread sleeps in zmq_poll on an inproc PAIR
// socket (commands from the loop's thread), each heartbeat's REQ socket and each TCP
// connect's socket, with the earliest check deadline as the timeout.
#include "qc/health.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <zmq.hpp>

#include "qc/engine.hpp"
#include "qc/event_loop.hpp"
#include "qc/net.hpp"
#include "qc/protocol.hpp"

namespace qc {
namespace {

using Clock = std::chrono::steady_clock;

struct Command {
  bool begin = false;
  std::size_t key = 0;
  std::uint64_t generation = 0;
  ReadySpec spec;
};

struct CheckResult {
  std::size_t key = 0;
  std::uint64_t generation = 0;  // which check of that key it answers
  bool healthy = false;
  std::string why;
};

std::string timeout_text(double s) {
  std::ostringstream out;
  out << "no answer within " << s << "s";
  return out.str();
}

}  // namespace

struct HealthChecker::Impl {
  zmq::context_t context{1};
  zmq::socket_t commands_in{context, zmq::socket_type::pair};
  zmq::socket_t commands_out{context, zmq::socket_type::pair};  // the loop's thread only
  std::unique_ptr<Notifier> done;
  std::thread thread;

  std::mutex mutex;
  std::vector<Command> pending;
  std::vector<CheckResult> outcomes;
  std::map<std::size_t, std::uint64_t> current;  // the check each key waits for (0: none)
  std::uint64_t generations = 0;
  bool stopping = false;

  // The thread's own state.
  struct Check {
    std::uint64_t generation = 0;
    ReadySpec spec;
    Clock::time_point deadline;
    std::string req_id;                  // heartbeat
    std::unique_ptr<TcpConnect> connect;  // tcp
  };
  struct Peer {
    std::string endpoint;
    std::unique_ptr<zmq::socket_t> socket;
  };
  std::map<std::size_t, Check> checks;
  std::map<std::size_t, Peer> peers;  // heartbeat sockets kept between checks

  void run();
  void begin(const Command& c, std::vector<CheckResult>& out);
  void drop(std::size_t key);
  void wake() {
    commands_out.send(zmq::str_buffer("!"), zmq::send_flags::dontwait);
  }
};

void HealthChecker::Impl::drop(std::size_t key) {
  auto it = checks.find(key);
  if (it == checks.end()) return;
  // A REQ socket that waits for a reply cannot send again: a fresh one next time.
  if (it->second.spec.kind == ReadySpec::Kind::kHeartbeat) peers.erase(key);
  checks.erase(it);
}

void HealthChecker::Impl::begin(const Command& c, std::vector<CheckResult>& out) {
  const std::size_t key = c.key;
  const ReadySpec& spec = c.spec;
  const std::uint64_t gen = c.generation;
  drop(key);
  Check check;
  check.generation = gen;
  check.spec = spec;
  check.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.timeout_s));
  if (spec.kind == ReadySpec::Kind::kHeartbeat) {
    Peer& peer = peers[key];
    if (!peer.socket || peer.endpoint != spec.target) {
      try {
        peer.socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::req);
        peer.socket->set(zmq::sockopt::linger, 0);
        peer.socket->set(zmq::sockopt::maxmsgsize, std::int64_t{16} * 1024 * 1024);
        peer.socket->connect(spec.target);
        peer.endpoint = spec.target;
      } catch (const zmq::error_t& e) {
        peers.erase(key);
        out.push_back({key, gen, false, std::string("cannot connect to ") + spec.target + ": " + e.what()});
        return;
      }
    }
    check.req_id = protocol::new_request_id();
    const std::string request = protocol::make_request("HEARTBEAT", check.req_id, "{}");
    try {
      peer.socket->send(zmq::buffer(request), zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      peers.erase(key);
      out.push_back({key, gen, false, std::string("cannot send to ") + spec.target + ": " + e.what()});
      return;
    }
  } else {
    std::string host, port;
    split_host_port(spec.target, host, port);  // validated when the config was read
    check.connect = std::make_unique<TcpConnect>(host, port);
    if (check.connect->done()) {
      out.push_back({key, gen, check.connect->succeeded(), check.connect->why()});
      return;
    }
  }
  checks.emplace(key, std::move(check));
}

void HealthChecker::Impl::run() {
  std::vector<zmq::pollitem_t> items;
  std::vector<std::size_t> keys;  // items[i + 1] checks keys[i]
  for (;;) {
    items.clear();
    keys.clear();
    items.push_back({commands_in.handle(), 0, ZMQ_POLLIN, 0});
    std::optional<Clock::time_point> deadline;
    for (auto& [key, check] : checks) {
      if (check.connect) {
        items.push_back({nullptr, static_cast<zmq::fd_t>(check.connect->socket()), ZMQ_POLLOUT | ZMQ_POLLERR, 0});
      } else {
        items.push_back({peers[key].socket->handle(), 0, ZMQ_POLLIN, 0});
      }
      keys.push_back(key);
      if (!deadline || check.deadline < *deadline) deadline = check.deadline;
    }
    long timeout_ms = -1;
    if (deadline) {
      timeout_ms = static_cast<long>(std::max<long long>(
          0, std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count()));
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return;  // ETERM: the context is shutting down
    }
    std::vector<CheckResult> out;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (items[i + 1].revents == 0) continue;
      const std::size_t key = keys[i];
      auto it = checks.find(key);
      if (it == checks.end()) continue;
      Check& check = it->second;
      if (check.connect) {
        check.connect->on_ready();
        if (!check.connect->done()) continue;
        out.push_back({key, check.generation, check.connect->succeeded(), check.connect->why()});
        checks.erase(it);
        continue;
      }
      zmq::message_t reply;
      std::string text;
      bool more = false;
      try {
        if (!peers[key].socket->recv(reply, zmq::recv_flags::dontwait)) continue;
        text = reply.to_string();
        more = reply.more();
        while (more) {
          zmq::message_t rest;
          if (!peers[key].socket->recv(rest, zmq::recv_flags::dontwait)) break;
          more = rest.more();
          text.clear();
        }
      } catch (const zmq::error_t& e) {
        out.push_back({key, check.generation, false, e.what()});
        drop(key);
        continue;
      }
      const auto verdict = protocol::check_reply(text, check.req_id);
      out.push_back({key, check.generation, verdict.verdict == protocol::ReplyCheck::Verdict::kSuccess, verdict.problem});
      if (verdict.verdict != protocol::ReplyCheck::Verdict::kSuccess) peers.erase(key);  // a fresh socket next time
      checks.erase(it);
    }
    const auto now = Clock::now();
    for (auto it = checks.begin(); it != checks.end();) {
      if (now < it->second.deadline) {
        ++it;
        continue;
      }
      const std::size_t key = it->first;
      const Check& late = it->second;
      const bool said = late.connect && !late.connect->why().empty();
      out.push_back({key, late.generation, false, said ? late.connect->why() : timeout_text(late.spec.timeout_s)});
      if (!it->second.connect) peers.erase(key);
      it = checks.erase(it);
    }
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t ignored;
      try {
        while (commands_in.recv(ignored, zmq::recv_flags::dontwait)) {
        }
      } catch (const zmq::error_t&) {
        return;
      }
      std::vector<Command> todo;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (stopping) return;
        todo.swap(pending);
      }
      for (const auto& c : todo) {
        if (c.begin) {
          begin(c, out);
        } else {
          drop(c.key);
        }
      }
    }
    if (!out.empty()) {
      std::lock_guard<std::mutex> lock(mutex);
      outcomes.insert(outcomes.end(), out.begin(), out.end());
      done->notify();
    }
  }
}

HealthChecker::HealthChecker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HealthChecker>> HealthChecker::start() {
  auto impl = std::make_unique<Impl>();
  auto done = Notifier::create();
  if (!done) return done.error();
  impl->done = std::move(*done);
  try {
    const std::string address = "inproc://qc-health-" + std::to_string(reinterpret_cast<std::uintptr_t>(impl.get()));
    impl->commands_in.bind(address);
    impl->commands_out.connect(address);
    impl->commands_in.set(zmq::sockopt::linger, 0);
    impl->commands_out.set(zmq::sockopt::linger, 0);
  } catch (const zmq::error_t& e) {
    return Error{std::string("cannot set up health checks: ") + e.what(), e.num()};
  }
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<HealthChecker>(new HealthChecker(std::move(impl)));
}

HealthChecker::~HealthChecker() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->peers.clear();
  impl_->checks.clear();
  impl_->commands_in.close();
  impl_->commands_out.close();
  impl_->context.close();
}

NativeHandle HealthChecker::wake_handle() const { return impl_->done->handle(); }

void HealthChecker::begin(std::size_t key, const ReadySpec& spec) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    const std::uint64_t gen = ++impl_->generations;
    impl_->current[key] = gen;
    impl_->pending.push_back({true, key, gen, spec});
  }
  impl_->wake();
}

void HealthChecker::cancel(std::size_t key) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->current[key] = 0;  // whatever comes for it now is about a check nobody waits for
    impl_->pending.push_back({false, key, 0, {}});
  }
  impl_->wake();
}

std::vector<HealthChecker::Outcome> HealthChecker::take() {
  impl_->done->clear();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<Outcome> out;
  for (const auto& r : impl_->outcomes) {
    auto& waited = impl_->current[r.key];
    if (waited != r.generation) continue;  // cancelled, or replaced by a newer check
    waited = 0;
    out.push_back({r.key, r.healthy, r.why});
  }
  impl_->outcomes.clear();
  return out;
}

std::string check_text(const ReadySpec& r) {
  switch (r.kind) {
    case ReadySpec::Kind::kTcp: return "tcp " + r.target;
    case ReadySpec::Kind::kHeartbeat: return "heartbeat " + r.target;
    case ReadySpec::Kind::kNone: break;
  }
  return "-";
}

EngineHealthChecks::~EngineHealthChecks() {
  if (checker_) loop_.unwatch_readable(checker_->wake_handle());
}

Status EngineHealthChecks::begin(std::size_t index, double timeout_s) {
  auto it = checks_.find(index);
  if (it == checks_.end()) return Error{"no health check is set for this program", 0};
  if (!checker_) {
    auto started = HealthChecker::start();
    if (!started) return started.error();
    checker_ = std::move(*started);
    loop_.watch_readable(checker_->wake_handle());
  }
  ReadySpec once = it->second;
  once.timeout_s = timeout_s;
  checker_->begin(index, once);
  return {};
}

void EngineHealthChecks::cancel(std::size_t index) {
  if (checker_) checker_->cancel(index);
}

void EngineHealthChecks::deliver(const std::vector<NativeHandle>& readable, SupervisionEngine& engine, SteadyTime now) {
  if (!checker_ || std::find(readable.begin(), readable.end(), checker_->wake_handle()) == readable.end()) return;
  for (const auto& o : checker_->take()) {
    engine.on_health_result(o.key, o.healthy, check_text(checks_[o.key]) + ": " + o.why, now);
  }
}

}  // namespace qc
