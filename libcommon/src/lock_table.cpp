// The lock directory as a table, and its rendering (docs/tools.md's columns and formats).
#include "qc/lock_table.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "lock_file.hpp"
#include "qc/lock.hpp"
#include "qc/names.hpp"
#include "qc/paths.hpp"
#include "qc/pattern.hpp"
#include "qc/text.hpp"

namespace qc {
namespace fs = std::filesystem;

const char* state_name(EntryState state) {
  switch (state) {
    case EntryState::kRunning: return "running";
    case EntryState::kOrphaned: return "orphaned";
    case EntryState::kStale: return "stale";
    case EntryState::kLegacy: return "legacy";
    case EntryState::kUnmanaged: return "unmanaged";
    case EntryState::kDuplicate: return "duplicate";
  }
  return "unknown";
}

namespace {

// A holder rewrites its record in place, in one write that never shortens the file; but a
// read that runs while the kernel copies that write can still see half of each (seen: 37 in
// 500,000 raw reads under a zero-backoff restart loop). So a held file's record counts once
// two reads in a row agree; docs/lock-file.md asks other readers to do the same.
Result<std::optional<LockRecord>> read_settled_record(const std::string& path, bool held) {
  // A writer preempted in the middle of its copy leaves the torn state in place for a while:
  // keep reading (yielding the CPU) for up to 50 ms before settling for less.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  std::optional<std::string> previous;
  std::optional<LockRecord> parsed;  // the last read that parsed, if any
  for (int attempt = 0; attempt < 2 || std::chrono::steady_clock::now() < give_up; ++attempt) {
    if (attempt > 0) std::this_thread::yield();
    auto contents = read_lock_file(path);
    if (!contents) return contents.error();
    if (!*contents) return std::optional<LockRecord>();  // removed meanwhile
    auto record = parse_lock_record(**contents);
    if (!held) return record;  // nobody writes it (an acquirer would hold it)
    if (record && previous == **contents) return record;
    if (record) parsed = std::move(record);
    previous = std::move(**contents);
  }
  // Rewritten without pause all along: a read that parsed is the best there is. None: a
  // holder that has not written yet, or garbage, and unreadable is the answer.
  return parsed;
}

}  // namespace

const char* shown_state(const LockEntry& e) {
  if (e.state == EntryState::kRunning && e.record && !e.record->legacy) {
    for (const char* said : {"restarting", "failed", "stopping", "standby"}) {
      if (e.record->state == said) return said;
    }
  }
  return state_name(e.state);
}

Result<LockEntry> read_lock_entry(const std::string& dir, const std::string& name) {
  LockEntry entry;
  entry.name = name;
  entry.lock_file = lock_file_path(dir, name);
  auto probe = probe_lock(entry.lock_file);
  if (!probe) return probe.error();
  if (*probe == LockProbe::kMissing) {
    return Error{"no lock file " + entry.lock_file, ENOENT};
  }
  auto record = read_settled_record(entry.lock_file, *probe == LockProbe::kHeld);
  if (!record) return record.error();
  entry.record = std::move(*record);
  const auto& r = entry.record;
  if (*probe == LockProbe::kHeld) {
    // Held with an unreadable or legacy record: a new holder that has not written yet.
    const bool wrapper_gone = r && !r->legacy && !is_running(r->holder());
    entry.state = wrapper_gone ? EntryState::kOrphaned : EntryState::kRunning;
  } else if (r && is_live_legacy_holder(*r)) {
    entry.state = EntryState::kLegacy;
  } else {
    entry.state = EntryState::kStale;
  }
  return entry;
}

Result<LockTable> read_lock_directory(const std::string& dir) {
  LockTable table;
  std::error_code ec;
  fs::directory_iterator it(to_path(dir), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return table;
    return Error{"cannot read lock directory " + dir + ": " + ec.message(), ec.value()};
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return Error{"cannot read lock directory " + dir + ": " + ec.message(), ec.value()};
    const std::string file = path_string(it->path().filename());
    const std::size_t suffix = std::char_traits<char>::length(kLockSuffix);
    if (file.size() <= suffix || file.compare(file.size() - suffix, suffix, kLockSuffix) != 0) {
      continue;
    }
    const std::string name = file.substr(0, file.size() - suffix);
    if (!is_valid_lock_name(name)) continue;
    auto entry = read_lock_entry(dir, name);
    if (entry) {
      table.entries.push_back(std::move(*entry));
    } else if (entry.error().sys_errno != ENOENT) {  // removed meanwhile: not a problem
      table.problems.push_back(entry.error().message);
    }
  }
  std::sort(table.entries.begin(), table.entries.end(),
            [](const LockEntry& a, const LockEntry& b) { return a.name < b.name; });
  return table;
}

namespace {

std::string basename_any(const std::string& path) {
  const auto slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string lowercase(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_interpreter(const std::string& program) {
  std::string base = lowercase(basename_any(program));
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".exe") == 0) {
    base.resize(base.size() - 4);
  }
  if (base.rfind("python", 0) == 0 || base.rfind("pypy", 0) == 0) return true;
  static const char* kOthers[] = {"py", "node", "perl", "ruby", "php", "bash", "sh", "dash", "zsh"};
  return std::find(std::begin(kOthers), std::end(kOthers), base) != std::end(kOthers);
}

}  // namespace

std::string script_key(const std::vector<std::string>& command_line) {
  if (command_line.empty()) return "";
  std::size_t script = 0;
  if (is_interpreter(command_line[0])) {
    for (std::size_t i = 1; i < command_line.size(); ++i) {
      const std::string& arg = command_line[i];
      if (arg == "-m" || arg == "-c") {  // python -m module / -c code: what follows is it
        script = std::min(i + 1, command_line.size() - 1);
        break;
      }
      if (arg.empty() || arg[0] != '-') {
        script = i;
        break;
      }
    }
  }
  std::string key = basename_any(command_line[script]);
  for (std::size_t i = script + 1; i < command_line.size(); ++i) key += " " + command_line[i];
  return key;
}

std::vector<std::vector<ProcessInfo>> unmanaged_copies(const std::vector<std::vector<std::string>>& commands) {
  std::vector<std::vector<ProcessInfo>> out(commands.size());
  std::map<std::string, std::vector<std::size_t>> wanted;
  for (std::size_t i = 0; i < commands.size(); ++i) wanted[script_key(commands[i])].push_back(i);
  // Command lines are read only for processes that could run one of them: an interpreter,
  // or a process named like a planned script or executable (names are cut at 15 bytes). A
  // pre-check that read every command line on the machine cost qc-launch's start-up time.
  std::vector<std::string> names;
  for (const auto& command : commands) {
    if (command.empty()) continue;
    const std::string key = script_key(command);
    names.push_back(basename_any(command[0]).substr(0, 15));
    names.push_back(key.substr(0, key.find(' ')).substr(0, 15));
  }
  auto processes = list_processes(/*with_command_lines=*/false);
  for (auto& p : processes) {
    const bool candidate = is_interpreter(p.name) || std::find(names.begin(), names.end(), p.name) != names.end();
    if (!candidate || !p.running) continue;
    if (auto full = inspect_process(p.pid, true); full && full->start == p.start) {
      p.command_line = std::move(full->command_line);
    }
  }
  std::map<Pid, const ProcessInfo*> by_pid;
  for (const auto& p : processes) by_pid[p.pid] = &p;
  auto is_qc_tool = [](const ProcessInfo& p) {
    return p.name.rfind("qc-", 0) == 0 ||
           (!p.command_line.empty() && basename_any(p.command_line[0]).rfind("qc-", 0) == 0);
  };
  const Pid self = current_process().pid;
  for (const auto& p : processes) {
    if (!p.running || p.command_line.empty() || p.pid == self) continue;
    auto it = wanted.find(script_key(p.command_line));
    if (it == wanted.end()) continue;
    bool managed = false;
    const ProcessInfo* at = &p;
    for (int depth = 0; at != nullptr && depth < 64 && !managed; ++depth) {
      managed = is_qc_tool(*at) || at->pid == self;
      auto parent = by_pid.find(at->parent);
      at = parent == by_pid.end() ? nullptr : parent->second;
    }
    if (managed) continue;
    for (std::size_t index : it->second) out[index].push_back(p);
  }
  return out;
}

Result<std::vector<LockEntry>> scan_unmanaged(const std::string& pattern,
                                              const std::vector<LockEntry>& managed) {
  auto re = Pattern::compile(pattern);
  if (!re) return re.error();
  std::vector<Pid> managed_pids{current_process().pid};
  std::map<std::string, int> copies;
  for (const auto& entry : managed) {
    if (!entry.record || !entry.held()) continue;
    managed_pids.push_back(entry.record->pid);
    if (entry.record->child_pid) managed_pids.push_back(*entry.record->child_pid);
    if (!entry.record->command.empty()) ++copies[script_key(entry.record->command)];
  }
  std::vector<LockEntry> rows;
  for (auto& process : list_processes()) {
    if (!process.running || process.command_line.empty()) continue;
    if (std::find(managed_pids.begin(), managed_pids.end(), process.pid) != managed_pids.end()) {
      continue;
    }
    if (basename_any(process.command_line[0]).rfind("qc-", 0) == 0) continue;
    if (!re->search(join_command(process.command_line))) continue;
    LockEntry row;
    const std::string key = script_key(process.command_line);
    row.name = key.substr(0, key.find(' '));
    row.state = EntryState::kUnmanaged;
    ++copies[key];
    row.process = std::move(process);
    rows.push_back(std::move(row));
  }
  for (auto& row : rows) {
    if (copies[script_key(row.process->command_line)] > 1) row.state = EntryState::kDuplicate;
  }
  std::sort(rows.begin(), rows.end(), [](const LockEntry& a, const LockEntry& b) {
    return a.name != b.name ? a.name < b.name : a.process->pid < b.process->pid;
  });
  return rows;
}

namespace {

// One row as the formats show it; missing values are nullopt.
struct RowView {
  std::string name, state;
  std::optional<Pid> pid, child_pid;
  std::optional<std::string> account, host, started;
  std::optional<long long> uptime_s;
  std::optional<int> restarts;
  std::optional<std::string> run_started, held_since;
  std::optional<int> last_status;
  std::vector<std::string> command;
  std::optional<std::string> lock_file;
  std::optional<Pid> live_pid;  // the PID that -q prints: verified running, never stale
};

RowView view_of(const LockEntry& e, WallTime now) {
  RowView v;
  v.name = e.name;
  v.state = shown_state(e);
  std::optional<WallTime> started_at;
  if (e.process) {
    const ProcessInfo& p = *e.process;
    v.pid = p.pid;
    v.live_pid = p.pid;
    v.host = host_name();
    v.command = p.command_line;
    started_at = start_time_of(p.start);
    if (started_at) v.started = format_iso8601(*started_at);
  } else {
    v.lock_file = e.lock_file;
    if (e.record) {
      const LockRecord& r = *e.record;
      v.pid = r.pid;
      v.child_pid = r.child_pid;
      v.account = r.account;
      if (!r.host.empty()) v.host = r.host;
      if (!r.timestamp.empty()) v.started = v.held_since = r.timestamp;
      if (!r.legacy) v.restarts = r.restarts;
      v.command = r.command;
      v.run_started = r.run_started;
      v.last_status = r.last_status;
      // UPTIME is the current run's; a record from before run_started existed has only the
      // time the name was taken.
      if (r.run_started) {
        started_at = parse_iso8601(*r.run_started);
      } else if (r.state.empty() || (r.state == "running" && !r.child_pid)) {
        started_at = parse_iso8601(r.timestamp);  // an orchestrator's own name: since taken
      }
      // -q prints the process that is the program: its command where one runs (killing
      // the wrapper of a qc-launch would stop every program), else the wrapper.
      const bool child_runs = !r.legacy && r.child() && is_running(*r.child());
      if (child_runs && (e.state == EntryState::kRunning || e.state == EntryState::kOrphaned)) {
        v.live_pid = r.child_pid;
      } else if (e.state == EntryState::kRunning || e.state == EntryState::kLegacy) {
        v.live_pid = r.pid;
      }
    }
  }
  if (started_at && e.state != EntryState::kStale) {
    v.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(now - *started_at).count();
    if (*v.uptime_s < 0) v.uptime_s = 0;
  }
  return v;
}

std::string or_dash(const std::optional<std::string>& s) { return s && !s->empty() ? *s : "-"; }
template <class T>
std::string num_or_dash(const std::optional<T>& n) { return n ? std::to_string(*n) : "-"; }

// A cell of the table or of --tsv: control characters (tabs and newlines included) escaped.
std::string one_line(const std::string& s) { return printable(s, /*escape_tab=*/true); }

std::vector<std::string> cells_of(const RowView& v) {
  return {one_line(v.name),
          v.state,
          num_or_dash(v.pid),
          num_or_dash(v.child_pid),
          one_line(or_dash(v.account)),
          one_line(or_dash(v.host)),
          v.uptime_s ? format_duration(std::chrono::seconds(*v.uptime_s)) : "-",
          num_or_dash(v.restarts),
          v.command.empty() ? "-" : one_line(join_command(v.command))};
}

template <class T>
nlohmann::ordered_json json_or_null(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

void render_entries(std::ostream& out, const std::vector<LockEntry>& entries,
                    OutputFormat format, WallTime now) {
  static const std::vector<std::string> kHeader = {"NAME",    "STATE", "PID",    "CHILD",   "ACCOUNT",
                                                   "HOST",    "UPTIME", "RESTARTS", "COMMAND"};
  std::vector<RowView> rows;
  rows.reserve(entries.size());
  for (const auto& e : entries) rows.push_back(view_of(e, now));

  switch (format) {
    case OutputFormat::kPids:
      for (const auto& v : rows) {
        if (v.live_pid) out << *v.live_pid << '\n';
      }
      return;
    case OutputFormat::kJson:
      for (const auto& v : rows) {
        nlohmann::ordered_json j;
        j["name"] = v.name;
        j["state"] = v.state;
        j["pid"] = json_or_null(v.pid);
        j["child_pid"] = json_or_null(v.child_pid);
        j["account"] = json_or_null(v.account);
        j["host"] = json_or_null(v.host);
        j["started"] = json_or_null(v.started);
        j["uptime_s"] = json_or_null(v.uptime_s);
        j["restarts"] = json_or_null(v.restarts);
        j["command"] = v.command;
        j["lock_file"] = json_or_null(v.lock_file);
        j["run_started"] = json_or_null(v.run_started);
        j["held_since"] = json_or_null(v.held_since);
        j["last_status"] = json_or_null(v.last_status);
        out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      }
      return;
    case OutputFormat::kTsv: {
      auto print = [&out](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) out << (i ? "\t" : "") << cells[i];
        out << '\n';
      };
      print(kHeader);
      for (const auto& v : rows) print(cells_of(v));
      return;
    }
    case OutputFormat::kTable: {
      std::vector<std::vector<std::string>> table{kHeader};
      for (const auto& v : rows) table.push_back(cells_of(v));
      print_columns(out, table);
      return;
    }
  }
}

}  // namespace qc
