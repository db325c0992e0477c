// Network checks for readiness: a TCP connect that a cancel handle can interrupt.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "qc/native_handle.hpp"

namespace qc {

// Splits "HOST:PORT" (or "[v6]:PORT"); false when it is not that shape.
bool split_host_port(const std::string& text, std::string& host, std::string& port);

enum class ProbeOutcome { kSucceeded, kFailed, kCancelled };

// Connects to HOST:PORT within `timeout_ms`, giving up early when `cancel` becomes
// readable. On failure `why` says what went wrong ("Connection refused").
ProbeOutcome tcp_connect_probe(const std::string& host, const std::string& port, int timeout_ms,
                               NativeHandle cancel, std::string& why);

// Waits up to `timeout_ms` for `cancel` to become readable; true when it did.
bool wait_cancelled(NativeHandle cancel, int timeout_ms);

// A TCP connect that does not block, for many checks multiplexed on one thread: poll
// socket() for writability and errors (zmq_poll: ZMQ_POLLOUT | ZMQ_POLLERR), then call
// on_ready(). A refused address moves on to the host's next one (localhost: ::1, then
// 127.0.0.1). The socket is closed on destruction.
class TcpConnect {
 public:
  TcpConnect(const std::string& host, const std::string& port);
  ~TcpConnect();
  TcpConnect(const TcpConnect&) = delete;
  TcpConnect& operator=(const TcpConnect&) = delete;
  // The socket to poll while !done() (an int fd on POSIX, a SOCKET on Windows).
  std::intptr_t socket() const;
  bool done() const;
  bool succeeded() const;
  const std::string& why() const;  // why it failed
  void on_ready();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qc
