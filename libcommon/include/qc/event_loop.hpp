// The one place a tool waits: child exits, signals and a deadline, as events.
//
// POSIX: the handled signals are blocked and read from a signalfd, children are reaped on
// SIGCHLD, and the wait is one ppoll with the deadline as its timeout. Nothing polls.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>
#include <vector>

#include "qc/clock.hpp"
#include "qc/native_handle.hpp"
#include "qc/result.hpp"
#include "qc/spawn.hpp"

namespace qc {

struct SignalEvent {
  Signal signal;
  int number = 0;
  // Sent by the terminal to the whole foreground process group (Ctrl+C, hangup): a child
  // in our group got it too, so forwarding it again would deliver it twice.
  bool from_terminal = false;
  // The value sent with sigqueue (POSIX) or the stop request's argument, when there is one.
  std::optional<std::int32_t> value;
};

struct ChildExitEvent {
  Pid pid = 0;
  ExitStatus status;
};

struct Events {
  std::vector<SignalEvent> signals;
  std::vector<ChildExitEvent> exits;
  std::vector<NativeHandle> readable;  // watched handles that became readable
  bool empty() const { return signals.empty() && exits.empty() && readable.empty(); }
};

// A handle that another thread makes readable to wake an event loop (POSIX: an eventfd).
class Notifier {
 public:
  static Result<std::unique_ptr<Notifier>> create();
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  NativeHandle handle() const { return handle_; }
  void notify();
  void clear();

 private:
  Notifier() = default;
  NativeHandle handle_ = kInvalidHandle;
};

class EventLoop {
 public:
  // Create before spawning children, so that no exit can be missed.
  static Result<EventLoop> create(std::initializer_list<Signal> handled);
  EventLoop(EventLoop&&) noexcept;
  EventLoop& operator=(EventLoop&&) noexcept;
  // Leaves the handled signals blocked (Windows: Ctrl+C and Ctrl+Break ignored) for the rest
  // of the process: one that arrives as the process finishes cannot change its exit status.
  // Children are spawned with no signal blocked.
  ~EventLoop();

  // Children whose exit this loop reports. Windows needs the handle; POSIX reaps on SIGCHLD.
  // With kill_group, whatever is left of the child's process group (Windows: its job) is
  // killed when the child exits, before it is reaped, while its PID still reserves the group.
  void watch_child(const Child& child, bool kill_group = false);
  void unwatch_child(Pid pid);

  // Per-program stop requests this process answers (qc-launch): each arrives as a kUser2
  // SignalEvent whose value is the token. POSIX: sigqueue needs no preparation; Windows: a
  // named event per token.
  void accept_stop_requests(const std::vector<std::int32_t>& tokens);

  // Extra handles to wake on when readable (sockets, inotify, a pidfd).
  void watch_readable(NativeHandle handle);
  void unwatch_readable(NativeHandle handle);

  // Blocks until something happens or `deadline` passes (nullopt: no deadline). Returns
  // what happened; empty when the deadline passed.
  Result<Events> wait(std::optional<SteadyTime> deadline);

  // Readable when wait() has something to report: for waiting elsewhere (zmq_poll) without
  // missing a signal. POSIX: the signalfd.
  NativeHandle wake_handle() const;

 private:
  struct Impl;
  explicit EventLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qc
