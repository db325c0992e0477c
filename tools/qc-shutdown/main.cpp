// qc-shutdown: stop everything gracefully, then forcibly, and clear locks (docs/tools.md).
#include "qc/cli.hpp"
#include "qc/log.hpp"
#include "shutdown_tool.hpp"

namespace {

constexpr const char* kFooter = R"(Finds what runs from the lock directory (and with --match, unmanaged processes whose
command line matches), lists it, and asks "Type YES to stop N processes:" on a terminal
(stdin not a terminal and no --yes: exit 64, nothing stopped). Then it asks the
supervisors first (qc-launch, then qc-run) so that nothing is restarted, everything else
in the same breath (SIGTERM; to the process group where there is one), waits up to
--timeout for all of them together, SIGKILLs what remains (whole groups), and removes the
lock files of what is gone and any stale ones. Naming one program of a running qc-launch
stops that program alone, for good, and leaves the others running.

With --fleet (docs/fleet.md), NAME... is stopped wherever it runs in the fleet, without a
question, and stays stopped on every host (no standby takes it) until qc-launch --start NAME
or qc-shutdown --fleet --release NAME; qc-shutdown waits up to --timeout for its holder to
give it back. 69: no etcd member answers.

A PID is only ever signalled if its start time matches its lock file: a recycled PID is
never touched. qc-shutdown stops processes only; it never touches open trades.

Exit status: 0 when everything asked for is gone (also when nothing was running); 1 when
something survived (listed, with what to try) or the confirmation was declined; 64 usage,
or no confirmation; 66 the lock directory cannot be read.

Examples:
  qc-shutdown                       # everything, after YES
  qc-shutdown --yes BRAIN_ATLAS     # one program
  qc-shutdown --dry-run --match 'BRAIN_|WATCHDOG'
  qc-shutdown --config MASTER_CONFIG.json     # also copies started by hand, found by script
  qc-shutdown --yes --timeout 30 --json
  qc-shutdown --fleet --etcd http://10.0.0.1:2379 BRAIN_ATLAS   # on every host, until --start)";

}  // namespace

int main(int argc, char** argv) {
  qc::log::init("qc-shutdown");
  qc::shutdown_tool::Options o;
  CLI::App app{"Stop every qc-managed process gracefully, then forcibly, and clear their locks.",
               "qc-shutdown"};
  app.footer(kFooter);
  qc::cli::add_version(app, "qc-shutdown");
  app.add_option("NAME", o.names, "Only these lock names (shell wildcards allowed)");
  auto* yes = app.add_flag("--yes", o.yes, "Do not ask for confirmation");
  app.add_flag("--ask", o.ask, "Ask for YES on stdin even when it is not a terminal (for wrappers)")
      ->excludes(yes);
  app.add_flag("--dry-run", o.dry_run, "List what would be stopped; stop nothing");
  app.add_option("--timeout", o.timeout_s, "Seconds of graceful waiting before SIGKILL (default 10)")
      ->check(qc::cli::seconds());
  app.add_option("--match", o.match, "Also stop unmanaged processes whose command line matches REGEX");
  app.add_option("--config", o.config,
                 "Also stop unmanaged copies of every program of this MASTER_CONFIG.json (its script or executable)");
  app.add_flag("--keep-locks", o.keep_locks, "Leave the lock files in place");
  app.add_flag("--json", o.json, "One JSON object per process on stdout: name, pid, role, how");
  qc::cli::add_lock_dir(app, o.lock_dir);
  auto* fleet = app.add_flag("--fleet", o.fleet,
                             "Stop NAME... wherever it runs in the fleet and keep it stopped there (docs/fleet.md)");
  app.add_flag("--release", o.release, "With --fleet: let NAME... run again (clears the fleet-wide stop)")
      ->needs(fleet);
  qc::cli::add_fleet_options(app, o.fleet_options);
  if (auto code = qc::cli::parse(app, argc, argv)) return *code;
  if (o.fleet) {
    qc::cli::fleet_from_environment(o.fleet_options);
    return qc::shutdown_tool::fleet_stop(o);
  }
  return qc::shutdown_tool::run(o);
}
