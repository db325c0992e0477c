// The control channel (control.hpp): a REP socket in a context of its own, served by one
// thread that blocks in ZeroMQ and hands each request to the event loop. Stopping it is
// zmq_ctx_shutdown on that context, which wakes the blocked receive on every platform.
#include "qc/control.hpp"

#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <optional>
#include <thread>

#include <zmq.hpp>

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "platform.hpp"
#include "qc/event_loop.hpp"

namespace qc {
namespace {

// As the heartbeat responder's (docs/protocol.md): a request over 64 KiB drops its
// connection, at most 100 wait per client.
constexpr std::int64_t kMaxRequestBytes = 64 * 1024;
constexpr int kQueue = 100;

}  // namespace

std::string control_bind_address(const std::string& lock_dir, const std::string& name) {
#ifdef _WIN32
  (void)lock_dir;
  (void)name;
  return "tcp://127.0.0.1:*";
#else
  std::error_code ec;
  auto dir = std::filesystem::absolute(lock_dir, ec);
  if (ec) dir = lock_dir;
  return "ipc://" + (dir.lexically_normal() / (name + ".control")).string();
#endif
}

std::string control_secret_path(const std::string& lock_dir, const std::string& name) {
  return (std::filesystem::path(lock_dir) / (name + ".secret")).string();
}

bool control_needs_secret() {
#ifdef _WIN32
  return true;
#else
  return false;
#endif
}

std::string new_control_secret() {
  std::random_device random;
  std::string out;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) out += hex[random() % 16];
  return out;
}

Status write_control_secret(const std::string& lock_dir, const std::string& name, const std::string& secret) {
  return platform::write_private_file(control_secret_path(lock_dir, name), secret);
}

Result<std::string> read_control_secret(const std::string& lock_dir, const std::string& name) {
  const std::string path = control_secret_path(lock_dir, name);
  std::ifstream in(path, std::ios::binary);
  std::string secret;
  if (!in || !std::getline(in, secret) || secret.empty()) {
    return Error{"cannot read the control secret in " + path + " (only the orchestrator's user can)", EACCES};
  }
  return secret;
}

struct ControlServer::Impl {
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> socket;
  std::string endpoint;
  std::string service;
  std::string socket_file;  // ipc: removed at the end
  std::unique_ptr<Notifier> wake;
  std::thread thread;

  std::mutex mutex;
  std::condition_variable answered;
  std::optional<std::string> request;  // waiting for the loop
  std::optional<std::string> reply;
  bool stopping = false;

  void serve();
};

void ControlServer::Impl::serve() {
  try {
    for (;;) {
      zmq::message_t message;
      if (!socket->recv(message, zmq::recv_flags::none)) continue;
      std::string text = message.to_string();
      bool several = message.more();
      while (several) {  // a multi-frame message is not a request: drain it, answer ERROR
        zmq::message_t rest;
        if (!socket->recv(rest, zmq::recv_flags::none)) break;
        several = rest.more();
        text.clear();
      }
      std::string out;
      {
        std::unique_lock<std::mutex> lock(mutex);
        request = std::move(text);
        reply.reset();
        wake->notify();
        answered.wait(lock, [this] { return reply.has_value() || stopping; });
        if (reply) {
          out = std::move(*reply);
          reply.reset();
        } else {
          out = protocol::respond(*request, service, [](const std::string&, const std::string&) {
            return protocol::Answer{false, "null", "the orchestrator is exiting"};
          });
        }
        request.reset();
      }
      socket->send(zmq::buffer(out), zmq::send_flags::none);
    }
  } catch (const zmq::error_t&) {
    // ETERM: the destructor shut the context down.
  }
}

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlServer::~ControlServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->answered.notify_all();
  impl_->context.shutdown();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->socket.reset();
  impl_->context.close();
#ifndef _WIN32
  if (!impl_->socket_file.empty()) ::unlink(impl_->socket_file.c_str());
#endif
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& address, const std::string& service) {
  auto impl = std::make_unique<Impl>();
  impl->service = service;
  auto wake = Notifier::create();
  if (!wake) return wake.error();
  impl->wake = std::move(*wake);
  try {
    impl->socket = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::rep);
    impl->socket->set(zmq::sockopt::linger, 0);
    impl->socket->set(zmq::sockopt::maxmsgsize, kMaxRequestBytes);
    impl->socket->set(zmq::sockopt::rcvhwm, kQueue);
    impl->socket->set(zmq::sockopt::sndhwm, kQueue);
#ifndef _WIN32
    // The socket file is born 0600: connecting to a Unix socket needs write permission on
    // it, so no other user (root aside) can send a request. The bind is synchronous and
    // nothing else of ours creates files meanwhile.
    const mode_t old = ::umask(077);
    try {
      impl->socket->bind(address);
    } catch (...) {
      ::umask(old);
      throw;
    }
    ::umask(old);
    if (address.rfind("ipc://", 0) == 0) {
      impl->socket_file = address.substr(6);
      ::chmod(impl->socket_file.c_str(), 0600);
    }
#else
    impl->socket->bind(address);
#endif
    impl->endpoint = impl->socket->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    std::string hint;
    if (e.num() == EADDRINUSE) hint = " (another process listens there)";
    if (e.num() == ENAMETOOLONG) hint = " (a Unix socket path is limited to 107 bytes: choose a shorter lock directory)";
    return Error{"cannot serve the control channel on " + address + ": " + e.what() + hint, e.num()};
  }
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->serve(); });
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

const std::string& ControlServer::endpoint() const { return impl_->endpoint; }

NativeHandle ControlServer::wake_handle() const { return impl_->wake->handle(); }

void ControlServer::answer(const protocol::Handler& handler) {
  impl_->wake->clear();
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->request || impl_->reply) return;
    impl_->reply = protocol::respond(*impl_->request, impl_->service, handler);
  }
  impl_->answered.notify_one();
}

}  // namespace qc
