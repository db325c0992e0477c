// qc-launch: takes its own lock and every program's, starts the programs in order (each
// once the one before is ready), supervises them all from one event loop, and stops them in
// reverse order on SIGINT/SIGTERM.
#include "launch_tool.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "qc/engine.hpp"
#include "qc/engine_runner.hpp"
#include "qc/exit_codes.hpp"
#include "qc/health.hpp"
#include "qc/lock_record.hpp"
#include "qc/lock_table.hpp"
#include "qc/names.hpp"
#include "qc/paths.hpp"
#include "qc/service_notify.hpp"
#include "qc/spawn.hpp"
#include "qc/text.hpp"

namespace qc::launch {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

void print_json(const ordered_json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

int print_plan(const LaunchPlan& plan, bool json) {
  if (json) {
    for (const auto& p : plan.programs) {
      ordered_json j;
      j["name"] = p.spec.name;
      j["account"] = p.spec.account ? ordered_json(*p.spec.account) : ordered_json(nullptr);
      j["command"] = p.spec.command;
      j["cwd"] = p.spec.cwd;
      j["ready"] = p.ready.kind == ReadySpec::Kind::kNone ? ordered_json(nullptr)
                                                          : ordered_json(check_text(p.ready));
      j["start_delay_s"] = p.start_delay_s;
      j["restart"] = restart_mode_name(p.spec.restart.mode);
      j["max_restarts"] = p.spec.restart.max_restarts;
      print_json(j);
    }
    return exit_code::kOk;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "ACCOUNT", "READY", "COMMAND"}};
  for (const auto& p : plan.programs) {
    rows.push_back({p.spec.name, p.spec.account.value_or("-"), check_text(p.ready),
                    join_command(p.spec.command)});
  }
  print_columns(std::cout, rows);
  log::info("dry run: {} program{} from {}; nothing started", plan.programs.size(),
            plan.programs.size() == 1 ? "" : "s", plan.config_path);
  return exit_code::kOk;
}

// The tool around the engine runner (qc/engine_runner.hpp): the config and its reload, the
// orchestrator's own lock and the programs' (taken all or none), the unmanaged-copy scan,
// periodic status reports and sd_notify. The programs' supervision is the runner's.
class Orchestrator : private RunnerHooks {
 public:
  Orchestrator(const Options& options, LaunchPlan plan);
  int run();

 private:
  int take_locks(std::vector<HeldLock>& locks);
  protocol::Answer reload(SteadyTime now);
  void tell_service(SteadyTime now);

  // RunnerHooks
  void on_signal(const SignalEvent& s, SteadyTime now) override;
  std::optional<protocol::Answer> on_control(const std::string& action, const std::string& payload_json,
                                             SteadyTime now) override;
  void on_wake(SteadyTime now) override;
  std::optional<SteadyTime> deadline() const override;

  const Options& o_;
  LaunchPlan plan_;  // its programs are the runner's once it runs
  EngineRunner runner_;
  std::string own_lock_path_;
  Clock::duration status_every_{};
  SteadyTime next_status_{};

