// sd_notify without libsystemd (service_notify.hpp). Windows: src/win32/service_win32.cpp.
#include "qc/service_notify.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace qc {

std::unique_ptr<ServiceNotifier> ServiceNotifier::from_environment() {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  std::string address = socket_path ? socket_path : "";
  std::optional<std::chrono::microseconds> every;
  if (usec != nullptr && (pid == nullptr || std::strtoll(pid, nullptr, 10) == ::getpid())) {
    const long long value = std::strtoll(usec, nullptr, 10);
    if (value > 0) every = std::chrono::microseconds(value / 2);
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  if (address.empty() || (address[0] != '/' && address[0] != '@') || address.size() >= sizeof(sockaddr_un::sun_path)) {
    return nullptr;
  }
  std::unique_ptr<ServiceNotifier> n(new ServiceNotifier());
  n->address_ = address;
  n->fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (n->fd_ < 0) return nullptr;
  n->watchdog_every_ = every;
  return n;
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void ServiceNotifier::send(const std::string& message) {
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  if (to.sun_path[0] == '@') to.sun_path[0] = '\0';  // the abstract namespace
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  (void)::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&to), length);
}

}  // namespace qc
