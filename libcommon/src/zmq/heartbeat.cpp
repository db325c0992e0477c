// Protocol v1.0 over ZeroMQ with cppzmq: every socket has linger 0 and every receive a
// deadline, so nothing can hang (docs/protocol.md: the process never outlives its timeouts).
#include "qc/heartbeat.hpp"

#include <chrono>
#include <climits>
#include <cstdint>
#include <vector>

#include <zmq.hpp>
#ifdef _WIN32
#include <windows.h>
#endif

#include "qc/net.hpp"
#include "qc/protocol.hpp"

namespace qc::heartbeat {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kMaxMessageBytes = 16 * 1024 * 1024;
// A responder runs for weeks and must not be grown by a client: a Protocol v1.0 request is
// a few hundred bytes, so one over 64 KiB drops that client's connection (libzmq checks the
// size before it allocates), and at most 100 requests (and 100 replies) wait per client.
// Worst case held: 100 x 64 KiB per connected client. docs/protocol.md lists these limits.
constexpr std::int64_t kMaxRequestBytes = 64 * 1024;
constexpr int kResponderQueue = 100;

zmq::context_t& context() {
  static zmq::context_t ctx(1);
  return ctx;
}

std::unique_ptr<zmq::socket_t> make_socket(zmq::socket_type type) {
  auto s = std::make_unique<zmq::socket_t>(context(), type);
  s->set(zmq::sockopt::linger, 0);
  s->set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
  return s;
}

enum class Ready { kSocket, kInterrupt, kTimeout };

bool shut_down(const zmq::error_t& e) { return e.num() == ETERM; }

// Waits for `socket` to be readable. With an interrupt handle that means zmq_poll on both;
// without one, nothing to poll: the caller receives with a timeout instead.
#ifdef _WIN32
// Windows: `interrupt` is an event, which zmq_poll cannot wait on (it takes sockets only and
// fails with "Unknown error" on anything else): the socket is polled in slices of 20 ms
// with a look at the event between them.
Ready wait_for(zmq::socket_t& socket, NativeHandle interrupt, Clock::time_point deadline) {
  std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
  for (;;) {
    if (WaitForSingleObject(reinterpret_cast<HANDLE>(static_cast<std::intptr_t>(interrupt)), 0) == WAIT_OBJECT_0) return Ready::kInterrupt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Ready::kTimeout;
    try {
      zmq::poll(items.data(), items.size(), std::min(left, std::chrono::milliseconds(20)));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    if (items[0].revents & ZMQ_POLLIN) return Ready::kSocket;
  }
}
#else
Ready wait_for(zmq::socket_t& socket, NativeHandle interrupt, Clock::time_point deadline) {
  std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
  if (interrupt != kInvalidHandle) {
    items.push_back({nullptr, static_cast<zmq::fd_t>(interrupt), ZMQ_POLLIN, 0});
  }
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Ready::kTimeout;
    try {
      zmq::poll(items.data(), items.size(), left);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    if (items.size() > 1 && (items[1].revents & ZMQ_POLLIN)) return Ready::kInterrupt;
    if (items[0].revents & ZMQ_POLLIN) return Ready::kSocket;
  }
}
#endif

// Receives every frame of one message; the first frame waits until `deadline` (blocking in
// ZeroMQ, or after a zmq_poll when there is an interrupt handle). Empty on timeout; the
// error ETERM when interrupt_all() was called.
Ready receive_all(zmq::socket_t& socket, NativeHandle interrupt, Clock::time_point deadline,
                  std::vector<zmq::message_t>& parts) {
  parts.clear();
  zmq::recv_flags first = zmq::recv_flags::dontwait;
  if (interrupt != kInvalidHandle) {
    const Ready ready = wait_for(socket, interrupt, deadline);
    if (ready != Ready::kSocket) return ready;
  } else if (deadline == Clock::time_point::max()) {
    socket.set(zmq::sockopt::rcvtimeo, -1);
    first = zmq::recv_flags::none;
  } else {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Ready::kTimeout;
    socket.set(zmq::sockopt::rcvtimeo, static_cast<int>(std::min<long long>(left.count(), INT32_MAX)));
    first = zmq::recv_flags::none;
  }
  do {
    zmq::message_t part;
    try {
      if (!socket.recv(part, parts.empty() ? first : zmq::recv_flags::dontwait)) break;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      if (shut_down(e)) return Ready::kInterrupt;
      throw;
    }
    parts.push_back(std::move(part));
  } while (socket.get(zmq::sockopt::rcvmore));
  return parts.empty() ? Ready::kTimeout : Ready::kSocket;
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// After a timeout: is anything listening at all? A refused TCP connect says no.
std::string diagnose_silence(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) != 0) return "";
  std::string host, port;
  if (!split_host_port(endpoint.substr(6), host, port) || host == "*") return "";
  std::string why;
  if (tcp_connect_probe(host, port, 300, kInvalidHandle, why) == ProbeOutcome::kFailed) {
    return " (" + why + ": nothing listens on " + endpoint + ")";
  }
  return " (a peer accepts connections but does not answer)";
}

}  // namespace

void interrupt_all() { zmq_ctx_shutdown(context().handle()); }

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "OK";
    case Outcome::kWarning: return "WARNING";
    case Outcome::kCritical: return "CRITICAL";
    case Outcome::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

struct Client::Impl {
  std::unique_ptr<zmq::socket_t> socket;
  std::string endpoint;
};

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::~Client() = default;

