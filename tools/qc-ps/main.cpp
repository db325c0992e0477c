// qc-ps: what is running, for people and for pipes (docs/tools.md).
#include "ps_tool.hpp"
#include "qc/cli.hpp"
#include "qc/log.hpp"

namespace {

constexpr const char* kFooter = R"(Columns: NAME STATE PID CHILD ACCOUNT HOST UPTIME RESTARTS COMMAND, sorted by name.
STATE: running (held), orphaned (held, but the wrapper is gone and its command is winding
down), stale (a file nobody holds; shown with --all), legacy (a process_lock.py file whose
python process runs); with --scan also unmanaged and duplicate (the same script running
more than once, whichever interpreter runs it).

-q prints the PIDs of live entries only (an orphan's command, never a stale PID that may
belong to another process now), for xargs.

--fleet adds every name held in the fleet (docs/fleet.md): NAME HOST PID ACCOUNT STATE
TOKEN LEASE_LEFT, after this host's table; with --tsv, --json or -q, the fleet's rows alone.

Exit status: 0; 1 with --check when a duplicate or stale entry is shown; 64 usage (also a
bad --scan pattern); 66 the lock directory cannot be read; 69 no etcd member answers.

Examples:
  qc-ps
  qc-ps --all --json 'BRAIN_*'
  qc-ps --scan 'BRAIN_|WATCHDOG' --check || echo 'duplicates running'
  qc-ps --fleet --etcd http://10.0.0.1:2379)";

}  // namespace

int main(int argc, char** argv) {
  qc::log::init("qc-ps");
  qc::ps_tool::Options o;
  CLI::App app{"List what qc holds: one row per lock, and with --scan unmanaged copies.", "qc-ps"};
  app.footer(kFooter);
  qc::cli::add_version(app, "qc-ps");
  app.add_option("NAME-GLOB", o.globs, "Only names matching these shell wildcards");
  app.add_flag("-a,--all", o.all, "Include stale lock files");
  bool tsv = false, json = false, quiet = false;
  auto* tsv_flag = app.add_flag("--tsv", tsv, "Tab-separated values with a header line");
  auto* json_flag = app.add_flag("--json", json, "JSON Lines: one object per entry");
  auto* quiet_flag = app.add_flag("-q,--quiet", quiet, "PIDs only, one per line");
  tsv_flag->excludes(json_flag, quiet_flag);
  json_flag->excludes(quiet_flag);
  app.add_option("--scan", o.scan,
                 "Also list unmanaged processes whose command line matches REGEX (ECMAScript)");
  app.add_flag("--check", o.check, "Exit 1 when a duplicate or stale entry is shown");
  qc::cli::add_lock_dir(app, o.lock_dir);
  app.add_flag("--fleet", o.fleet, "Also every name held in the fleet (etcd): host, PID, lease left");
  qc::cli::add_fleet_options(app, o.fleet_options);
  if (auto code = qc::cli::parse(app, argc, argv)) return *code;
  if (o.fleet) {
    qc::cli::fleet_from_environment(o.fleet_options);
    if (!o.fleet_options.configured()) {
      qc::log::error("--fleet needs the cluster: --etcd URL[,URL...] or QC_ETCD_ENDPOINTS");
      return qc::exit_code::kUsage;
    }
    qc::ps_tool::hand_fleet_over(argv);  // qc-ps: becomes qc-ps-fleet
  }
  using qc::ps_tool::Format;
  o.format = tsv ? Format::kTsv : json ? Format::kJson : quiet ? Format::kPids : Format::kTable;
  return qc::ps_tool::run(o);
}
