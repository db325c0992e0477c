// Windows services (docs/install.md, "Windows service"): a program registered with the
// service control manager, started by it at boot, and the program's side of being run by it.
// qc-launch --service uses it. On POSIX every call fails with a sentence pointing at systemd's
// unit, the Linux way (dist/qc-launch@.service).
//
// The service side: run_as_service() hands the process to the control manager, which calls
// `body` on a thread of its own; ServiceNotifier::from_environment() (service_notify.hpp) then
// turns READY=1 into SERVICE_RUNNING and STOPPING=1 into SERVICE_STOP_PENDING, as systemd's
// Type=notify has it, so that qc-launch reports both the same way. SERVICE_CONTROL_STOP and
// PRESHUTDOWN set the process's qc stop event: the event loop stops every program in reverse
// order, as on Ctrl+Break or a qc-shutdown.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "qc/result.hpp"

namespace qc::service {

#ifdef _WIN32
inline constexpr bool kAvailable = true;
#else
inline constexpr bool kAvailable = false;  // every call below fails with ENOSYS
#endif

struct InstallSpec {
  std::string name;                  // the service's key name (sc, net start)
  std::string display_name;
  std::string description;
  std::vector<std::string> arguments;  // what the service runs: this very executable with these, UTF-8
  std::chrono::milliseconds preshutdown{180000};  // how long Windows waits for the stop at shut-down
};

// What install() could not set, in sentences (Wine, for one, keeps no failure actions).
using Warnings = std::vector<std::string>;

// Registers the service (its binary path is returned in Status::binary_path by query()):
// automatic start, LocalSystem, restarted by the control manager
// 1 s, 5 s, then 30 s after a failure (an exit other than 0 counts), the count reset after a
// day. Errors: the name exists (EEXIST), no right to (EACCES: an elevated prompt is needed).
Result<Warnings> install(const InstallSpec& spec);

enum class State { kStopped, kStartPending, kStopPending, kRunning, kOther };

struct Status {
  State state = State::kOther;
  unsigned long pid = 0;
  unsigned long win32_exit_code = 0;    // ERROR_SERVICE_SPECIFIC_ERROR: see exit_code
  unsigned long exit_code = 0;          // the program's own, when it stopped with one
  std::string binary_path;              // from the service's configuration
};

// Starts the service and waits until it runs, or stops, or makes no progress within its wait
// hint, or `timeout` passes. Errors: no such service (ENOENT), no right (EACCES).
Result<Status> start(const std::string& name, std::chrono::milliseconds timeout);
// Asks it to stop and waits the same way. A stopped service is not an error.
Result<Status> stop(const std::string& name, std::chrono::milliseconds timeout);
// Stops it if it runs (as stop()), then removes it.
Result<Status> uninstall(const std::string& name, std::chrono::milliseconds timeout);
Result<Status> query(const std::string& name);

// The service side. Connects to the control manager as service `name` and runs `body` once
// it asks; returns body's exit status after reporting SERVICE_STOPPED with it (0 as
// NO_ERROR, anything else as a service-specific code, which triggers the failure actions).
// `wait_hint` is what START_PENDING and STOP_PENDING tell Windows to allow between two
// signs of progress. A service has no console: `body` logs to a file. Error (ENXIO): the
// process was not started by the control manager.
Result<int> run_as_service(const std::string& name, std::chrono::milliseconds wait_hint,
                           const std::function<int()>& body);

inline const char* state_name(State state) {
  switch (state) {
    case State::kStopped: return "stopped";
    case State::kStartPending: return "starting";
    case State::kStopPending: return "stopping";
    case State::kRunning: return "running";
    default: return "paused";
  }
}

}  // namespace qc::service
