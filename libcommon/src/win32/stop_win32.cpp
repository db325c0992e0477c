// Stopping processes on Windows. Graceful: our own tools' named stop event when there is one,
// else Ctrl+Break to the process group; forced: TerminateProcess, or the child's job for its
// whole tree. A process we did not start is opened first and its creation time compared with
// the start token, so that the handle pins the very process that was meant.
#include "qc/spawn.hpp"
#include "qc/stop.hpp"
#include "win32_util.hpp"

namespace qc {
namespace {

using win32::Handle;

constexpr UINT kKilledExitCode = 128 + 9;  // what a forced stop leaves, as SIGKILL would on POSIX

// Asks a process to stop: our tools' named stop event first, Ctrl+Break to its group second.
Status ask_to_stop(DWORD pid) {
  Handle event(OpenEventW(EVENT_MODIFY_STATE, FALSE, win32::stop_event_name(pid).c_str()));
  if (event && SetEvent(event.get())) return {};
  if (GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid)) return {};
  return Error{"cannot ask PID " + std::to_string(pid) +
               " to stop gracefully: it has no qc stop event and shares no console for Ctrl+Break "
               "(" + win32::message(GetLastError()) + "); it will be killed at the deadline"};
}

}  // namespace

int signal_number(Signal signal) {
  switch (signal) {
    case Signal::kInterrupt: return 2;
    case Signal::kTerminate: return 15;
    case Signal::kHangup: return 1;
    case Signal::kQuit: return 3;
    case Signal::kUser1: return 10;
    case Signal::kUser2: return 12;
    case Signal::kKill: return 9;
  }
  return 15;
}

std::string signal_name(int number) {
  switch (number) {
    case 1: return "SIGHUP (console closed)";
    case 2: return "SIGINT (Ctrl+C)";
    case 3: return "SIGQUIT";
    case 9: return "SIGKILL (terminated)";
    case 10: return "SIGUSR1";
    case 12: return "SIGUSR2";
    case 15: return "SIGTERM (Ctrl+Break or stop request)";
    default: return "signal " + std::to_string(number);
  }
}

Status send_signal(const Child& child, Signal signal, bool whole_group) {
  if (signal == Signal::kKill) {
    const bool done = whole_group && child.group() != kInvalidHandle
                          ? TerminateJobObject(win32::to_handle(child.group()), kKilledExitCode)
                          : TerminateProcess(win32::to_handle(child.handle()), kKilledExitCode);
    if (!done && GetLastError() != ERROR_ACCESS_DENIED) {  // denied: it has exited already
      return win32::error("cannot kill PID " + std::to_string(child.pid()), GetLastError());
    }
    return {};
  }
  if (signal == Signal::kUser1 || signal == Signal::kUser2) return {};  // no such thing on Windows
  return ask_to_stop(static_cast<DWORD>(child.pid()));
}

Result<bool> signal_process_if_same(const ProcessId& id, Signal signal, bool) {
  Handle h(OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                       static_cast<DWORD>(id.pid)));
  if (!h) {
    if (GetLastError() == ERROR_INVALID_PARAMETER) return false;  // no such process
    return win32::error("cannot open PID " + std::to_string(id.pid), GetLastError());
  }
  FILETIME created, exited, kernel, user;
  if (!GetProcessTimes(h.get(), &created, &exited, &kernel, &user) || win32::to_u64(created) != id.start ||
      WaitForSingleObject(h.get(), 0) != WAIT_TIMEOUT) {
    return false;  // gone, or another process has the PID now
  }
  if (signal == Signal::kKill) {
    // No process groups to kill on Windows: a supervisor's programs sit in jobs that close
    // (killing them) when the supervisor dies.
    if (!TerminateProcess(h.get(), kKilledExitCode)) {
      return win32::error("cannot kill PID " + std::to_string(id.pid), GetLastError());
    }
    return true;
  }
  if (signal == Signal::kUser1 || signal == Signal::kUser2) return false;
  Status asked = ask_to_stop(static_cast<DWORD>(id.pid));
  if (!asked) return asked.error();
  return true;
}

Result<bool> request_program_stop(const ProcessId& id, const std::string& program) {
  if (!is_running(id)) return false;
  Handle event(OpenEventW(EVENT_MODIFY_STATE, FALSE,
                          win32::stop_event_name(static_cast<unsigned long>(id.pid), program_stop_token(program)).c_str()));
  if (!event) {
    return win32::error("cannot ask PID " + std::to_string(id.pid) + " to stop " + program, GetLastError());
  }
  SetEvent(event.get());
  return true;
}

}  // namespace qc
