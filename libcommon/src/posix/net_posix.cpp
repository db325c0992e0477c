// TCP readiness checks on POSIX: a non-blocking connect raced against a cancel handle.
#include "qc/net.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace qc {

bool wait_cancelled(NativeHandle cancel, int timeout_ms) {
  pollfd fd{static_cast<int>(cancel), POLLIN, 0};
  for (;;) {
    const int n = ::poll(&fd, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

ProbeOutcome tcp_connect_probe(const std::string& host, const std::string& port, int timeout_ms,
                               NativeHandle cancel, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    why = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return ProbeOutcome::kFailed;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  ProbeOutcome outcome = ProbeOutcome::kFailed;
  for (addrinfo* a = found; a != nullptr && outcome == ProbeOutcome::kFailed; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc == 0) {
      outcome = ProbeOutcome::kSucceeded;
    } else if (errno == EINPROGRESS) {
      pollfd fds[2] = {{fd, POLLOUT, 0}, {static_cast<int>(cancel), POLLIN, 0}};
      for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
          why = "no answer within " + std::to_string(timeout_ms) + " ms";
          break;
        }
        const int n = ::poll(fds, 2, static_cast<int>(left));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        if (fds[1].revents != 0) {
          outcome = ProbeOutcome::kCancelled;
          break;
        }
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error == 0) {
          outcome = ProbeOutcome::kSucceeded;
        } else {
          why = std::strerror(error);
        }
        break;
      }
    } else {
      why = std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return outcome;
}

struct TcpConnect::Impl {
  addrinfo* found = nullptr;
  addrinfo* next = nullptr;  // the address to try after the current one
  int fd = -1;
  bool done = false;
  bool succeeded = false;
  std::string why;

  // Begins connecting to the next address; done when one connects at once or none is left.
  void advance() {
    while (next != nullptr) {
      addrinfo* a = next;
      next = a->ai_next;
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        why = std::strerror(errno);
        continue;
      }
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        succeeded = done = true;
        return;
      }
      if (errno == EINPROGRESS) return;
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
    done = true;
  }
};

TcpConnect::TcpConnect(const std::string& host, const std::string& port) : impl_(std::make_unique<Impl>()) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &impl_->found); rc != 0) {
    impl_->why = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    impl_->found = nullptr;
    impl_->done = true;
    return;
  }
  impl_->next = impl_->found;
  impl_->advance();
}

TcpConnect::~TcpConnect() {
  if (impl_->fd >= 0) ::close(impl_->fd);
  if (impl_->found != nullptr) ::freeaddrinfo(impl_->found);
}

std::intptr_t TcpConnect::socket() const { return impl_->fd; }
bool TcpConnect::done() const { return impl_->done; }
bool TcpConnect::succeeded() const { return impl_->succeeded; }
const std::string& TcpConnect::why() const { return impl_->why; }

void TcpConnect::on_ready() {
  if (impl_->done || impl_->fd < 0) return;
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(impl_->fd, SOL_SOCKET, SO_ERROR, &error, &len);
  if (error == EINPROGRESS) return;  // not yet
  if (error == 0) {
    impl_->succeeded = impl_->done = true;
    return;
  }
  impl_->why = std::strerror(error);
  ::close(impl_->fd);
  impl_->fd = -1;
  impl_->advance();
}

}  // namespace qc
