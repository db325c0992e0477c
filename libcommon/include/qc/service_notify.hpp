// The sd_notify protocol (systemd's Type=notify services), spoken directly: a datagram of
// "KEY=VALUE" lines to the Unix socket named by $NOTIFY_SOCKET ("@..." is the abstract
// namespace). No libsystemd: four lines of protocol do not need a library at start-up. On
// Windows, and without $NOTIFY_SOCKET, every call does nothing.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace qc {

class ServiceNotifier {
 public:
  // Reads $NOTIFY_SOCKET and $WATCHDOG_USEC (honoured only when $WATCHDOG_PID is unset or
  // ours) and removes all three from the environment, so that the programs we start do not
  // speak for us. Nothing when not run by systemd.
  static std::unique_ptr<ServiceNotifier> from_environment();
  ~ServiceNotifier();
  // Sends one message ("READY=1\nSTATUS=..."); a failure is ignored (systemd may be gone).
  void send(const std::string& message);
  // How often to send WATCHDOG=1 (half of $WATCHDOG_USEC), if systemd watches us.
  std::optional<std::chrono::microseconds> watchdog_every() const { return watchdog_every_; }

 private:
  ServiceNotifier() = default;
  std::string address_;
  int fd_ = -1;
  std::optional<std::chrono::microseconds> watchdog_every_;
};

}  // namespace qc
