// Process identity: a PID means nothing without its start-time token (docs/lock-file.md, property 7).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qc/clock.hpp"
#include "qc/native_handle.hpp"

namespace qc {

using Pid = std::int64_t;
// Linux: /proc/PID/stat starttime (clock ticks since boot). Windows: creation FILETIME.
using StartToken = std::uint64_t;

struct ProcessId {
  Pid pid = 0;
  StartToken start = 0;
  friend bool operator==(const ProcessId& a, const ProcessId& b) {
    return a.pid == b.pid && a.start == b.start;
  }
};

struct ProcessInfo {
  Pid pid = 0;
  Pid parent = 0;
  StartToken start = 0;
  std::int64_t uid = -1;  // its owner (POSIX; -1 where unknown)
  Pid group = 0;          // its process group (POSIX; 0 where unknown)
  bool running = false;  // false for zombies: a dead orphan that nobody reaped is dead
  std::string name;      // Linux: comm; Windows: image name
  std::vector<std::string> command_line;  // empty when unreadable (kernel threads, permissions)
};

// The process with this PID now, or nullopt when there is none. The command line is read
// only when asked for, because it costs a second file read.
std::optional<ProcessInfo> inspect_process(Pid pid, bool with_command_line = false);

// This process, with its start token.
ProcessId current_process();

// Keeps the calling thread, and every thread it starts from now on, on the CPU it is running
// on (Windows: the whole process). For a latency-bound client: a hand-off between our thread
// and ZeroMQ's I/O thread then never waits for another CPU to wake. False, with nothing
// changed, where the OS refuses (a restricted cpuset) or there is only one CPU to use.
bool stay_on_current_cpu();

// True when `id.pid` names a running (non-zombie) process that started at `id.start`.
bool is_running(const ProcessId& id);

// process_lock.py's rule for its own files: the PID runs and its name contains "python".
bool is_running_python(Pid pid);

// Every process visible to us, with command lines.
std::vector<ProcessInfo> list_processes(bool with_command_lines = true);

// The processes that hold each of `paths` open *with its lock*, found in one pass over the
// process table (Linux: /proc/PID/fd, matched by device and inode, so a renamed or deleted
// file still counts, and only a descriptor whose /proc/PID/fdinfo lists a lock on it: a
// reader such as qc-ps or cat has the file open but holds nothing, and is never a holder).
// One list per path, in the same order; a path that does not exist has none. Only processes
// we may look into are seen (all of them as root). Windows: the system's handle table,
// handles with a lock holder's access only (see win32_util.hpp), of our user's processes.
std::vector<std::vector<ProcessInfo>> processes_holding(const std::vector<std::string>& paths);
// How a person finds what holds PATH open, as a command to run ("fuser -v PATH"; Windows:
// Sysinternals handle.exe).
std::string holder_search_hint(const std::string& path);
// Who may see and stop every user's processes ("root"; Windows: "an administrator").
std::string superuser_name();
// Whether processes_holding can see holders here.
bool can_see_file_holders();

// Makes this process the one that adopts its orphaned descendants (Linux: a child
// subreaper), so that a command's children that outlive it, setsid() daemons included, stay
// ours: their exits reach our event loop and living_descendants() finds them. No-op where
// the OS has no such thing (Windows uses a job object instead).
void adopt_orphaned_descendants();

// Whether this process has children, living or not yet reaped: with adopted descendants,
// whether any descendant is left. One system call (no scan of the process table). Windows:
// whether the job objects of the children we started still contain a process.
bool has_child_processes();

// This process's children, as the kernel lists them (Linux: /proc/self/task/*/children, one
// read per thread; no scan of the process table). Empty where unknown.
std::vector<Pid> child_pids();

// Every living process descended from this one (children, their children, ...). Windows: the
// processes in the jobs of the children we started (a job keeps them whoever their parent was);
// their exits reach the event loop through the jobs' completion port.
std::vector<ProcessInfo> living_descendants();

// The uid this process runs as (effective), and whether that is root.
std::int64_t current_uid();
bool running_as_root();

// When a process with this start token started, on the wall clock.
std::optional<WallTime> start_time_of(StartToken start);

// This host's name as records and the fleet give it: $QC_HOST_NAME when set (containers
// that share a name; several "hosts" on one machine in the tests), else the system's.
std::string host_name();

// Waits for processes we did not start to exit: event-driven (Linux: a pidfd per process,
// readable at exit even when nobody reaps the zombie), never by polling /proc.
class ExitWatcher {
 public:
  ExitWatcher();
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Watches `id`. A process that is gone already, or is another process now, counts as gone.
  void add(const ProcessId& id);
  bool gone(const ProcessId& id) const;
  // Blocks until every watched process is gone or `deadline` passes; true when all are gone.
  bool wait_all(SteadyTime deadline);

 private:
  struct Watched {
    ProcessId id;
    NativeHandle handle;
    bool gone;
  };
  std::vector<Watched> watched_;
};

// Raises the soft limit on open files to the hard limit (a supervisor of many programs
// keeps a lock, a pipe and a log file open for each).
void raise_open_file_limit();

}  // namespace qc
