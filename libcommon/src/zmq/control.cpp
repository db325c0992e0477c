// The control channel (control.hpp): a REP socket in a context of its own, served by one
// thread that blocks in ZeroMQ and hands each request to the event loop. Stopping it is
// zmq_ctx_shutdown on that context, which wakes the blocked receive on every platform. On
// POSIX the context is made at the first connection (see Impl).
#include "qc/control.hpp"

#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <optional>
#include <thread>

#include <zmq.hpp>

#ifndef _WIN32
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "platform.hpp"
#include "qc/event_loop.hpp"
#include "qc/log.hpp"
#include "qc/paths.hpp"

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
  auto dir = std::filesystem::absolute(to_path(lock_dir), ec);
  if (ec) dir = to_path(lock_dir);
  return "ipc://" + path_string(dir.lexically_normal() / (name + ".control"));
#endif
}

std::string control_secret_path(const std::string& lock_dir, const std::string& name) {
  return path_string(to_path(lock_dir) / (name + ".secret"));
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
  // ZeroMQ starts with the first connection (POSIX ipc: until then our own listening socket
  // waits, which ZeroMQ then takes over with ZMQ_USE_FD), so that an orchestrator nobody asks
  // does not carry libzmq's threads and the code they touch (about 0.9 MiB of RSS).
  std::unique_ptr<zmq::context_t> context;
  std::unique_ptr<zmq::socket_t> socket;
  std::string address;
  std::string endpoint;
  std::string service;
  std::string socket_file;  // ipc: removed at the end
  int listen_fd = -1;       // POSIX: ours until ZeroMQ takes it
  std::unique_ptr<Notifier> wake;  // to the loop: a request waits
  std::unique_ptr<Notifier> quit;  // to the thread, while it waits for the first connection
  std::thread thread;

  std::mutex mutex;
  std::condition_variable answered;
  std::optional<std::string> request;  // waiting for the loop
  std::optional<std::string> reply;
  bool stopping = false;

  // Creates the context and the REP socket and binds it (on `use_fd`, already listening,
  // when it is not -1). Throws zmq::error_t.
  void open(int use_fd);
  void run();
  void serve();
};

void ControlServer::Impl::open(int use_fd) {
  context = std::make_unique<zmq::context_t>(1);
  socket = std::make_unique<zmq::socket_t>(*context, zmq::socket_type::rep);
  socket->set(zmq::sockopt::linger, 0);
  socket->set(zmq::sockopt::maxmsgsize, kMaxRequestBytes);
  socket->set(zmq::sockopt::rcvhwm, kQueue);
  socket->set(zmq::sockopt::sndhwm, kQueue);
  if (use_fd != -1) socket->set(zmq::sockopt::use_fd, use_fd);
  socket->bind(address);
}

// The thread: (POSIX) waits for the first connection, then serves.
void ControlServer::Impl::run() {
#ifndef _WIN32
  if (!socket) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {static_cast<int>(quit->handle()), POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping || !(fds[0].revents & POLLIN)) return;
    try {
      open(listen_fd);
      listen_fd = -1;  // ZeroMQ's now: it closes it with the socket
    } catch (const zmq::error_t& e) {
      log::warn("the control channel on {} cannot start: {}", address, e.what());
      return;
    }
  }
#endif
  serve();
}

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
  zmq::context_t* context = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
    context = impl_->context.get();
  }
  impl_->answered.notify_all();
  if (context) context->shutdown();
  impl_->quit->notify();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->socket.reset();
  if (impl_->context) impl_->context->close();
#ifndef _WIN32
  if (impl_->listen_fd != -1) ::close(impl_->listen_fd);
  if (!impl_->socket_file.empty()) ::unlink(impl_->socket_file.c_str());
#endif
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& address, const std::string& service) {
  auto impl = std::make_unique<Impl>();
  impl->service = service;
  impl->address = address;
  auto wake = Notifier::create();
  if (!wake) return wake.error();
  impl->wake = std::move(*wake);
  auto quit = Notifier::create();
  if (!quit) return quit.error();
  impl->quit = std::move(*quit);
#ifndef _WIN32
  if (address.rfind("ipc://", 0) == 0) {
    // Our own listening socket, born 0600: connecting to a Unix socket needs write
    // permission on it, so no other user (root aside) can send a request.
    const std::string path = address.substr(6);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sun.sun_path)) {
      return Error{"cannot serve the control channel on " + address +
                       ": a Unix socket path is limited to 107 bytes (choose a shorter lock directory)",
                   ENAMETOOLONG};
    }
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{"cannot serve the control channel on " + address + ": " + std::strerror(errno), errno};
    ::unlink(path.c_str());  // a socket file left by a killed orchestrator (we hold its name)
    const mode_t old = ::umask(077);
    const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun));
    const int bind_errno = errno;
    ::umask(old);
    if (bound != 0 || ::listen(fd, 64) != 0) {
      const int e = bound != 0 ? bind_errno : errno;
      ::close(fd);
      return Error{"cannot serve the control channel on " + address + ": " + std::strerror(e) +
                       (e == EADDRINUSE ? " (another process listens there)" : ""),
                   e};
    }
    ::chmod(path.c_str(), 0600);  // born 0700 under the umask: no one else could connect meanwhile
    impl->listen_fd = fd;
    impl->socket_file = path;
    impl->endpoint = address;
  }
#endif
  if (impl->listen_fd == -1) {
    try {
      impl->open(-1);
      impl->endpoint = impl->socket->get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      std::string hint;
      if (e.num() == EADDRINUSE) hint = " (another process listens there)";
      return Error{"cannot serve the control channel on " + address + ": " + e.what() + hint, e.num()};
    }
  }
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->run(); });
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
