// The sd_notify protocol (systemd's Type=notify services), spoken directly: a datagram of
// "KEY=VALUE" lines to the Unix socket named by $NOTIFY_SOCKET ("@..." is the abstract
// namespace). No libsystemd: four lines of protocol do not need a library at start-up.
// Without $NOTIFY_SOCKET there is no notifier. On Windows the same words go to the service
// control manager when it runs us (windows_service.hpp): READY=1 is SERVICE_RUNNING,
// STOPPING=1 SERVICE_STOP_PENDING, anything else while pending a checkpoint.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace qc {

class ServiceNotifier {
 public:
  // Windows: a notifier when run_as_service() runs us, else none.
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
