// Process identity on Windows: the PID with its creation FILETIME as the start token; the
// command line through NtQueryInformationProcess; exits waited on through process handles.
#include "win32_util.hpp"  // <windows.h> first: tlhelp32.h and winternl.h need its types

#include <shellapi.h>
#include <tlhelp32.h>
#include <winternl.h>

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <cstddef>

#include "qc/process.hpp"

namespace qc {
namespace {

using win32::Handle;

// ProcessCommandLineInformation (Windows 8.1+): the command line as a UNICODE_STRING.
constexpr PROCESSINFOCLASS kProcessCommandLineInformation = static_cast<PROCESSINFOCLASS>(60);
using NtQueryInformationProcessFn = NTSTATUS(NTAPI*)(HANDLE, PROCESSINFOCLASS, PVOID, ULONG, PULONG);

std::vector<std::string> command_line_of(HANDLE process) {
  static const auto query = reinterpret_cast<NtQueryInformationProcessFn>(
      reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationProcess")));
  if (query == nullptr) return {};
  std::vector<unsigned char> buffer(4096);
  ULONG needed = 0;
  NTSTATUS status = query(process, kProcessCommandLineInformation, buffer.data(),
                          static_cast<ULONG>(buffer.size()), &needed);
  if (status != 0 && needed > buffer.size() && needed < (1u << 20)) {
    buffer.resize(needed);
    status = query(process, kProcessCommandLineInformation, buffer.data(),
                   static_cast<ULONG>(buffer.size()), &needed);
  }
  if (status != 0) return {};
  const auto* text = reinterpret_cast<const UNICODE_STRING*>(buffer.data());
  if (text->Buffer == nullptr || text->Length == 0) return {};
  const std::wstring line(text->Buffer, text->Length / sizeof(wchar_t));
  int argc = 0;
  wchar_t** argv = CommandLineToArgvW(line.c_str(), &argc);
  std::vector<std::string> out;
  if (argv != nullptr) {
    for (int i = 0; i < argc; ++i) out.push_back(win32::narrow(argv[i]));
    LocalFree(argv);
  }
  return out;
}

std::string base_name(const std::wstring& path) {
  const auto slash = path.find_last_of(L"\\\\/");
  return win32::narrow(slash == std::wstring::npos ? path : path.substr(slash + 1));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::optional<ProcessInfo> inspect_process(Pid pid, bool with_command_line) {
  if (pid <= 0) return std::nullopt;
  const DWORD access = PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE |
                       (with_command_line ? PROCESS_QUERY_INFORMATION | PROCESS_VM_READ : 0);
  Handle h(OpenProcess(access, FALSE, static_cast<DWORD>(pid)));
  if (!h && with_command_line) {
    h = Handle(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, static_cast<DWORD>(pid)));
  }
  if (!h) {
    if (GetLastError() == ERROR_ACCESS_DENIED) {
      // It exists, but we may not look: without a start token it can never be trusted.
      ProcessInfo info;
      info.pid = pid;
      info.running = true;
      return info;
    }
    return std::nullopt;
  }
  ProcessInfo info;
  info.pid = pid;
  FILETIME created, exited, kernel, user;
  if (GetProcessTimes(h.get(), &created, &exited, &kernel, &user)) info.start = win32::to_u64(created);
  info.running = WaitForSingleObject(h.get(), 0) == WAIT_TIMEOUT;
  wchar_t image[MAX_PATH * 2];
  DWORD size = static_cast<DWORD>(std::size(image));
  if (QueryFullProcessImageNameW(h.get(), 0, image, &size)) info.name = base_name(std::wstring(image, size));
  if (with_command_line) info.command_line = command_line_of(h.get());
  return info;
}

ProcessId current_process() {
  static const ProcessId self = [] {
    ProcessId id{static_cast<Pid>(GetCurrentProcessId()), 0};
    FILETIME created, exited, kernel, user;
    if (GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) {
      id.start = win32::to_u64(created);
    }
    return id;
  }();
  return self;
}

bool stay_on_current_cpu() {
  DWORD_PTR process_mask = 0, system_mask = 0;
  if (!GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask)) return false;
  const DWORD cpu = GetCurrentProcessorNumber();  // within our processor group
  if (cpu >= sizeof(DWORD_PTR) * 8) return false;
  const DWORD_PTR one = static_cast<DWORD_PTR>(1) << cpu;
  if ((process_mask & one) == 0 || process_mask == one) return false;
  return SetProcessAffinityMask(GetCurrentProcess(), one) != 0;
}

bool is_running(const ProcessId& id) {
  auto info = inspect_process(id.pid);
  return info && info->running && info->start != 0 && info->start == id.start;
}

bool is_running_python(Pid pid) {
  auto info = inspect_process(pid);
  return info && info->running && lower(info->name).find("python") != std::string::npos;
}

std::vector<ProcessInfo> list_processes(bool with_command_lines) {
  std::vector<ProcessInfo> out;
  Handle snapshot(CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0));
  if (!snapshot) return out;
  PROCESSENTRY32W entry{};
  entry.dwSize = sizeof entry;
  for (BOOL more = Process32FirstW(snapshot.get(), &entry); more; more = Process32NextW(snapshot.get(), &entry)) {
    if (entry.th32ProcessID == 0) continue;
    auto info = inspect_process(entry.th32ProcessID, with_command_lines);
    if (!info) continue;
    info->parent = entry.th32ParentProcessID;
    if (info->name.empty()) info->name = win32::narrow(entry.szExeFile);
    out.push_back(std::move(*info));
  }
  return out;
}

namespace {

// NtQuerySystemInformation's SystemExtendedHandleInformation (class 64): every handle of every
// process, with its owner's PID, its value, its granted access and its object type.
constexpr ULONG kSystemExtendedHandleInformation = 64;
constexpr NTSTATUS kInfoLengthMismatch = static_cast<NTSTATUS>(0xC0000004L);
struct HandleEntry {
  PVOID object;
  ULONG_PTR pid;
  ULONG_PTR value;
  ULONG granted_access;
  USHORT creator_back_trace_index;
  USHORT object_type_index;
  ULONG attributes;
  ULONG reserved;
};
struct HandleTable {
  ULONG_PTR count;
  ULONG_PTR reserved;
  HandleEntry entries[1];
};
using NtQuerySystemInformationFn = NTSTATUS(NTAPI*)(ULONG, PVOID, ULONG, PULONG);

// The system's handle table; empty when it cannot be read.
std::vector<unsigned char> read_handle_table() {
  static const auto query = reinterpret_cast<NtQuerySystemInformationFn>(
      reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQuerySystemInformation")));
  if (query == nullptr) return {};
  std::vector<unsigned char> buffer(1u << 20);
  for (;;) {
    ULONG needed = 0;
    const NTSTATUS status = query(kSystemExtendedHandleInformation, buffer.data(),
                                  static_cast<ULONG>(buffer.size()), &needed);
    if (status == 0) return buffer;
    if (status != kInfoLengthMismatch || buffer.size() >= (1u << 28)) return {};
    buffer.resize(std::max<std::size_t>(buffer.size() * 2, needed + (1u << 16)));  // it grows meanwhile
  }
}

struct FileIdentity {
  DWORD volume = 0, high = 0, low = 0;
  bool operator==(const FileIdentity& o) const { return volume == o.volume && high == o.high && low == o.low; }
};

std::optional<FileIdentity> identity_of(HANDLE h) {
  BY_HANDLE_FILE_INFORMATION info{};
  if (!GetFileInformationByHandle(h, &info)) return std::nullopt;
  return FileIdentity{info.dwVolumeSerialNumber, info.nFileIndexHigh, info.nFileIndexLow};
}

std::mutex& jobs_mutex() {
  static std::mutex m;
  return m;
}
std::vector<HANDLE>& jobs() {
  static std::vector<HANDLE> j;
  return j;
}

}  // namespace

namespace win32 {

void register_job(HANDLE job) {
  std::lock_guard<std::mutex> lock(jobs_mutex());
  jobs().push_back(job);
}

void unregister_job(HANDLE job) {
  std::lock_guard<std::mutex> lock(jobs_mutex());
  auto& j = jobs();
  j.erase(std::remove(j.begin(), j.end(), job), j.end());
}

std::vector<DWORD> processes_in_jobs() {
  std::vector<DWORD> out;
  std::lock_guard<std::mutex> lock(jobs_mutex());
  for (HANDLE job : jobs()) {
    std::vector<ULONG_PTR> buffer(1024);
    auto* list = reinterpret_cast<JOBOBJECT_BASIC_PROCESS_ID_LIST*>(buffer.data());
    if (!QueryInformationJobObject(job, JobObjectBasicProcessIdList, list,
                                   static_cast<DWORD>(buffer.size() * sizeof(ULONG_PTR)), nullptr) &&
        GetLastError() != ERROR_MORE_DATA) {
      continue;
    }
    for (DWORD i = 0; i < list->NumberOfProcessIdsInList; ++i) {
      out.push_back(static_cast<DWORD>(list->ProcessIdList[i]));
    }
  }
  return out;
}

}  // namespace win32

// The lock's holders are the processes with a handle to the lock file open with the lock's
// access (win32::kLockHandleAccess): the holder and whatever inherited its handle. Found in
// the system's handle table, as /proc/PID/fd is read on Linux; only handles of a process we
// may open (PROCESS_DUP_HANDLE: our own user's) are seen.
std::vector<std::vector<ProcessInfo>> processes_holding(const std::vector<std::string>& paths) {
  std::vector<std::vector<ProcessInfo>> out(paths.size());
  std::vector<std::optional<FileIdentity>> wanted;
  for (const auto& path : paths) {
    Handle h(CreateFileW(win32::widen(path).c_str(), FILE_READ_ATTRIBUTES,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                         FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
    wanted.push_back(h ? identity_of(h.get()) : std::nullopt);
  }
  if (std::none_of(wanted.begin(), wanted.end(), [](const auto& w) { return w.has_value(); })) return out;
  const auto table_bytes = read_handle_table();
  if (table_bytes.empty()) return out;
  const auto* table = reinterpret_cast<const HandleTable*>(table_bytes.data());
  const std::size_t fit = (table_bytes.size() - offsetof(HandleTable, entries)) / sizeof(HandleEntry);
  const std::size_t count = std::min<std::size_t>(table->count, fit);
  std::map<DWORD, Handle> opened;  // PID -> a handle to duplicate from (null: may not)
  const HANDLE self = GetCurrentProcess();
  for (std::size_t i = 0; i < count; ++i) {
    const HandleEntry& e = table->entries[i];
    if (e.granted_access != win32::kLockHandleAccess) continue;
    const auto pid = static_cast<DWORD>(e.pid);
    auto it = opened.find(pid);
    if (it == opened.end()) it = opened.emplace(pid, Handle(OpenProcess(PROCESS_DUP_HANDLE, FALSE, pid))).first;
    if (!it->second) continue;
    HANDLE copy = nullptr;
    if (!DuplicateHandle(it->second.get(), reinterpret_cast<HANDLE>(e.value), self, &copy, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
      continue;
    }
    Handle dup(copy);
    if (GetFileType(dup.get()) != FILE_TYPE_DISK) continue;
    const auto id = identity_of(dup.get());
    if (!id) continue;
    for (std::size_t p = 0; p < paths.size(); ++p) {
      if (!wanted[p] || !(*wanted[p] == *id)) continue;
      auto& holders = out[p];
      if (std::any_of(holders.begin(), holders.end(), [&](const ProcessInfo& h) { return h.pid == Pid(pid); })) continue;
      if (auto info = inspect_process(static_cast<Pid>(pid), true); info && info->running) {
        holders.push_back(std::move(*info));
      }
    }
  }
  return out;
}

bool can_see_file_holders() { return true; }

std::string holder_search_hint(const std::string& path) { return "handle.exe -nobanner \"" + path + "\""; }
std::string superuser_name() { return "an administrator"; }

void adopt_orphaned_descendants() {}  // the job object keeps them (and kills them on close)

bool has_child_processes() {
  const DWORD self = GetCurrentProcessId();
  const auto pids = win32::processes_in_jobs();
  return std::any_of(pids.begin(), pids.end(), [self](DWORD p) { return p != self; });
}

std::vector<Pid> child_pids() { return {}; }  // nothing to adopt: see living_descendants

std::vector<ProcessInfo> living_descendants() {
  std::vector<ProcessInfo> out;
  for (DWORD pid : win32::processes_in_jobs()) {
    if (pid == GetCurrentProcessId()) continue;
    if (auto info = inspect_process(static_cast<Pid>(pid), true); info && info->running) out.push_back(std::move(*info));
  }
  return out;
}

std::int64_t current_uid() { return -1; }
bool running_as_root() { return false; }

std::optional<WallTime> start_time_of(StartToken start) {
  if (start == 0) return std::nullopt;
  constexpr std::uint64_t kUnixEpochAsFiletime = 116444736000000000ULL;
  if (start < kUnixEpochAsFiletime) return std::nullopt;
  using namespace std::chrono;
  return WallTime(duration_cast<system_clock::duration>(microseconds((start - kUnixEpochAsFiletime) / 10)));
}

std::string host_name() {
  if (const char* given = std::getenv("QC_HOST_NAME"); given && *given) return given;
  wchar_t name[256];
  DWORD size = static_cast<DWORD>(std::size(name));
  if (!GetComputerNameExW(ComputerNameDnsHostname, name, &size)) return "unknown";
  return win32::narrow(std::wstring(name, size));
}

void raise_open_file_limit() {}  // Windows handles have no per-process soft limit to raise

ExitWatcher::ExitWatcher() = default;

ExitWatcher::~ExitWatcher() {
  for (auto& w : watched_) {
    if (w.handle != kInvalidHandle) CloseHandle(win32::to_handle(w.handle));
  }
}

void ExitWatcher::add(const ProcessId& id) {
  for (const auto& w : watched_) {
    if (w.id == id) return;
  }
  Watched w{id, kInvalidHandle, true};
  HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(id.pid));
  if (h != nullptr) {
    // The handle pins whatever now has the PID: it is ours only if the start time matches.
    FILETIME created, exited, kernel, user;
    if (GetProcessTimes(h, &created, &exited, &kernel, &user) && win32::to_u64(created) == id.start &&
        WaitForSingleObject(h, 0) == WAIT_TIMEOUT) {
      w.handle = win32::from_handle(h);
      w.gone = false;
    } else {
      CloseHandle(h);
    }
  }
  watched_.push_back(w);
}

bool ExitWatcher::wait_all(SteadyTime deadline) {
  // "All gone" needs no multiplexing: wait for each in turn against the one deadline.
  for (auto& w : watched_) {
    if (w.gone) continue;
    const auto now = std::chrono::steady_clock::now();
    const auto left = now >= deadline ? 0 : std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    if (WaitForSingleObject(win32::to_handle(w.handle), static_cast<DWORD>(std::min<long long>(left, INFINITE - 1))) !=
        WAIT_OBJECT_0) {
      return false;
    }
    w.gone = true;
    CloseHandle(win32::to_handle(w.handle));
    w.handle = kInvalidHandle;
  }
  return true;
}

}  // namespace qc
