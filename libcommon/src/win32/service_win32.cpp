// Windows services (windows_service.hpp) and the service control manager's side of
// ServiceNotifier (service_notify.hpp).
#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "qc/service_notify.hpp"
#include "qc/windows_service.hpp"
#include "win32_util.hpp"

namespace qc {
namespace service {
namespace {

class ScHandle {
 public:
  explicit ScHandle(SC_HANDLE h = nullptr) : h_(h) {}
  ScHandle(ScHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  ScHandle& operator=(ScHandle&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~ScHandle() {
    if (h_ != nullptr) CloseServiceHandle(h_);
  }
  SC_HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  SC_HANDLE h_;
};

Error sc_error(const std::string& what, DWORD code) {
  Error e = win32::error(what, code);
  switch (code) {
    case ERROR_SERVICE_DOES_NOT_EXIST: e.sys_errno = ENOENT; break;
    case ERROR_SERVICE_EXISTS:
    case ERROR_DUPLICATE_SERVICE_NAME: e.sys_errno = EEXIST; break;
    case ERROR_ACCESS_DENIED:
      e.sys_errno = EACCES;
      e.message += " (run it from an elevated prompt: right-click, Run as administrator)";
      break;
    default: break;
  }
  return e;
}

Result<ScHandle> open_manager(DWORD access) {
  ScHandle m(OpenSCManagerW(nullptr, nullptr, access));
  if (!m) return sc_error("cannot reach the service control manager", GetLastError());
  return m;
}

// A service, with the manager handle it was opened through (closed after it).
struct Opened {
  ScHandle manager;
  ScHandle service;
};

Result<Opened> open_service(const std::string& name, DWORD access) {
  auto manager = open_manager(SC_MANAGER_CONNECT);
  if (!manager) return manager.error();
  Opened o{std::move(*manager), ScHandle()};
  o.service = ScHandle(OpenServiceW(o.manager.get(), win32::widen(name).c_str(), access));
  if (!o.service) return sc_error("service " + name, GetLastError());
  return o;
}

State to_state(DWORD s) {
  switch (s) {
    case SERVICE_STOPPED: return State::kStopped;
    case SERVICE_START_PENDING: return State::kStartPending;
    case SERVICE_STOP_PENDING: return State::kStopPending;
    case SERVICE_RUNNING: return State::kRunning;
    default: return State::kOther;
  }
}

Result<SERVICE_STATUS_PROCESS> raw_status(SC_HANDLE service, const std::string& name) {
  SERVICE_STATUS_PROCESS s{};
  DWORD needed = 0;
  if (!QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&s), sizeof s, &needed)) {
    return sc_error("cannot read the state of service " + name, GetLastError());
  }
  return s;
}

Status to_status(const SERVICE_STATUS_PROCESS& s, SC_HANDLE service) {
  Status out;
  out.state = to_state(s.dwCurrentState);
  out.pid = s.dwProcessId;
  out.win32_exit_code = s.dwWin32ExitCode;
  out.exit_code = s.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR ? s.dwServiceSpecificExitCode : 0;
  DWORD needed = 0;
  QueryServiceConfigW(service, nullptr, 0, &needed);
  if (needed > 0) {
    std::vector<BYTE> buffer(needed);
    auto* config = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
    if (QueryServiceConfigW(service, config, needed, &needed) && config->lpBinaryPathName != nullptr) {
      out.binary_path = win32::narrow(config->lpBinaryPathName);
    }
  }
  return out;
}

// The status-change notification's callback: an APC run in the waiting thread's alertable
// wait. Its registration lives as long as the thread: one pending when the service handle is
// closed is cancelled, but one already queued still runs, at that thread's next alertable wait.
thread_local SERVICE_NOTIFYW t_notify{};
thread_local bool t_fired = true;  // nothing registered that has not fired

void CALLBACK on_change(void*) { t_fired = true; }

DWORD notify_bit(DWORD state) { return 1u << (state - 1); }  // SERVICE_NOTIFY_RUNNING is 1 << (SERVICE_RUNNING - 1)

bool pending(DWORD state) { return state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING; }

// Waits while the service starts or stops (a failed start goes through STOP_PENDING too):
// woken by the control manager's notification of a change of state, and giving up when
// `timeout` passes or when the service shows no progress (neither state nor checkpoint)
// within its own wait hint (at least 10 s), as the control manager's documentation asks of a
// client.
Result<SERVICE_STATUS_PROCESS> wait_while_pending(SC_HANDLE service, const std::string& name,
                                                  std::chrono::milliseconds timeout) {
  const ULONGLONG deadline = GetTickCount64() + static_cast<ULONGLONG>(timeout.count());
  bool notifications = true;
  auto status = raw_status(service, name);
  if (!status) return status.error();
  DWORD checkpoint = status->dwCheckPoint;
  ULONGLONG progress_at = GetTickCount64();
  t_fired = true;  // a registration on an earlier handle died with it
  DWORD state = status->dwCurrentState;
  while (pending(state)) {
    const ULONGLONG now = GetTickCount64();
    const ULONGLONG hint = std::max<ULONGLONG>(status->dwWaitHint, 10000);
    if (now >= deadline || now >= progress_at + hint) break;
    if (notifications && t_fired) {
      t_notify = SERVICE_NOTIFYW{};
      t_notify.dwVersion = SERVICE_NOTIFY_STATUS_CHANGE;
      t_notify.pfnNotifyCallback = on_change;
      const DWORD mask = (SERVICE_NOTIFY_STOPPED | SERVICE_NOTIFY_START_PENDING | SERVICE_NOTIFY_STOP_PENDING |
                          SERVICE_NOTIFY_RUNNING | SERVICE_NOTIFY_PAUSED) & ~notify_bit(state);
      t_fired = NotifyServiceStatusChangeW(service, mask, &t_notify) != ERROR_SUCCESS;
      notifications = !t_fired;  // without them, the checkpoint is read four times a second
    }
    // Woken by the notification; else once a second, for the checkpoint's progress.
    const ULONGLONG slice = std::min<ULONGLONG>({deadline - now, progress_at + hint - now, notifications ? 1000u : 250u});
    SleepEx(static_cast<DWORD>(slice), TRUE);
    status = raw_status(service, name);
    if (!status) return status.error();
    if (status->dwCheckPoint != checkpoint || status->dwCurrentState != state) {
      checkpoint = status->dwCheckPoint;
      state = status->dwCurrentState;
      progress_at = GetTickCount64();
    }
  }
  return *status;
}

}  // namespace


Result<Warnings> install(const InstallSpec& spec) {
  auto manager = open_manager(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  if (!manager) return manager.error();
  std::vector<wchar_t> self(32768);
  const DWORD length = GetModuleFileNameW(nullptr, self.data(), static_cast<DWORD>(self.size()));
  if (length == 0 || length >= self.size()) return win32::error("cannot find this program's own path", GetLastError());
  std::vector<std::string> argv{win32::narrow(std::wstring(self.data(), length))};
  argv.insert(argv.end(), spec.arguments.begin(), spec.arguments.end());
  const std::wstring command_line = win32::command_line(argv);
  ScHandle service(CreateServiceW(manager->get(), win32::widen(spec.name).c_str(), win32::widen(spec.display_name).c_str(),
                                  SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                  SERVICE_ERROR_NORMAL, command_line.c_str(), nullptr, nullptr, nullptr,
                                  nullptr /* LocalSystem */, nullptr));
  if (!service) return sc_error("cannot install service " + spec.name, GetLastError());
  Warnings warnings;
  std::wstring description = win32::widen(spec.description);
  SERVICE_DESCRIPTIONW d{description.data()};
  if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_DESCRIPTION, &d)) {
    warnings.push_back("the description was not set: " + win32::message(GetLastError()));
  }
  SC_ACTION actions[3] = {{SC_ACTION_RESTART, 1000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}};
  SERVICE_FAILURE_ACTIONSW recovery{};
  recovery.dwResetPeriod = 86400;
  recovery.cActions = 3;
  recovery.lpsaActions = actions;
  if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &recovery)) {
    warnings.push_back("no restart on failure: the recovery actions were refused (" +
                       win32::message(GetLastError()) + ")");
  }
  SERVICE_FAILURE_ACTIONS_FLAG on_exit{TRUE};  // an exit other than 0 is a failure, not only a crash
  if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_exit)) {
    warnings.push_back("the recovery actions apply to crashes only, not to an exit with an error (" +
                       win32::message(GetLastError()) + ")");
  }
  SERVICE_PRESHUTDOWN_INFO preshutdown{static_cast<DWORD>(spec.preshutdown.count())};
  if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_PRESHUTDOWN_INFO, &preshutdown)) {
    warnings.push_back("the shut-down allowance was not set (" + win32::message(GetLastError()) + ")");
  }
  return warnings;
}

