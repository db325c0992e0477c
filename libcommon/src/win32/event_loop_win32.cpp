// The event loop on Windows: one auto-reset "activity" event that everything feeds. Child
// exits and stop requests arrive through thread-pool waits (RegisterWaitForSingleObject, so
// no 64-handle limit), console events (Ctrl+C, Ctrl+Break, the window closing) through the
// console control handler; each queues its event and sets the activity event. The loop waits
// on it, on watched notifiers, and on the deadline. Nothing polls.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "qc/event_loop.hpp"
#include "win32_util.hpp"

namespace qc {
namespace {

ExitStatus status_of(HANDLE process) {
  DWORD code = 0;
  GetExitCodeProcess(process, &code);
  ExitStatus status;
  if (code == STATUS_CONTROL_C_EXIT) {
    status.signal = 2;  // ended by Ctrl+C: as SIGINT would
  } else {
    status.code = static_cast<int>(code);
  }
  return status;
}

}  // namespace

struct EventLoop::Impl {
  HANDLE activity = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  std::mutex mutex;
  std::vector<SignalEvent> signals;
  std::vector<ChildExitEvent> exits;
  std::vector<NativeHandle> readable;

  struct ChildWatch {
    Impl* loop;
    Pid pid;
    HANDLE process;
    HANDLE job;
    bool kill_group;
    HANDLE wait = nullptr;
  };
  std::map<Pid, std::unique_ptr<ChildWatch>> children;

  struct StopWatch {
    Impl* loop;
    std::optional<std::int32_t> token;
    HANDLE event = nullptr;
    HANDLE wait = nullptr;
  };
  std::vector<std::unique_ptr<StopWatch>> stops;

  // The children's job objects report through one completion port, read by one thread: the
  // exit of a process a child left behind (a launcher's program, which the job keeps) arrives
  // as a ChildExitEvent, as an adopted orphan's does on Linux.
  HANDLE port = nullptr;
  HANDLE port_reader = nullptr;
  static constexpr ULONG_PTR kQuitKey = 0;
  static constexpr ULONG_PTR kJobKey = 1;

  static DWORD WINAPI read_port(LPVOID context) {
    auto* self = static_cast<Impl*>(context);
    for (;;) {
      DWORD message = 0;
      ULONG_PTR key = 0;
      LPOVERLAPPED data = nullptr;
      if (!GetQueuedCompletionStatus(self->port, &message, &key, &data, INFINITE)) return 0;
      if (key == kQuitKey) return 0;
      if (message != JOB_OBJECT_MSG_EXIT_PROCESS && message != JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS) continue;
      const auto pid = static_cast<Pid>(reinterpret_cast<ULONG_PTR>(data));
      {
        std::lock_guard<std::mutex> lock(self->mutex);
        if (self->children.count(pid) != 0) continue;  // a watched child: its own wait reports it
        self->exits.push_back({pid, ExitStatus{}});
      }
      SetEvent(self->activity);
    }
  }

  void report_job(HANDLE job) {
    if (port == nullptr) {
      port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
      if (port == nullptr) return;
      port_reader = CreateThread(nullptr, 0, read_port, this, 0, nullptr);
      if (port_reader == nullptr) {
        CloseHandle(port);
        port = nullptr;
        return;
      }
    }
    JOBOBJECT_ASSOCIATE_COMPLETION_PORT association{reinterpret_cast<PVOID>(kJobKey), port};
    SetInformationJobObject(job, JobObjectAssociateCompletionPortInformation, &association, sizeof association);
  }

  static Impl*& current() {
    static Impl* instance = nullptr;
    return instance;
  }

  void push_signal(const SignalEvent& e) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      signals.push_back(e);
    }
    SetEvent(activity);
  }

  static BOOL WINAPI on_console(DWORD type) {
    Impl* self = current();
    if (self == nullptr) return FALSE;
    switch (type) {
      case CTRL_C_EVENT: self->push_signal({Signal::kInterrupt, 2, false, std::nullopt}); return TRUE;
      case CTRL_BREAK_EVENT: self->push_signal({Signal::kTerminate, 15, false, std::nullopt}); return TRUE;
      case CTRL_CLOSE_EVENT: self->push_signal({Signal::kHangup, 1, false, std::nullopt}); return TRUE;
      case CTRL_LOGOFF_EVENT:
      case CTRL_SHUTDOWN_EVENT: self->push_signal({Signal::kTerminate, 15, false, std::nullopt}); return TRUE;
      default: return FALSE;
    }
  }

  static BOOL WINAPI ignore_console(DWORD type) {
    return type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT;
  }

  static VOID CALLBACK on_child_exit(PVOID context, BOOLEAN) {
    auto* w = static_cast<ChildWatch*>(context);
    // Whatever is left of its job goes with it, as a POSIX process group would.
    if (w->kill_group && w->job != nullptr) TerminateJobObject(w->job, 128 + 9);
    const ExitStatus status = status_of(w->process);
    {
      std::lock_guard<std::mutex> lock(w->loop->mutex);
      w->loop->exits.push_back({w->pid, status});
    }
    SetEvent(w->loop->activity);
  }

  static VOID CALLBACK on_stop_request(PVOID context, BOOLEAN) {
    auto* w = static_cast<StopWatch*>(context);
    if (w->token) {
      w->loop->push_signal({Signal::kUser2, 12, false, *w->token});
    } else {
      w->loop->push_signal({Signal::kTerminate, 15, false, std::nullopt});
    }
  }

  void add_stop_event(std::optional<std::int32_t> token) {
    auto w = std::make_unique<StopWatch>();
    w->loop = this;
    w->token = token;
    const DWORD pid = GetCurrentProcessId();
    const std::wstring name = token ? win32::stop_event_name(pid, *token) : win32::stop_event_name(pid);
    w->event = CreateEventW(nullptr, FALSE, FALSE, name.c_str());
    if (w->event == nullptr) return;
    if (!RegisterWaitForSingleObject(&w->wait, w->event, on_stop_request, w.get(), INFINITE, WT_EXECUTEDEFAULT)) {
      CloseHandle(w->event);
      return;
    }
    stops.push_back(std::move(w));
  }

  ~Impl() {
    if (current() == this) {
      // As POSIX leaves the signals blocked: from now on Ctrl+C and Ctrl+Break are ignored,
      // so that one arriving as the process finishes cannot change its exit status.
      SetConsoleCtrlHandler(ignore_console, FALSE);  // registered once, however many loops
      SetConsoleCtrlHandler(ignore_console, TRUE);
      SetConsoleCtrlHandler(on_console, FALSE);
      current() = nullptr;
    }
    for (auto& [pid, w] : children) {
      UnregisterWaitEx(w->wait, INVALID_HANDLE_VALUE);
    }
    if (port_reader != nullptr) {
      PostQueuedCompletionStatus(port, 0, kQuitKey, nullptr);
      WaitForSingleObject(port_reader, INFINITE);
      CloseHandle(port_reader);
    }
    if (port != nullptr) CloseHandle(port);
    for (auto& w : stops) {
      UnregisterWaitEx(w->wait, INVALID_HANDLE_VALUE);
      CloseHandle(w->event);
    }
    CloseHandle(activity);
  }
};

