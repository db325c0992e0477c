// qc-launch --service install|uninstall|start|stop and --as-service: the orchestrator as a
// Windows service (docs/install.md). The control manager's side is qc/windows_service.hpp.
#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "launch_tool.hpp"
#include "qc/clock.hpp"
#include "qc/exit_codes.hpp"
#include "qc/log.hpp"
#include "qc/names.hpp"
#include "qc/paths.hpp"
#include "qc/windows_service.hpp"

namespace qc::launch {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string absolute(const std::string& path) { return path_string(fs::absolute(to_path(path)).lexically_normal()); }

// Where the service logs when neither the config nor --log-dir says: logs\ beside the config.
std::string default_log_dir(const std::string& config) {
  return path_string(to_path(absolute(config)).parent_path() / "logs");
}

int failure(const Error& e) {
  log::error("{}", e.message);
  switch (e.sys_errno) {
    case ENOSYS: return exit_code::kUsage;
    case EEXIST:
    case EACCES: return exit_code::kCannotCreate;
    default: return exit_code::kUnavailable;
  }
}

// Sequential reverse-order stops, each within its timeout, and then some.
milliseconds stop_allowance(const LaunchPlan& plan) {
  double seconds = 10;
  for (const auto& p : plan.programs) seconds += p.spec.stop_timeout_s;
  return milliseconds(static_cast<long long>(seconds * 1000));
}

// What the control manager may wait between two signs of progress: the slowest ready check
// or stop, and then some.
milliseconds wait_hint(const LaunchPlan& plan) {
  double seconds = 0;
  for (const auto& p : plan.programs) {
    seconds = std::max({seconds, p.spec.stop_timeout_s, p.ready.timeout_s + p.start_delay_s});
  }
  return milliseconds(static_cast<long long>((seconds + 10) * 1000));
}

int install(const Options& o) {
  auto loaded = load_launch_plan(o.config, o.load);
  if (auto* f = std::get_if<ConfigFailure>(&loaded)) {
    log::error("{}; nothing installed", f->message);
    return f->exit_code;
  }
  const LaunchPlan& plan = std::get<LaunchPlan>(loaded);
  // The service's command line: everything absolute (a service starts in the system
  // directory), the log directory always named (a service has no console to print to).
  std::vector<std::string> args{"--as-service", "--name", o.service_name};
  if (!o.load.accounts.empty()) {
    std::string joined;
    for (const auto& a : o.load.accounts) joined += (joined.empty() ? "" : ",") + a;
    args.insert(args.end(), {"--accounts", joined});
  }
  if (o.load.lock_dir) args.insert(args.end(), {"--lock-dir", absolute(*o.load.lock_dir)});
  std::string log_dir;
  if (o.load.log_dir) {
    log_dir = absolute(*o.load.log_dir);
    args.insert(args.end(), {"--log-dir", log_dir});
  } else if (plan.log_dir) {
    log_dir = *plan.log_dir;
  } else {
    log_dir = default_log_dir(plan.config_path);
    args.insert(args.end(), {"--log-dir", log_dir});
  }
  if (o.no_scan) args.push_back("--no-scan");
  args.insert(args.end(), {"--status-interval", std::to_string(static_cast<long long>(o.status_interval_s))});
  const std::string config = absolute(plan.config_path);
  args.push_back(config);

  service::InstallSpec spec;
  spec.name = o.service_name;
  spec.display_name = "qc-launch " + o.service_name;
  spec.description = "Runs the programs of " + config + " (qc-launch: started at boot, restarted on failure)";
  spec.arguments = args;
  spec.preshutdown = stop_allowance(plan);
  auto installed = service::install(spec);
  if (!installed) return failure(installed.error());
  for (const auto& w : *installed) log::warn("service {}: {}", o.service_name, w);
  log::info("installed service {}: {} program{} of {}, started at boot (as LocalSystem), its log in {}; start it "
            "now with: qc-launch --service start --name {}",
            o.service_name, plan.programs.size(), plan.programs.size() == 1 ? "" : "s", config, log_dir,
            o.service_name);
  return exit_code::kOk;
}

// How a wait for the service ended, said and turned into the exit status.
int outcome(const Options& o, const service::Status& s, service::State wanted, SteadyTime since) {
  const std::string exit_note =
      s.exit_code != 0 ? " (qc-launch exit " + std::to_string(s.exit_code) + "; its log: qc-launch.log in the log directory)"
      : s.win32_exit_code != 0 ? " (Windows error " + std::to_string(s.win32_exit_code) + ")"
                               : "";
  if (s.state == wanted) {
    if (wanted == service::State::kRunning) {
      log::info("service {} runs (PID {})", o.service_name, s.pid);
    } else {
      log::info("service {} is stopped{}", o.service_name, exit_note);
    }
    return exit_code::kOk;
  }
  if (s.state == service::State::kStopped) {
    log::error("service {} stopped while starting{}", o.service_name, exit_note);
  } else {
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    log::error("service {} is still {} after {:.1f} s (it showed no progress, or --control-timeout passed); "
               "qc-launch --service {} --name {} waits again",
               o.service_name, service::state_name(s.state), waited,
               s.state == service::State::kStopPending ? "stop" : o.service_verb, o.service_name);
  }
  return exit_code::kNo;
}

}  // namespace

int service_command(Options& o) {
  const milliseconds timeout(static_cast<long long>(o.service_timeout_s * 1000));
  const SteadyTime since = std::chrono::steady_clock::now();
  if (!service::kAvailable) return failure(service::query(o.service_name).error());
  if (o.service_verb == "install") return install(o);
  if (o.service_verb == "start") {
    auto s = service::start(o.service_name, timeout);
    return s ? outcome(o, *s, service::State::kRunning, since) : failure(s.error());
  }
  if (o.service_verb == "stop") {
    auto s = service::stop(o.service_name, timeout);
    return s ? outcome(o, *s, service::State::kStopped, since) : failure(s.error());
  }
  // uninstall
  auto s = service::uninstall(o.service_name, timeout);
  if (!s) return failure(s.error());
  if (s->state != service::State::kStopped) return outcome(o, *s, service::State::kStopped, since);
  log::info("removed service {}", o.service_name);
  return exit_code::kOk;
}

int serve(Options& o) {
  auto loaded = load_launch_plan(o.config, o.load);
  const LaunchPlan* plan = std::get_if<LaunchPlan>(&loaded);
  // The log first: whatever goes wrong next has nowhere else to be said.
  std::string log_dir = o.load.log_dir ? *o.load.log_dir
                        : plan && plan->log_dir ? *plan->log_dir
                                                : default_log_dir(o.config);
  if (ensure_directory(log_dir)) {
    std::string error;
    if (auto file = log::File::open(path_string(to_path(log_dir) / "qc-launch.log"), o.log_max_bytes, o.log_files, error)) {
      log::attach(file);
      o.log_attached = true;
    }
  }
  const milliseconds hint = plan ? wait_hint(*plan) : milliseconds(30000);
  auto served = service::run_as_service(o.service_name, hint, [&] {
    log::info("service {}: starting {}", o.service_name, o.config);
    const int rc = run(o);
    log::info("service {}: qc-launch ends with exit status {}", o.service_name, rc);
    return rc;
  });
  if (!served) {  // not started by the control manager (a person ran it: usage), or refused by it
    log::error("{}", served.error().message);
    return served.error().sys_errno == ENXIO ? exit_code::kUsage : exit_code::kUnavailable;
  }
  return *served;
}

}  // namespace qc::launch
