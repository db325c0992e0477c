// Spawning on Windows: CreateProcessW, suspended, into a job object of its own (kill on close:
// nothing outlives its supervisor), with an explicit list of inherited handles (the lock and
// the standard streams, nothing else) and, for a process group of its own,
// CREATE_NEW_PROCESS_GROUP so that Ctrl+Break can be sent to it. Stopping it: stop_win32.cpp.
#include <algorithm>
#include <vector>

#include "qc/spawn.hpp"
#include "win32_util.hpp"

namespace qc {
namespace {

using win32::Handle;

// Our environment with `overrides`, as a CREATE_UNICODE_ENVIRONMENT block.
std::wstring environment_block(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::wstring> entries;
  if (wchar_t* env = GetEnvironmentStringsW()) {
    for (const wchar_t* p = env; *p != L'\0'; p += wcslen(p) + 1) entries.emplace_back(p);
    FreeEnvironmentStringsW(env);
  }
  for (const auto& kv : overrides) {
    const std::wstring key = win32::widen(kv.first);
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const std::wstring& e) {
                                   return e.size() > key.size() && e[key.size()] == L'=' &&
                                          _wcsnicmp(e.c_str(), key.c_str(), key.size()) == 0;
                                 }),
                  entries.end());
    entries.push_back(key + L"=" + win32::widen(kv.second));
  }
  std::wstring block;
  for (const auto& e : entries) {
    block += e;
    block.push_back(L'\0');
  }
  block.push_back(L'\0');
  return block;
}

// An inheritable duplicate of `h`, for the child's handle list.
HANDLE inheritable(HANDLE h, std::vector<Handle>& keep) {
  if (h == nullptr || h == INVALID_HANDLE_VALUE) return nullptr;
  HANDLE dup = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, TRUE, DUPLICATE_SAME_ACCESS)) {
    return nullptr;
  }
  keep.emplace_back(dup);
  return dup;
}

}  // namespace

Child::~Child() {
  // Closing the job (kill on close) ends whatever is left of the child's tree.
  if (group_ != kInvalidHandle) {
    win32::unregister_job(win32::to_handle(group_));
    CloseHandle(win32::to_handle(group_));
  }
  if (handle_ != kInvalidHandle) CloseHandle(win32::to_handle(handle_));
}

Result<Child> spawn_process(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) return Error{"no command given", ENOENT};
  const std::string& program = options.argv[0];
  if (!options.cwd.empty()) {
    const DWORD attrs = GetFileAttributesW(win32::widen(options.cwd).c_str());
    if (attrs == INVALID_FILE_ATTRIBUTES || !(attrs & FILE_ATTRIBUTE_DIRECTORY)) {
      return Error{"cannot change to directory " + options.cwd + ": " + win32::message(GetLastError()), 0};
    }
  }
  std::wstring command_line = win32::command_line(options.argv);
  std::wstring env;
  if (!options.env.empty()) env = environment_block(options.env);

  std::vector<Handle> keep;  // inheritable duplicates, closed once the child has its copies
  Handle null_input;
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  if (options.stdin_from != kInvalidHandle) {
    in = win32::to_handle(options.stdin_from);
  } else if (options.stdin_null) {
    SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, FALSE};
    null_input = Handle(CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                                    OPEN_EXISTING, 0, nullptr));
    in = null_input.get();
  }
  HANDLE out = options.stdout_to != kInvalidHandle ? win32::to_handle(options.stdout_to) : GetStdHandle(STD_OUTPUT_HANDLE);
  HANDLE err = options.stderr_to != kInvalidHandle ? win32::to_handle(options.stderr_to) : GetStdHandle(STD_ERROR_HANDLE);

  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = inheritable(in, keep);
  si.StartupInfo.hStdOutput = inheritable(out, keep);
  si.StartupInfo.hStdError = inheritable(err, keep);
  for (NativeHandle h : options.inherit) inheritable(win32::to_handle(h), keep);
  std::vector<HANDLE> handle_list;
  for (const auto& h : keep) handle_list.push_back(h.get());

  SIZE_T attr_size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &attr_size);
  std::vector<unsigned char> attr_buffer(attr_size);
  auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buffer.data());
  if (!InitializeProcThreadAttributeList(attrs, 1, 0, &attr_size)) {
    return win32::error("cannot prepare to start " + program, GetLastError());
  }
  if (!handle_list.empty() &&
      !UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handle_list.data(),
                                 handle_list.size() * sizeof(HANDLE), nullptr, nullptr)) {
    DeleteProcThreadAttributeList(attrs);
    return win32::error("cannot prepare to start " + program, GetLastError());
  }
  si.lpAttributeList = attrs;

  DWORD flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED;
  if (options.own_process_group) flags |= CREATE_NEW_PROCESS_GROUP;
  PROCESS_INFORMATION pi{};
  const std::wstring cwd = win32::widen(options.cwd);
  const BOOL created = CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, TRUE, flags,
                                      env.empty() ? nullptr : env.data(), cwd.empty() ? nullptr : cwd.c_str(),
                                      &si.StartupInfo, &pi);
  const DWORD create_error = GetLastError();
  DeleteProcThreadAttributeList(attrs);
  if (!created) {
    Error e = win32::error(program, create_error);
    if (e.sys_errno == ENOENT) e.message = program + ": command not found (not in PATH, or no such file)";
    if (e.sys_errno == EACCES) e.message += " (is it an executable?)";
    return e;
  }
  Handle thread(pi.hThread);
  Handle process(pi.hProcess);

  Handle job(CreateJobObjectW(nullptr, nullptr));
  if (job) {
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    if (options.stop_with_parent) limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits, sizeof limits);
    if (!AssignProcessToJobObject(job.get(), process.get())) job.reset();
  }
  if (job) win32::register_job(job.get());
  ResumeThread(thread.get());

  ProcessId id{static_cast<Pid>(pi.dwProcessId), 0};
  FILETIME start, exited, kernel, user;
  if (GetProcessTimes(process.get(), &start, &exited, &kernel, &user)) id.start = win32::to_u64(start);
  return Child(id, win32::from_handle(process.release()), win32::from_handle(job.release()));
}

}  // namespace qc

namespace qc {

Error exec_sibling(const std::string& sibling, char**) {
  return Error{sibling + " cannot replace this process on Windows (not in this build)"};
}

}  // namespace qc
