// qc-run: supervise one command (docs/tools.md). Parses options; run_tool.cpp works.
#include "qc/cli.hpp"
#include "qc/log.hpp"
#include "qc/net.hpp"
#include "run_tool.hpp"

namespace {

constexpr const char* kFooter = R"(qc-run holds the lock NAME for the whole supervision, restarts included, so no
duplicate can start between two runs. The command runs in its own process group with
stdin from /dev/null; when it exits, whatever is left of its group is killed, so no stray
child of a crashed run lives on beside the next one. If qc-run is killed, the command gets
SIGTERM and keeps the name until it has exited.

Restarts: under on-failure a run that exits non-zero or dies by a signal qc-run did not
send is restarted; under always every end is; under no none is. Every restart counts
toward --max-restarts; the first waits INITIAL seconds, each quick failure doubles the
wait up to MAX; a run lasting --reset-after seconds resets the count and the wait.

SIGINT and SIGTERM stop the command: the signal goes to its process group, then SIGKILL
after --stop-timeout; a second one kills at once. SIGUSR1 and SIGUSR2 are passed to the
command's process group. SIGHUP (a closed terminal or SSH session) stops nothing: it is
logged.

With --etcd (or $QC_ETCD_ENDPOINTS) NAME is also held across hosts in etcd: the command
gets QC_FENCING_TOKEN, and is stopped for good before the lease can expire when it cannot
be renewed (exit 75). See docs/fleet.md.

Exit status: the command's own (128+N for signal N) when it ends without a restart; 0
after a stop by signal; 1 when restarts are used up; 75 (or -E) when NAME is held (here or
in the fleet) or was lost; 64 usage; 69 etcd unreachable; 73 the lock or log directory
cannot be created; 126/127 the command cannot be executed / is not found.

Examples:
  qc-run --account 212000584 --log-dir logs BRAIN_ATLAS -- python BRAIN_ATLAS.py
  qc-run --restart always --backoff 0.5,30 --json gateway -- python run_zmq_gateway.py)";

}  // namespace