ProbeReport Client::probe(const ProbeOptions& o, NativeHandle interrupt) {
  ProbeReport report;
  report.req_id = protocol::new_request_id();
  const std::string request = protocol::make_request(o.action, report.req_id, o.payload_json);
  const auto per_attempt = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.timeout_s));
  try {
    for (int attempt = 0; attempt <= o.retries; ++attempt) {
      if (!impl_->socket || impl_->endpoint != o.endpoint) {
        impl_->socket = make_socket(zmq::socket_type::req);
        impl_->socket->connect(o.endpoint);
        impl_->endpoint = o.endpoint;
      }
      ++report.attempts;
      const auto sent = Clock::now();
      impl_->socket->send(zmq::buffer(request), zmq::send_flags::none);
      std::vector<zmq::message_t> parts;
      const Ready ready = receive_all(*impl_->socket, interrupt, sent + per_attempt, parts);
      if (ready == Ready::kInterrupt) {
        impl_->socket.reset();
        report.interrupted = true;
        report.error = "interrupted";
        return report;
      }
      if (ready == Ready::kTimeout) {
        impl_->socket.reset();  // linger 0: the request is dropped, not sent later
        continue;
      }
      report.rtt_ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
      if (parts.size() != 1) {
        impl_->socket.reset();
        report.error = "malformed reply: " + std::to_string(parts.size()) + " frames, not one";
        return report;
      }
      const auto check = protocol::check_reply(parts[0].to_string_view(), report.req_id);
      report.status = check.status;
      report.data_json = check.data_json;
      if (check.verdict == protocol::ReplyCheck::Verdict::kSuccess) {
        report.outcome = Outcome::kOk;
        report.error = check.error;
      } else if (check.verdict == protocol::ReplyCheck::Verdict::kNotSuccess) {
        report.error = check.error;  // the peer's words, unprefixed ("gateway busy")
        report.problem = check.problem;
      } else {
        report.error = check.problem;
        impl_->socket.reset();  // a REQ socket out of step with its peer cannot be reused
      }
      return report;
    }
  } catch (const zmq::error_t& e) {
    impl_->socket.reset();
    if (shut_down(e)) {
      report.interrupted = true;
      report.error = "interrupted";
      return report;
    }
    report.error = "cannot talk to " + o.endpoint + ": " + e.what();
    return report;
  }
  report.error = "no reply within " + format_seconds(o.timeout_s) + "s" +
                 (report.attempts > 1 ? " (" + std::to_string(report.attempts) + " attempts)" : "") +
                 diagnose_silence(o.endpoint);
  return report;
}

struct Responder::Impl {
  std::unique_ptr<zmq::socket_t> socket;
  std::string service;
};

Responder::Responder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Responder::~Responder() = default;

Result<std::unique_ptr<Responder>> Responder::bind(const std::string& endpoint,
                                                   const std::string& service) {
  auto impl = std::make_unique<Impl>();
  impl->service = service;
  try {
    impl->socket = make_socket(zmq::socket_type::rep);
    impl->socket->set(zmq::sockopt::maxmsgsize, kMaxRequestBytes);
    impl->socket->set(zmq::sockopt::rcvhwm, kResponderQueue);
    impl->socket->set(zmq::sockopt::sndhwm, kResponderQueue);
    impl->socket->bind(endpoint);
  } catch (const zmq::error_t& e) {
    return Error{"cannot serve on " + endpoint + ": " + e.what() +
                     (e.num() == EADDRINUSE ? " (another process listens there)" : ""),
                 e.num()};
  }
  return std::unique_ptr<Responder>(new Responder(std::move(impl)));
}

Result<std::uint64_t> Responder::serve(NativeHandle interrupt) {
  std::uint64_t answered = 0;
  auto& socket = *impl_->socket;
  std::vector<zmq::message_t> parts;
  try {
    for (;;) {
      const Ready ready = receive_all(socket, interrupt, Clock::time_point::max(), parts);
      if (ready == Ready::kInterrupt) return answered;
      if (parts.empty()) continue;
      const std::string reply = parts.size() == 1
                                    ? protocol::respond(parts[0].to_string_view(), impl_->service)
                                    : protocol::respond("", impl_->service);
      socket.send(zmq::buffer(reply), zmq::send_flags::none);
      ++answered;
    }
  } catch (const zmq::error_t& e) {
    if (shut_down(e)) return answered;
    return Error{std::string("the responder failed: ") + e.what(), e.num()};
  }
}

Result<std::optional<Published>> first_published(const std::string& endpoint, double timeout_s,
                                                 NativeHandle interrupt, bool* interrupted) {
  try {
    auto socket = make_socket(zmq::socket_type::sub);
    socket->set(zmq::sockopt::subscribe, "");
    socket->connect(endpoint);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout_s));
    std::vector<zmq::message_t> parts;
    const Ready ready = receive_all(*socket, interrupt, deadline, parts);
    if (ready == Ready::kInterrupt && interrupted != nullptr) *interrupted = true;
    if (ready != Ready::kSocket) return std::optional<Published>();
    Published p;
    for (auto& part : parts) {
      if (p.frames == 0) {
        const auto view = part.to_string_view();
        for (char c : view.substr(0, 60)) p.preview += (c >= 0x20 && c < 0x7f) ? c : '.';
      }
      ++p.frames;
      p.bytes += part.size();
    }
    return std::optional<Published>(p);
  } catch (const zmq::error_t& e) {
    if (shut_down(e)) {
      if (interrupted != nullptr) *interrupted = true;
      return std::optional<Published>();
    }
    return Error{"cannot subscribe to " + endpoint + ": " + e.what(), e.num()};
  }
}

}  // namespace qc::heartbeat