namespace {

// Waits while it starts or stops, then says where it got.
Result<Status> settle(const Opened& o, const std::string& name, std::chrono::milliseconds timeout) {
  auto s = wait_while_pending(o.service.get(), name, timeout);
  if (!s) return s.error();
  return to_status(*s, o.service.get());
}

}  // namespace

Result<Status> query(const std::string& name) {
  auto o = open_service(name, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG);
  if (!o) return o.error();
  auto s = raw_status(o->service.get(), name);
  if (!s) return s.error();
  return to_status(*s, o->service.get());
}

Result<Status> start(const std::string& name, std::chrono::milliseconds timeout) {
  auto o = open_service(name, SERVICE_START | SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG);
  if (!o) return o.error();
  if (!StartServiceW(o->service.get(), 0, nullptr) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
    return sc_error("cannot start service " + name, GetLastError());
  }
  return settle(*o, name, timeout);
}

Result<Status> stop(const std::string& name, std::chrono::milliseconds timeout) {
  auto o = open_service(name, SERVICE_STOP | SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG);
  if (!o) return o.error();
  SERVICE_STATUS ignored{};
  if (!ControlService(o->service.get(), SERVICE_CONTROL_STOP, &ignored)) {
    const DWORD code = GetLastError();
    if (code != ERROR_SERVICE_NOT_ACTIVE && code != ERROR_SERVICE_CANNOT_ACCEPT_CTRL) {
      return sc_error("cannot stop service " + name, code);
    }
  }
  return settle(*o, name, timeout);
}