EventLoop::EventLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLoop::EventLoop(EventLoop&&) noexcept = default;
EventLoop& EventLoop::operator=(EventLoop&&) noexcept = default;
EventLoop::~EventLoop() = default;

Result<EventLoop> EventLoop::create(std::initializer_list<Signal>) {
  auto impl = std::make_unique<Impl>();
  if (impl->activity == nullptr) return win32::error("cannot create an event", GetLastError());
  Impl::current() = impl.get();
  SetConsoleCtrlHandler(Impl::on_console, TRUE);
  impl->add_stop_event(std::nullopt);  // qc-shutdown's way of asking us to stop
  return EventLoop(std::move(impl));
}

void EventLoop::watch_child(const Child& child, bool kill_group) {
  auto w = std::make_unique<Impl::ChildWatch>();
  w->loop = impl_.get();
  w->pid = child.pid();
  w->process = win32::to_handle(child.handle());
  w->job = child.group() == kInvalidHandle ? nullptr : win32::to_handle(child.group());
  w->kill_group = kill_group;
  HANDLE job = w->job;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);  // the port's reader looks children up
    if (!RegisterWaitForSingleObject(&w->wait, w->process, Impl::on_child_exit, w.get(), INFINITE,
                                     WT_EXECUTEONLYONCE)) {
      return;
    }
    impl_->children[child.pid()] = std::move(w);
  }
  if (job != nullptr) impl_->report_job(job);
}

void EventLoop::unwatch_child(Pid pid) {
  auto it = impl_->children.find(pid);
  if (it == impl_->children.end()) return;
  UnregisterWaitEx(it->second->wait, INVALID_HANDLE_VALUE);  // waits for a running callback
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->children.erase(it);
}

void EventLoop::accept_stop_requests(const std::vector<std::int32_t>& tokens) {
  for (std::int32_t token : tokens) impl_->add_stop_event(token);
}

NativeHandle EventLoop::wake_handle() const { return win32::from_handle(impl_->activity); }

void EventLoop::watch_readable(NativeHandle handle) {
  if (handle == kInvalidHandle) return;
  auto& r = impl_->readable;
  if (std::find(r.begin(), r.end(), handle) == r.end()) r.push_back(handle);
}

void EventLoop::unwatch_readable(NativeHandle handle) {
  auto& r = impl_->readable;
  r.erase(std::remove(r.begin(), r.end(), handle), r.end());
}

Result<Events> EventLoop::wait(std::optional<SteadyTime> deadline) {
  std::vector<HANDLE> handles{impl_->activity};
  for (NativeHandle h : impl_->readable) handles.push_back(win32::to_handle(h));
  DWORD timeout = INFINITE;
  if (deadline) {
    const auto now = std::chrono::steady_clock::now();
    const auto left = now >= *deadline ? 0 : std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
    timeout = static_cast<DWORD>(std::min<long long>(left, INFINITE - 1));
  }
  const DWORD r = WaitForMultipleObjects(static_cast<DWORD>(handles.size()), handles.data(), FALSE, timeout);
  if (r == WAIT_FAILED) return win32::error("cannot wait for events", GetLastError());
  Events events;
  for (NativeHandle h : impl_->readable) {
    if (WaitForSingleObject(win32::to_handle(h), 0) == WAIT_OBJECT_0) events.readable.push_back(h);
  }
  std::lock_guard<std::mutex> lock(impl_->mutex);
  events.signals.swap(impl_->signals);
  events.exits.swap(impl_->exits);
  return events;
}

Result<std::unique_ptr<Notifier>> Notifier::create() {
  std::unique_ptr<Notifier> n(new Notifier());
  HANDLE event = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (event == nullptr) return win32::error("cannot create an event", GetLastError());
  n->handle_ = win32::from_handle(event);
  return n;
}

Notifier::~Notifier() {
  if (handle_ != kInvalidHandle) CloseHandle(win32::to_handle(handle_));
}

void Notifier::notify() { SetEvent(win32::to_handle(handle_)); }
void Notifier::clear() { ResetEvent(win32::to_handle(handle_)); }

}  // namespace qc
