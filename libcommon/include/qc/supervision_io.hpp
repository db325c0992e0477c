// The I/O around the supervision state machine, shared by qc-run and qc-launch: starting
// programs for real, carrying their output into rotated logs, reporting events as JSON
// Lines and log lines, and keeping each program's lock file current.
#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qc/event_loop.hpp"
#include "qc/lock.hpp"
#include "qc/log.hpp"
#include "qc/program_supervisor.hpp"

namespace qc {

// A pipe whose read end we keep (non-blocking) and whose write end children write to.
struct Pipe {
  NativeHandle read_end = kInvalidHandle;
  NativeHandle write_end = kInvalidHandle;
};
Result<Pipe> make_output_pipe();
// A pipe whose read end becomes a child's stdin and whose write end we fill at once with a
// small message (it never blocks: at most the pipe's buffer, 64 KiB); false when it did not fit.
Result<Pipe> make_input_pipe();
bool write_now(NativeHandle write_end, const std::string& data);
void close_handle(NativeHandle handle);

// Reads a program's output as it comes and writes it to its log file line by line. A line is
// written whole or, past 64 KiB without a newline, in 64 KiB pieces. POSIX: the event loop
// wakes it (handle() is the pipe); Windows: it reads on a thread of its own (handle() is
// kInvalidHandle), since anonymous pipes cannot be waited on.
//
// Output is logged at up to 2 MiB a second per program, each line costing 128 bytes more
// (about 16,000 short lines a second), after a burst of 4 MiB: a program that writes faster
// waits on its full pipe (its writes block, nothing is lost), so that logging it cannot take
// a core from its neighbours (docs/tools.md, "Output").
// POSIX: the pump stops watching its pipe while it is over that rate (attach() and
// deadline()/on_deadline() tell the loop); Windows: its thread pauses.
class OutputPump {
 public:
  OutputPump(NativeHandle read_end, std::shared_ptr<log::File> file);
  ~OutputPump();
  OutputPump(const OutputPump&) = delete;
  OutputPump& operator=(const OutputPump&) = delete;
  NativeHandle handle() const;
  // Watches the pipe in `loop` (POSIX) from now on, and stops watching it while paused.
  void attach(EventLoop& loop);
  // When a paused pump reads again: the loop's deadline must not be later.
  std::optional<SteadyTime> deadline() const;
  // Resumes reading once the pause is over.
  void on_deadline(SteadyTime now);
  // Reads one wake-up's share of what is readable (POSIX: at most 16 KiB, so that a child
  // writing without pause cannot starve the loop). Returns false at end of file.
  bool drain();
  // Reads what is left once the program has ended (at most 4 MiB: a descendant that kept
  // the pipe open and writes on cannot hold us here).
  bool drain_rest();
  // Writes a trailing partial line.
  void flush();

 private:
  static constexpr std::size_t kReadPerWake = 16 * 1024;
  static constexpr double kBytesPerSecond = 2.0 * 1024 * 1024;
  static constexpr double kBurstBytes = 4.0 * 1024 * 1024;
  static constexpr double kLineCost = 128;    // what a line costs at least
  static constexpr double kResumeBytes = 64 * 1024;  // the budget a pause waits for
  static constexpr std::size_t kReadAtEnd = 4 * 1024 * 1024;
  bool read_up_to(std::size_t max_bytes);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Starts programs for real: own process group, the program's lock inherited, stdin from
// /dev/null, output to its pipe (or ours), stopped with us. Exits are reported by `loop`.
class ChildProcesses : public ProcessControl {
 public:
  explicit ChildProcesses(EventLoop& loop) : loop_(loop) {}
  // What program NAME's children get besides its spec: its lock (asked at each start: a
  // lock file put back after a removal is a new file) and its output.
  void set_handles(const std::string& name, const HeldLock* lock, NativeHandle output);
  Result<ProcessId> start(const ProgramSpec& spec) override;
  void signal_group(Pid pid, Signal signal) override;
  // Forgets a child once its exit has been handled (its group is gone by then), and stops
  // what the run left holding the program's lock outside its group (a setsid() daemon, a
  // double fork): nothing of one run may live on beside the next.
  void reaped(Pid pid);

 private:
  struct Handles {
    const HeldLock* lock = nullptr;
    NativeHandle output = kInvalidHandle;
  };
  EventLoop& loop_;
  std::map<std::string, Handles> handles_;
  std::map<Pid, Child> children_;
  std::map<Pid, std::string> names_;  // each child's program
};

// qc-run's and qc-launch's JSON Lines on stdout (docs/events.md): {"event", "name", "pid", "status", "restarts", "time"}
// (and "delay_s" when restarting).
class JsonEventWriter : public EventSink {
 public:
  explicit JsonEventWriter(std::ostream& out) : out_(out) {}
  void emit(const SupervisorEvent& event) override;

 private:
  std::ostream& out_;
  bool lost_ = false;
};

// Each event's sentence through qc::log (stderr and attached log files).
class LogEventWriter : public EventSink {
 public:
  void emit(const SupervisorEvent& event) override;
};

// Says through qc::log what happened to a lock file that changed under its holder (put back,
// or could not be); true when the lock is lost: the caller must stop its command, and says so.
bool report_lock_integrity(const HeldLock::Verdict& verdict, const std::string& path, const std::string& name);

// Keeps a program's lock file current: child PID and start token, restart count.
class LockRecordUpdater : public EventSink {
 public:
  LockRecordUpdater(HeldLock& lock, LockRecord record) : lock_(lock), record_(std::move(record)) {}
  void emit(const SupervisorEvent& event) override;
  const LockRecord& record() const { return record_; }
  // A reload changed the program's command or account: the next write says so.
  void describe(std::vector<std::string> command, std::optional<std::string> account) {
    record_.command = std::move(command);
    record_.account = std::move(account);
  }
  // The fleet name was taken again (a new fencing token) or given back (none).
  void set_fencing_token(std::optional<std::int64_t> token) { record_.fencing_token = token; }
  // After a change in the lock directory: puts a removed lock file back (see
  // HeldLock::verify_and_restore); true when the lock is lost and the program must stop.
  // Says what happened through qc::log, and `events` gets a lock_lost event.
  bool verify(EventSink& events);

 private:
  HeldLock& lock_;
  LockRecord record_;
};

// Passes each event to several sinks, in order.
class FanoutSink : public EventSink {
 public:
  void add(EventSink* sink) { sinks_.push_back(sink); }
  void emit(const SupervisorEvent& event) override {
    for (auto* s : sinks_) s->emit(event);
  }

 private:
  std::vector<EventSink*> sinks_;
};

}  // namespace qc