Result<Status> uninstall(const std::string& name, std::chrono::milliseconds timeout) {
  auto stopped = stop(name, timeout);
  if (!stopped) return stopped.error();
  if (stopped->state != State::kStopped) return *stopped;
  auto o = open_service(name, DELETE);
  if (!o) return o.error();
  if (!DeleteService(o->service.get()) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE) {
    return sc_error("cannot remove service " + name, GetLastError());
  }
  return *stopped;
}

// ---- the service side ----

namespace {

struct Running {
  std::mutex mutex;
  std::wstring name;
  SERVICE_STATUS_HANDLE handle = nullptr;
  SERVICE_STATUS status{};
  DWORD wait_hint_ms = 0;
  HANDLE stop_event = nullptr;
  const std::function<int()>* body = nullptr;
  int exit_code = 0;
  DWORD handler_error = 0;  // RegisterServiceCtrlHandlerExW's, when it refused
};

Running& running() {
  static Running r;
  return r;
}

// Sets the status to `state` (SERVICE_STOPPED etc.); in a pending state the checkpoint goes
// up by one each time, which is how the control manager sees progress. Nothing follows
// STOPPED, and a service asked to stop does not report RUNNING.
void set_status(Running& r, DWORD state, int exit_code) {
  if (r.handle == nullptr || r.status.dwCurrentState == SERVICE_STOPPED) return;
  if (r.status.dwCurrentState == SERVICE_STOP_PENDING && state == SERVICE_RUNNING) return;
  const bool is_pending = pending(state);
  r.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  r.status.dwControlsAccepted =
      state == SERVICE_RUNNING || state == SERVICE_START_PENDING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN : 0;
  r.status.dwCheckPoint = is_pending ? (r.status.dwCurrentState == state ? r.status.dwCheckPoint + 1 : 1) : 0;
  r.status.dwWaitHint = is_pending ? r.wait_hint_ms : 0;
  r.status.dwCurrentState = state;
  r.status.dwWin32ExitCode = state == SERVICE_STOPPED && exit_code != 0 ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
  r.status.dwServiceSpecificExitCode = state == SERVICE_STOPPED ? static_cast<DWORD>(exit_code) : 0;
  SetServiceStatus(r.handle, &r.status);
}

void report(DWORD state, int exit_code = 0) {
  Running& r = running();
  std::lock_guard<std::mutex> lock(r.mutex);
  set_status(r, state, exit_code);
}

// A sign of progress while starting or stopping (a program ready, one stopped).
void report_progress() {
  Running& r = running();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (pending(r.status.dwCurrentState)) set_status(r, r.status.dwCurrentState, 0);
}

DWORD WINAPI on_control(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_PRESHUTDOWN:
    case SERVICE_CONTROL_SHUTDOWN:
      report(SERVICE_STOP_PENDING);
      SetEvent(running().stop_event);  // the event loop's stop request, as qc-shutdown's
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE: return NO_ERROR;
    default: return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, wchar_t**) {
  Running& r = running();
  r.handle = RegisterServiceCtrlHandlerExW(r.name.c_str(), on_control, nullptr);
  if (r.handle == nullptr) {
    r.handler_error = GetLastError();  // said by run_as_service, once the dispatcher returns
    return;
  }
  report(SERVICE_START_PENDING);
  // A service has no console, and without one Ctrl+Break (the graceful stop of a program
  // that is not ours, stop_win32.cpp) reaches nobody: every program would be killed at its
  // stop timeout. The programs share this one (session 0's, never shown).
  AllocConsole();
  r.exit_code = (*r.body)();
  report(SERVICE_STOPPED, r.exit_code);
}

}  // namespace