  // systemd (Type=notify): READY=1 once every program has started and is ready, STATUS=,
  // STOPPING=1, WATCHDOG=1.
  std::unique_ptr<ServiceNotifier> service_;
  bool told_ready_ = false;
  bool told_stopping_ = false;
  std::string told_status_;
  std::optional<SteadyTime> next_watchdog_;
};

RunnerSettings runner_settings(const Options& o, const LaunchPlan& plan) {
  RunnerSettings s;
  s.tool = "qc-launch";
  s.lock_dir = plan.lock_dir;
  s.log_dir = plan.log_dir;
  s.log_max_bytes = o.log_max_bytes;
  s.log_files = o.log_files;
  s.json = o.json;
  s.on_event = plan.on_event;
  s.stop_requests = true;
  s.control = true;
  s.status_fields = {{"config", plan.config_path}};
  return s;
}

Orchestrator::Orchestrator(const Options& options, LaunchPlan plan)
    : o_(options), plan_(std::move(plan)), runner_(runner_settings(options, plan_), *this) {}

// What makes a program another program (a reload restarts it): what it runs, where, with
// which environment, for which account.
bool same_identity(const ProgramSpec& a, const ProgramSpec& b) {
  return a.command == b.command && a.cwd == b.cwd && a.env == b.env && a.account == b.account;
}

bool same_probe(const ReadySpec& a, const ReadySpec& b) {
  return a.kind == b.kind && a.target == b.target && a.timeout_s == b.timeout_s;
}

// Everything else a reload can change without a restart.
bool same_policy(const SupervisedProgram& a, const SupervisedProgram& b) {
  const RestartPolicy& x = a.spec.restart;
  const RestartPolicy& y = b.spec.restart;
  const bool health = a.health.has_value() == b.health.has_value() &&
                      (!a.health || (same_probe(a.health->check, b.health->check) &&
                                     a.health->interval_s == b.health->interval_s && a.health->failures == b.health->failures));
  return x.mode == y.mode && x.max_restarts == y.max_restarts && x.backoff_initial_s == y.backoff_initial_s &&
         x.backoff_max_s == y.backoff_max_s && x.reset_after_s == y.reset_after_s &&
         a.spec.stop_timeout_s == b.spec.stop_timeout_s && a.spec.stop_signal == b.spec.stop_signal && health &&
         same_probe(a.ready, b.ready) && a.start_delay_s == b.start_delay_s;
}

// The orchestrator's own lock, then every program's: if any is held, nothing starts. Taking
// them (rather than only looking) leaves no window for a duplicate between check and start.
int Orchestrator::take_locks(std::vector<HeldLock>& locks) {
  const LockRecord own_record = runner_.record_for(plan_.name, o_.invocation, std::nullopt);
  auto own = acquire_lock(plan_.lock_dir, plan_.name, own_record);
  if (auto* conflict = std::get_if<LockConflict>(&own)) {
    log::error("another orchestrator runs: {}", describe_conflict(*conflict));
    return exit_code::kLockHeld;
  }
  if (auto* error = std::get_if<Error>(&own)) {
    log::error("cannot take {}: {}", plan_.name, error->message);
    return exit_code::kCannotCreate;
  }
  own_lock_path_ = std::get<HeldLock>(own).path();
  runner_.hold_own_lock(std::move(std::get<HeldLock>(own)), own_record);

  int held = 0;
  for (const auto& p : plan_.programs) {
    const auto& spec = p.spec;
    auto got = acquire_lock(plan_.lock_dir, spec.name, runner_.record_for(spec.name, spec.command, spec.account));
    if (auto* conflict = std::get_if<LockConflict>(&got)) {
      log::error("{}", describe_conflict(*conflict));
      ++held;
    } else if (auto* error = std::get_if<Error>(&got)) {
      log::error("cannot take {}: {}", spec.name, error->message);
      return exit_code::kCannotCreate;
    } else {
      locks.push_back(std::move(std::get<HeldLock>(got)));
    }
  }
  // The original incident: copies started by hand, under no lock at all.
  if (held == 0 && !o_.no_scan) {
    std::vector<std::vector<std::string>> commands;
    for (const auto& p : plan_.programs) commands.push_back(p.spec.command);
    const auto copies = unmanaged_copies(commands);
    for (std::size_t i = 0; i < plan_.programs.size(); ++i) {
      for (const auto& c : copies[i]) {
        log::error("{} already runs outside qc as PID {} ({}); stop it (qc-shutdown --config {}) "
                   "or pass --no-scan",
                   plan_.programs[i].spec.name, c.pid, join_command(c.command_line), plan_.config_path);
      }
      if (!copies[i].empty()) ++held;
    }
  }
  if (held > 0) {
    log::error("nothing started: {} of {} program{} already running; stop {} with: qc-shutdown",
               held, plan_.programs.size(), plan_.programs.size() == 1 ? "" : "s", held == 1 ? "it" : "them");
    return exit_code::kLockHeld;
  }
  return exit_code::kOk;
}

void Orchestrator::on_signal(const SignalEvent& s, SteadyTime now) {
  if (s.signal == Signal::kHangup) {  // a closed terminal or SSH session stops nothing
    if (!runner_.engine().stopping()) {
      log::info("SIGHUP: reloading {}", o_.config);
      reload(now);
    }
    return;
  }
  runner_.report_status();  // SIGUSR1, SIGUSR2
}

std::optional<protocol::Answer> Orchestrator::on_control(const std::string& action, const std::string&,
                                                         SteadyTime now) {
  if (action == "RELOAD") return reload(now);
  return std::nullopt;  // protocol::respond's answer: Unknown action
}

// SIGHUP, RELOAD, qc-launch --reload: the config is read again and the difference applied.
// Nothing changes unless all of it can: an invalid config, a moved lock directory or a new
// program whose name is held elsewhere refuse the whole reload.
protocol::Answer Orchestrator::reload(SteadyTime now) {
  auto refuse = [](int code, const std::string& why) {
    log::error("reload refused: {}; nothing changed", why);
    ordered_json data;
    data["exit_code"] = code;
    return protocol::Answer{false, data.dump(), why + "; nothing changed"};
  };
  SupervisionEngine& engine = runner_.engine();
  if (engine.stopping()) return refuse(exit_code::kNo, "everything is stopping");
  auto loaded = load_launch_plan(o_.config, o_.load);
  if (auto* failure = std::get_if<ConfigFailure>(&loaded)) return refuse(failure->exit_code, failure->message);
  LaunchPlan next = std::move(std::get<LaunchPlan>(loaded));
  if (next.programs.empty()) {
    return refuse(exit_code::kConfig, o_.config + " has no program to start (no enabled account, or --accounts chose none)");
  }
  if (next.name != plan_.name || next.lock_dir != plan_.lock_dir || next.log_dir != plan_.log_dir) {
    return refuse(exit_code::kConfig,
                  "LAUNCH.name, lock_dir and log_dir cannot change while " + plan_.name + " runs (they change when qc-launch starts again)");
  }
  // The new programs' names first, all or none, as at start-up.
  std::vector<std::size_t> added;
  std::vector<std::optional<HeldLock>> locks(next.programs.size());
  for (std::size_t k = 0; k < next.programs.size(); ++k) {
    const auto& spec = next.programs[k].spec;
    if (engine.find_any(spec.name)) continue;
    auto got = acquire_lock(plan_.lock_dir, spec.name, runner_.record_for(spec.name, spec.command, spec.account));
    if (auto* conflict = std::get_if<LockConflict>(&got)) return refuse(exit_code::kLockHeld, describe_conflict(*conflict));
    if (auto* error = std::get_if<Error>(&got)) return refuse(exit_code::kCannotCreate, "cannot take " + spec.name + ": " + error->message);
    locks[k].emplace(std::move(std::get<HeldLock>(got)));
    added.push_back(k);
  }
  if (!added.empty() && !o_.no_scan) {
    std::vector<std::vector<std::string>> commands;
    for (std::size_t k : added) commands.push_back(next.programs[k].spec.command);
    const auto copies = unmanaged_copies(commands);
    for (std::size_t a = 0; a < added.size(); ++a) {
      if (copies[a].empty()) continue;
      const auto& c = copies[a].front();
      return refuse(exit_code::kLockHeld, next.programs[added[a]].spec.name + " already runs outside qc as PID " +
                                              std::to_string(c.pid) + " (" + join_command(c.command_line) + ")");
    }
  }
  if (next.on_event != plan_.on_event) {
    log::warn("reload: LAUNCH.on_event changed; the new command is used when qc-launch starts again");
  }

