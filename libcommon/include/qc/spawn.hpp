// Starting a command: the lock inherited, a process group of its own, and no orphans.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qc/native_handle.hpp"
#include "qc/process.hpp"
#include "qc/result.hpp"
#include "qc/stop.hpp"

namespace qc {

// How a child ended. `signal` is non-zero when a signal killed it.
struct ExitStatus {
  int code = 0;
  int signal = 0;
  // The child's code, or 128+N for death by signal N (docs/conventions.md).
  int as_exit_code() const { return signal != 0 ? 128 + signal : code; }
  bool success() const { return signal == 0 && code == 0; }
  // "exited with status 7", "killed by signal 9 (SIGKILL)"
  std::string describe() const;
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no slash
  std::string cwd;                // empty: ours
  std::vector<std::pair<std::string, std::string>> env;  // set on top of ours
  std::vector<NativeHandle> inherit;  // handles the child keeps open (the lock)
  // A new process group (Windows: a job object too), so the command's own children can
  // be stopped with it.
  bool own_process_group = false;
  // The child is told to stop when we die (Linux: parent-death SIGTERM).
  bool stop_with_parent = true;
  bool stdin_null = false;
  NativeHandle stdin_from = kInvalidHandle;  // the child's stdin (a pipe's read end); wins over stdin_null
  NativeHandle stdout_to = kInvalidHandle;  // kInvalidHandle: ours
  NativeHandle stderr_to = kInvalidHandle;
};

// A started process that we must reap. Move-only.
class Child {
 public:
  Child() = default;
  Child(ProcessId id, NativeHandle handle, NativeHandle group = kInvalidHandle)
      : id_(id), handle_(handle), group_(group) {}
  Child(Child&& other) noexcept { *this = std::move(other); }
  Child& operator=(Child&& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(handle_, other.handle_);
    std::swap(group_, other.group_);
    return *this;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  Pid pid() const { return id_.pid; }
  const ProcessId& id() const { return id_; }
  NativeHandle handle() const { return handle_; }  // Windows: the process handle
  NativeHandle group() const { return group_; }    // Windows: its job object

 private:
  ProcessId id_;
  NativeHandle handle_ = kInvalidHandle;
  NativeHandle group_ = kInvalidHandle;
};

// Starts the command. When it cannot be executed at all, the error carries the errno of
// the failed exec (see exit_code_for_spawn_error) and nothing runs.
Result<Child> spawn_process(const SpawnOptions& options);

// 127 when the command was not found, 126 when it could not be executed, 71 when no process
// could be started at all for now (docs/exit-codes.md).
int exit_code_for_spawn_error(const Error& error);

// A start that failed for lack of processes or memory (EAGAIN, ENOMEM: the process limit was
// reached for a moment), not because of the command: worth another try after a backoff.
bool is_transient_spawn_error(const Error& error);

// Runs the program SIBLING, found in this executable's own directory, in place of this
// process with `argv` (argv[0] becomes its path): POSIX execv, so the PID, the descriptors
// and the signal dispositions stay. Returns only on failure (Windows: always, unsupported).
Error exec_sibling(const std::string& sibling, char** argv);

}  // namespace qc