Result<int> run_as_service(const std::string& name, std::chrono::milliseconds wait_hint,
                           const std::function<int()>& body) {
  Running& r = running();
  r.name = win32::widen(name);
  r.body = &body;
  r.wait_hint_ms = static_cast<DWORD>(wait_hint.count());
  // Made before the control manager may ask for a stop, so that a stop asked while the
  // orchestrator still starts up waits in it: the event loop opens this same event.
  r.stop_event = CreateEventW(nullptr, FALSE, FALSE, win32::stop_event_name(GetCurrentProcessId()).c_str());
  SERVICE_TABLE_ENTRYW table[] = {{r.name.data(), service_main}, {nullptr, nullptr}};
  if (!StartServiceCtrlDispatcherW(table)) {
    const DWORD code = GetLastError();
    Error e = win32::error("cannot run as service " + name, code);
    if (code == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      e = Error{"--as-service is for the service control manager, which did not start this process; start the "
                "service with: qc-launch --service start --name " + name,
                ENXIO};
    }
    return e;
  }
  if (r.handler_error != 0) {
    return win32::error("cannot register the control handler of service " + name, r.handler_error);
  }
  return r.exit_code;
}

}  // namespace service

// ---- ServiceNotifier under the service control manager ----

std::unique_ptr<ServiceNotifier> ServiceNotifier::from_environment() {
  if (service::running().handle == nullptr) return nullptr;
  return std::unique_ptr<ServiceNotifier>(new ServiceNotifier());
}

ServiceNotifier::~ServiceNotifier() = default;

// systemd's words for the control manager's states (service_notify.hpp).
void ServiceNotifier::send(const std::string& message) {
  if (message.find("STOPPING=1") != std::string::npos) {
    service::report(SERVICE_STOP_PENDING);
  } else if (message.find("READY=1") != std::string::npos) {
    service::report(SERVICE_RUNNING);
  } else {
    service::report_progress();
  }
}

}  // namespace qc