  std::vector<std::string> names[5];  // added, removed, restarted, updated, unchanged
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < runner_.size(); ++i) {
    if (engine.removed(i)) continue;
    const std::string name = runner_.program(i).spec.name;
    const bool kept = std::any_of(next.programs.begin(), next.programs.end(),
                                  [&](const PlannedProgram& q) { return q.spec.name == name; });
    if (kept) continue;
    log::info("reload: {} is no longer in the config; stopping it", name);
    runner_.remove(i, now);
    names[1].push_back(name);
  }
  for (std::size_t k = 0; k < next.programs.size(); ++k) {
    SupervisedProgram q = std::move(next.programs[k]);
    const std::string name = q.spec.name;
    const auto index = engine.find_any(name);
    if (!index) {
      if (auto problem = runner_.add_running(std::move(q), std::move(*locks[k]), now)) {
        problems.push_back(name + " not added: " + *problem);
        continue;
      }
      log::info("reload: {} is new; it starts in its turn", name);
      names[0].push_back(name);
    } else if (engine.removed(*index)) {
      log::info("reload: {} is back in the config; starting it", name);
      if (auto refusal = runner_.readd(*index, std::move(q), now)) {
        problems.push_back(name + " not started: " + *refusal);
        log::warn("reload: {} not started: {}", name, *refusal);
      }
      names[0].push_back(name);
    } else if (!same_identity(runner_.program(*index).spec, q.spec)) {
      log::info("reload: {} changed (command, cwd, env or account); restarting it", name);
      runner_.replace(*index, std::move(q), now);
      names[2].push_back(name);
    } else if (!same_policy(runner_.program(*index), q)) {
      log::info("reload: {}'s policies changed; applied without a restart", name);
      runner_.update(*index, std::move(q), now);
      names[3].push_back(name);
    } else {
      names[4].push_back(name);
    }
  }
  const char* keys[5] = {"added", "removed", "restarted", "updated", "unchanged"};
  ordered_json data;
  std::string summary = "reloaded " + o_.config + ":";
  for (int k = 0; k < 5; ++k) {
    data[keys[k]] = names[k];
    summary += " " + std::to_string(names[k].size()) + " " + keys[k] + (k < 4 ? "," : "");
  }
  data["problems"] = problems;
  data["summary"] = summary;
  log::info("{}", summary);
  return protocol::Answer{true, data.dump(), ""};
}

