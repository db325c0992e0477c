// The control channel of a running orchestrator (docs/control.md): Protocol v1.0 on a REP
// socket that only its user can reach. A thread of its own receives each request and hands
// it to the event loop (wake_handle() becomes readable); the loop answers it with answer(),
// on its own thread, so every action runs where the engine lives and nothing is shared.
// Part of qc_common_zmq, like heartbeat.hpp; no ZeroMQ type appears here.
#pragma once

#include <memory>
#include <string>

#include "qc/native_handle.hpp"
#include "qc/protocol.hpp"
#include "qc/result.hpp"

namespace qc {

// Where the control endpoint of orchestrator NAME with locks in LOCK_DIR is bound: POSIX an
// ipc socket beside its lock file, LOCK_DIR/NAME.control; Windows tcp://127.0.0.1 on a port
// the system chooses (the bound one is in the lock file's "control" key).
std::string control_bind_address(const std::string& lock_dir, const std::string& name);
// The file that holds a control channel's secret (Windows: required in every request's
// payload as "secret"; POSIX: none, the socket's mode guards it): LOCK_DIR/NAME.secret.
std::string control_secret_path(const std::string& lock_dir, const std::string& name);
// Whether requests must carry the secret here.
bool control_needs_secret();
// 32 random hex digits, written to control_secret_path() readable by this user only, and
// read back by a client (an error that names the file when it cannot be read).
std::string new_control_secret();
Status write_control_secret(const std::string& lock_dir, const std::string& name, const std::string& secret);
Result<std::string> read_control_secret(const std::string& lock_dir, const std::string& name);

class ControlServer {
 public:
  // Binds `address` (POSIX ipc: the socket file is created mode 0600) and starts serving.
  // `service` is what HEARTBEAT reports.
  static Result<std::unique_ptr<ControlServer>> start(const std::string& address, const std::string& service);
  ~ControlServer();  // stops the thread; a request waiting for an answer gets ERROR
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The endpoint as bound (tcp: with the port), for the lock file's "control" key.
  const std::string& endpoint() const;
  // Readable while a request waits for answer().
  NativeHandle wake_handle() const;
  // Answers the waiting request, if any, with `handler` (protocol::respond's rules: a
  // malformed request gets ERROR without reaching it).
  void answer(const protocol::Handler& handler);

 private:
  struct Impl;
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qc