int main(int argc, char** argv) {
  qc::log::init("qc-run");
  qc::run_tool::Options o;
  // Everything after the first "--" is the command, untouched by option parsing.
  const int separator = qc::cli::split_command(argc, argv, o.program.command);
  const bool has_command = separator != argc;

  CLI::App app{"Supervise one command: restart it when it fails, stop it cleanly when asked.",
               "qc-run"};
  app.footer(kFooter);
  qc::cli::add_version(app, "qc-run");
  app.add_option("NAME", o.program.name, "The lock name")->required();
  std::string restart = "on-failure";
  app.add_option("--restart", restart, "no | on-failure | always (default on-failure)")
      ->check(CLI::IsMember({"no", "on-failure", "always"}));
  app.add_option("--max-restarts", o.program.restart.max_restarts,
                 "Give up after N restarts (default 5)")
      ->check(qc::cli::count());
  std::vector<double> backoff;
  app.add_option("--backoff", backoff, "INITIAL,MAX seconds between restarts (default 1,60)")
      ->delimiter(',')
      ->expected(2)
      ->check(qc::cli::seconds());
  app.add_option("--reset-after", o.program.restart.reset_after_s,
                 "A run this long (seconds) resets the count and the backoff (default 300)")
      ->check(qc::cli::seconds());
  app.add_option("--stop-timeout", o.program.stop_timeout_s,
                 "Seconds between the stop signal and SIGKILL (default 10)")
      ->check(qc::cli::seconds());
  std::string stop_signal;
  app.add_option("--stop-signal", stop_signal,
                 "Signal that stops the command: TERM, INT (Python's KeyboardInterrupt clean-up), QUIT, "
                 "HUP, USR1, USR2 (default: the one qc-run got, TERM for a lost lock)")
      ->check([](const std::string& v) {
        return qc::parse_signal_name(v) && *qc::parse_signal_name(v) != qc::Signal::kKill
                   ? std::string()
                   : "not a stop signal: " + v + " (TERM, INT, QUIT, HUP, USR1 or USR2)";
      });
  app.add_option("--log-dir", o.log_dir, "Append the command's output to DIR/NAME.log");
  app.add_option("--log-max-bytes", o.log_max_bytes, "Rotate the log at this size (default 10 MiB)")
      ->check(qc::cli::positive_count());
  app.add_option("--log-files", o.log_files, "Rotated logs to keep (default 5)");
  app.add_option("--account", o.program.account, "Account id recorded in the lock file");
  app.add_option("-E,--conflict-exit-code", o.conflict_exit_code,
                 "Exit status when NAME is held (default 75)")
      ->check(CLI::Range(0, 255));
  qc::cli::add_lock_dir(app, o.lock_dir);
  app.add_flag("--json", o.json, "Events as JSON Lines on stdout");
  app.add_option("-w,--wait", o.wait_s, "Wait up to SECONDS for the name, here and in the fleet (default 0: fail at once)")
      ->check(qc::cli::seconds());
  qc::cli::add_fleet_options(app, o.fleet);
  std::string health_heartbeat, health_tcp;
  o.health.timeout_s = 5;
  auto* hb = app.add_option("--health-heartbeat", health_heartbeat,
                            "Check the command every --health-interval with a Protocol v1.0 HEARTBEAT to "
                            "tcp://HOST:PORT; restart it after --health-failures failures in a row");
  auto* tcp = app.add_option("--health-tcp", health_tcp, "The same with a TCP connect to HOST:PORT");
  hb->excludes(tcp);
  app.add_option("--health-interval", o.health_interval_s, "Seconds between health checks (default 10)")
      ->check(CLI::Range(0.1, 31536000.0));
  app.add_option("--health-timeout", o.health.timeout_s, "Seconds one health check may take (default 5)")
      ->check(CLI::Range(0.001, 31536000.0));
  app.add_option("--health-failures", o.health_failures, "Failed checks in a row that restart it (default 3)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--on-event", o.on_event,
                 "Run PATH for gave_up, unhealthy, restarting, start_failed, stopped and lock_lost events, the event's "
                 "JSON on its stdin, QC_EVENT, QC_NAME, QC_ACCOUNT, QC_STATUS set (at most 30 s each)");
  if (auto code = qc::cli::parse(app, separator, argv)) return *code;
  if (!has_command || o.program.command.empty()) {
    qc::log::error("missing command: qc-run [OPTIONS] NAME -- COMMAND [ARG...]");
    return qc::exit_code::kUsage;
  }
  o.program.restart.mode = *qc::parse_restart_mode(restart);
  if (!health_heartbeat.empty()) {
    if (health_heartbeat.rfind("tcp://", 0) != 0) {
      qc::log::error("--health-heartbeat {}: must be a tcp://HOST:PORT endpoint", health_heartbeat);
      return qc::exit_code::kUsage;
    }
    o.health.kind = qc::ReadySpec::Kind::kHeartbeat;
    o.health.target = health_heartbeat;
  } else if (!health_tcp.empty()) {
    std::string host, port;
    if (!qc::split_host_port(health_tcp, host, port)) {
      qc::log::error("--health-tcp {}: must be HOST:PORT", health_tcp);
      return qc::exit_code::kUsage;
    }
    o.health.kind = qc::ReadySpec::Kind::kTcp;
    o.health.target = health_tcp;
  }
  if (!stop_signal.empty()) {
    o.program.stop_signal = *qc::parse_signal_name(stop_signal);
    o.stop_signal_given = true;
  }
  if (!backoff.empty()) {
    if (backoff[0] > backoff[1]) {
      qc::log::error("--backoff {},{}: INITIAL must not exceed MAX", backoff[0], backoff[1]);
      return qc::exit_code::kUsage;
    }
    o.program.restart.backoff_initial_s = backoff[0];
    o.program.restart.backoff_max_s = backoff[1];
  }
  qc::cli::fleet_from_environment(o.fleet);
  return qc::run_tool::run(o);
}