void Orchestrator::tell_service(SteadyTime now) {
  if (!service_) return;
  const SupervisionEngine& engine = runner_.engine();
  std::size_t running = 0, total = 0;
  for (std::size_t i = 0; i < runner_.size(); ++i) {
    if (engine.removed(i)) continue;
    ++total;
    if (engine.program(i).state() == ProgramState::kRunning) ++running;
  }
  std::string message;
  if (!told_ready_ && !engine.stopping() && engine.start_order_done()) {
    message += "READY=1\n";
    told_ready_ = true;
  }
  if (!told_stopping_ && engine.stopping()) {
    message += "STOPPING=1\n";
    told_stopping_ = true;
  }
  const std::string status = "STATUS=" + std::to_string(running) + " of " + std::to_string(total) + " programs running";
  if (status != told_status_) {
    message += status + "\n";
    told_status_ = status;
  }
  if (next_watchdog_ && now >= *next_watchdog_) {
    message += "WATCHDOG=1\n";
    next_watchdog_ = now + std::chrono::duration_cast<SteadyTime::duration>(*service_->watchdog_every());
  }
  if (!message.empty()) service_->send(message);
}

void Orchestrator::on_wake(SteadyTime now) {
  if (!runner_.engine().stopping() && o_.status_interval_s > 0 && now >= next_status_) {
    runner_.report_status();
    next_status_ = now + status_every_;
  }
  tell_service(now);
}

std::optional<SteadyTime> Orchestrator::deadline() const {
  std::optional<SteadyTime> deadline = next_watchdog_;
  if (!runner_.engine().stopping() && o_.status_interval_s > 0) deadline = earliest(deadline, next_status_);
  return deadline;
}

int Orchestrator::run() {
  service_ = ServiceNotifier::from_environment();  // first: no program may inherit NOTIFY_SOCKET
  if (service_ && service_->watchdog_every()) next_watchdog_ = Clock::now();
  raise_open_file_limit();
  std::vector<HeldLock> locks;
  if (int rc = take_locks(locks); rc != exit_code::kOk) return rc;
  if (plan_.fleet) {  // docs/fleet.md: one lease for every program's name
    double longest_stop_s = 0;
    for (const auto& p : plan_.programs) longest_stop_s = std::max(longest_stop_s, p.spec.stop_timeout_s);
    runner_.start_guardian(longest_stop_s);  // before the fleet's threads exist
    auto joined = join_fleet(*plan_.fleet, longest_stop_s);
    if (auto* code = std::get_if<int>(&joined)) return *code;
    runner_.join_fleet(std::move(std::get<std::unique_ptr<FleetMember>>(joined)));
  }
  for (std::size_t i = 0; i < plan_.programs.size(); ++i) runner_.add(std::move(plan_.programs[i]), std::move(locks[i]));
  plan_.programs.clear();
  log::info("{}: {} program{} to start (lock {}, from {})", plan_.name, runner_.size(), runner_.size() == 1 ? "" : "s",
            own_lock_path_, plan_.config_path);
  if (o_.status_interval_s > 0) {
    status_every_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.status_interval_s));
    next_status_ = Clock::now() + status_every_;
  }
  return runner_.run();
}

}  // namespace

int run(const Options& o) {
  auto loaded = load_launch_plan(o.config, o.load);
  if (auto* failure = std::get_if<ConfigFailure>(&loaded)) {
    log::error("{}", failure->message);
    return failure->exit_code;
  }
  LaunchPlan plan = std::move(std::get<LaunchPlan>(loaded));
  if (o.dry_run) return print_plan(plan, o.json);
#ifndef QC_FLEET_HERE
  if (plan.fleet) {  // qc-launch-fleet, beside us, runs it: same options, same PID
    const Error error = exec_sibling("qc-launch-fleet", o.argv);
    log::error("LAUNCH.fleet needs qc-launch-fleet beside qc-launch: {}; install it, or remove LAUNCH.fleet from {} "
               "for this host's locks only",
               error.message, o.config);
    return exit_code::kUnavailable;
  }
#endif
  if (plan.programs.empty()) {
    log::error("{}: no program to start (no enabled account, or --accounts chose none)", o.config);
    return exit_code::kConfig;
  }
  if (Status s = ensure_directory(plan.lock_dir); !s) {
    log::error("{}", s.error().message);
    return exit_code::kCannotCreate;
  }
  if (plan.log_dir && !o.log_attached) {
    if (Status s = ensure_directory(*plan.log_dir); !s) {
      log::error("{}", s.error().message);
      return exit_code::kCannotCreate;
    }
    const std::string path = path_string(to_path(*plan.log_dir) / "qc-launch.log");
    std::string error;
    auto file = log::File::open(path, o.log_max_bytes, o.log_files, error);
    if (!file) {
      log::error("cannot open log file {}: {}", path, error);
      return exit_code::kCannotCreate;
    }
    log::attach(file);
  }
  return Orchestrator(o, std::move(plan)).run();
}

}  // namespace qc::launch
