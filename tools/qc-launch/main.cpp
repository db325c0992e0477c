// qc-launch: the orchestrator (docs/tools.md). Parses options; launch_tool.cpp works.
#include "launch_tool.hpp"
#include "qc/cli.hpp"
#include "qc/log.hpp"

namespace {

constexpr const char* kFooter = R"(CONFIG is the user's MASTER_CONFIG.json: its ACCOUNTS object stays as it is and a
LAUNCH object says what to run (see docs/config.md): "name" (the orchestrator's own
lock, default MASTER_LAUNCH), "lock_dir", "log_dir", "defaults" (restart, max_restarts,
backoff_s, reset_after_s, stop_timeout_s) and "programs". A program with
"for_each": "account" is repeated for every selected account, with {key} and {FIELD}
replaced by the account's key and fields. Relative paths resolve against CONFIG's
directory, which is also each program's default working directory.

Before starting anything qc-launch takes its own lock and every program's: if any is held,
nothing starts and the holders are listed (exit 75). The same pre-check looks for copies of
the programs already running outside qc (the same script or executable, whatever
interpreter runs it) and refuses the same way, naming them; --no-scan skips that. Programs then start in order, each
once the one before is ready ("ready": {"tcp": "HOST:PORT"} or {"heartbeat": "tcp://..."}
within "timeout_s"; without "ready", once started), and are supervised as qc-run does it:
restarted on failure with backoff, output in log_dir/NAME.log, the orchestrator's own log in
log_dir/qc-launch.log. A status report (name, state, PID, uptime, restarts) is logged every
--status-interval seconds and on SIGUSR1. SIGINT or SIGTERM stop the programs in reverse
start order, each within its stop timeout, and release every lock; a second one kills what
is left at once. SIGHUP (a closed terminal or SSH session) stops nothing: it reloads CONFIG.

A running orchestrator answers on a control channel that only its user can reach (see
docs/control.md): --status lists its programs, --start/--stop/--restart NAME act on one,
--reload re-reads CONFIG and applies the difference (as SIGHUP does). qc-heartbeat pointed
at the "control" endpoint in its lock file checks that the orchestrator itself is alive.

Exit status: 0 after a stop by signal, or when every program ended without giving up; 1
when a program was not ready in time, could not start, or gave up; 64 usage (also an
unknown --accounts key); 66 CONFIG missing; 73 a lock or log directory cannot be
created; 75 a lock is held; 78 CONFIG invalid. Control commands: 0 done, 1 refused (the
reason on stderr), 69 no orchestrator answers, 78 --reload of an invalid CONFIG.

As a Windows service (docs/install.md): --service install registers qc-launch for CONFIG
(started at boot, restarted on failure; --name N for more than one config), --service
start|stop|uninstall act on it. Its log is qc-launch.log in the log directory. Exit status:
0 done; 1 the service stopped while starting, or is still stopping; 64 not on Windows (use
the systemd unit qc-launch@.service); 69 no such service; 73 cannot install (the name
exists; or run it from an elevated prompt).

CONFIG may come first, last (when it ends in .json), or after "--".

Examples:
  qc-launch --dry-run
  qc-launch --accounts ATLAS FTMO C:/trading/MASTER_CONFIG.json
  qc-launch --json --status-interval 60 > events.jsonl
  qc-launch --status
  qc-launch --restart BRAIN_ATLAS)";

}  // namespace

int main(int argc, char** argv) {
  qc::log::init("qc-launch");
  qc::launch::Options o;
  o.invocation.assign(argv, argv + argc);
  o.argv = argv;
  CLI::App app{"Start every enabled account's programs in order, keep them running, stop them in "
               "reverse order.",
               "qc-launch"};
  app.footer(kFooter);
  qc::cli::add_version(app, "qc-launch");
  app.add_option("CONFIG", o.config, "The config file (default ./MASTER_CONFIG.json)");
  app.add_option("--accounts", o.load.accounts,
                 "Only these account keys, space- or comma-separated (default: every enabled one)")
      ->expected(1, -1)
      ->delimiter(',');
  app.add_flag("--dry-run", o.dry_run, "Print the plan in start order; start nothing");
  app.add_flag("--no-scan", o.no_scan,
               "Skip the pre-check's scan for copies of the programs running outside qc");
  qc::cli::add_lock_dir(app, o.load.lock_dir);
  app.add_option("--log-dir", o.load.log_dir, "Directory for the logs (overrides the config)");
  app.add_option("--status-interval", o.status_interval_s,
                 "Seconds between status reports (default 300; 0: only on SIGUSR1)")
      ->check(qc::cli::seconds());
  app.add_option("--log-max-bytes", o.log_max_bytes, "Rotate each log at this size (default 10 MiB)")
      ->check(qc::cli::positive_count());
  app.add_option("--log-files", o.log_files, "Rotated logs to keep (default 5)");
  app.add_flag("--json", o.json, "Events as JSON Lines on stdout (the plan, with --dry-run; the reply, with a "
                                 "control command)");
  auto* control = app.add_option_group("control", "Control a running orchestrator (see docs/control.md)");
  bool status = false, reload = false;
  std::string start, stop, restart;
  control->add_flag("--status", status, "Show every program of the running orchestrator");
  control->add_option("--start", start, "Start NAME again (a failed or stopped program; its restarts count from 0)")
      ->option_text("NAME");
  control->add_option("--stop", stop, "Stop NAME for good (until --start); the others run on")->option_text("NAME");
  control->add_option("--restart", restart, "Stop NAME and start it again (a new PID)")->option_text("NAME");
  control->add_flag("--reload", reload, "Re-read CONFIG and apply the difference; an invalid CONFIG changes nothing");
  control->require_option(0, 1);
  auto* timeout = app.add_option("--control-timeout", o.control_timeout_s,
                                 "Seconds to wait for the orchestrator's answer (10; with --service: 120)")
                      ->check(qc::cli::seconds());
  auto* service = app.add_option("--service", o.service_verb,
                                 "Windows: install, uninstall, start or stop qc-launch as a service for CONFIG "
                                 "(docs/install.md)")
                      ->check(CLI::IsMember({"install", "uninstall", "start", "stop"}))
                      ->option_text("VERB");
  app.add_option("--name", o.service_name, "The service's name with --service (default qc-launch)");
  app.add_flag("--as-service", o.as_service, "How the service control manager runs us")->group("");
  control->excludes(service);
  if (auto code = qc::cli::parse(app, argc, argv)) return *code;
  // "--accounts A B config.json": the last value is the config, not an account.
  auto& accounts = o.load.accounts;
  if (app.count("CONFIG") == 0 && !accounts.empty()) {
    const std::string& last = accounts.back();
    if (last.size() > 5 && last.compare(last.size() - 5, 5, ".json") == 0) {
      o.config = last;
      accounts.pop_back();
    }
  }
  if (status) o.control_action = "STATUS";
  if (reload) o.control_action = "RELOAD";
  for (auto [action, name] : {std::pair{"START", &start}, std::pair{"STOP", &stop}, std::pair{"RESTART", &restart}}) {
    if (!name->empty()) {
      o.control_action = action;
      o.control_name = *name;
    }
  }
  if (!o.control_action.empty()) return qc::launch::control(o);
  if (o.as_service) return qc::launch::serve(o);
  if (!o.service_verb.empty()) {
    if (timeout->count() > 0) o.service_timeout_s = o.control_timeout_s;
    return qc::launch::service_command(o);
  }
  return qc::launch::run(o);
}
