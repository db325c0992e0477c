// qc-lock: hold a name while a command runs (docs/tools.md). Parses options; lock_tool.cpp works.
#include "lock_tool.hpp"
#include "qc/cli.hpp"
#include "qc/log.hpp"

namespace {

constexpr const char* kFooter = R"(Modes:
  qc-lock [OPTIONS] NAME -- COMMAND [ARG...]   run COMMAND holding NAME; exit with its status
  qc-lock [OPTIONS] --check NAME               exit 0 when NAME is free, 75 when held
  qc-lock [OPTIONS] --list                     every lock file (as qc-ps --all)
  qc-lock [OPTIONS] --clear-stale              remove lock files that nobody holds
  qc-lock [OPTIONS] --clear-all [--yes]        also remove legacy files whatever their PID;
                                               files held by a live process are never removed

The lock is an operating-system lock on LOCK_DIR/NAME.lock that COMMAND inherits: the name
stays held until COMMAND and qc-lock have both exited, however they die, and COMMAND gets
SIGTERM if qc-lock is killed. Processes COMMAND leaves running (a launcher's real program,
a double-forked daemon) keep the name held: qc-lock names them and waits until they exit,
or stops them with --kill-descendants (SIGTERM, then SIGKILL after --stop-timeout); a
SIGINT or SIGTERM to qc-lock stops them with COMMAND. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are
passed on to COMMAND (Ctrl+C in a terminal reaches it once). Names: 1-100 of A-Z a-z 0-9 _ . -

With --etcd (or $QC_ETCD_ENDPOINTS) NAME is also held across hosts in etcd, after the local
lock: COMMAND gets QC_FENCING_TOKEN, and is stopped before the lease can expire when it
cannot be renewed (exit 75). See docs/fleet.md.

Exit status: COMMAND's own status, or 128+N when a signal N killed it; 75 (or -E) when the
name is held (here or in the fleet) or the fleet lease was lost; 64 usage; 69 etcd
unreachable; 73 the lock directory or file cannot be created; 126 COMMAND not executable;
127 COMMAND not found; 1 --clear-all not confirmed.

Examples:
  qc-lock BRAIN_ATLAS --account 212000584 -- python BRAIN_ATLAS.py
  qc-lock -w 30 nightly-backup -- ./backup.sh
  qc-lock --check BRAIN_ATLAS && echo free)";

}  // namespace

int main(int argc, char** argv) {
  qc::log::init("qc-lock");
  qc::lock_tool::Options o;
  // Everything after the first "--" is the command, untouched by option parsing.
  const int separator = qc::cli::split_command(argc, argv, o.command);
  const bool has_command = separator != argc;

  CLI::App app{"Run a command while holding a name, so that no second copy can start.", "qc-lock"};
  app.footer(kFooter);
  qc::cli::add_version(app, "qc-lock");
  app.add_option("NAME", o.name, "The lock name");
  bool check = false, list = false, clear_stale = false, clear_all = false;
  auto* check_flag = app.add_flag("--check", check, "Exit 0 when NAME is free, 75 when held");
  auto* list_flag = app.add_flag("--list", list, "List every lock file");
  auto* stale_flag = app.add_flag("--clear-stale", clear_stale, "Remove lock files nobody holds");
  auto* all_flag = app.add_flag("--clear-all", clear_all,
                                "Remove every lock file not held by a live process, legacy ones too");
  check_flag->excludes(list_flag, stale_flag, all_flag);
  list_flag->excludes(stale_flag, all_flag);
  stale_flag->excludes(all_flag);
  app.add_flag("--yes", o.yes, "Do not ask before --clear-all");
  app.add_option("--account", o.account, "Account id recorded in the lock file");
  app.add_option("-w,--wait", o.wait_s, "Wait up to SECONDS for the name (default 0: fail at once)")
      ->check(qc::cli::seconds());
  app.add_option("-E,--conflict-exit-code", o.conflict_exit_code,
                 "Exit status when the name is held (default 75)")
      ->check(CLI::Range(0, 255));
  qc::cli::add_lock_dir(app, o.lock_dir);
  app.add_flag("--kill-descendants", o.kill_descendants,
               "When COMMAND exits, stop what it left running instead of waiting for it");
  app.add_option("--stop-timeout", o.stop_timeout_s,
                 "With --kill-descendants: seconds between SIGTERM and SIGKILL (default 10)")
      ->check(qc::cli::seconds());
  app.add_flag("--json", o.json, "JSON Lines on stdout (conflicts, removals, --list)");
  app.add_flag("--tsv", o.tsv, "--list as tab-separated values");
  qc::cli::add_fleet_options(app, o.fleet);
  if (auto code = qc::cli::parse(app, separator, argv)) return *code;

  using qc::lock_tool::Mode;
  o.mode = check ? Mode::kCheck
         : list ? Mode::kList
         : clear_stale ? Mode::kClearStale
         : clear_all ? Mode::kClearAll
         : Mode::kRun;
  auto usage = [](const char* message) {
    qc::log::error("{}; run 'qc-lock --help' for usage", message);
    return qc::exit_code::kUsage;
  };
  if (o.yes && o.mode != Mode::kClearAll) return usage("--yes goes with --clear-all");
  switch (o.mode) {
    case Mode::kRun:
      if (!has_command) {
        return usage(app.count("NAME") ? "missing command: qc-lock NAME -- COMMAND [ARG...]"
                                       : "missing NAME and command: qc-lock NAME -- COMMAND [ARG...]");
      }
      if (!app.count("NAME")) return usage("missing NAME before --");
      if (o.command.empty()) return usage("missing command after --");
      break;
    case Mode::kCheck:
      if (!app.count("NAME")) return usage("--check needs a NAME");
      if (has_command) return usage("--check takes no command");
      break;
    default:
      if (app.count("NAME") || has_command) return usage("--list and --clear-* take no NAME or command");
  }
  if (o.mode != Mode::kRun && o.fleet.configured()) {
    return usage("--check, --list and --clear-* look at this host's lock files only: drop --etcd");
  }
  if (o.mode == Mode::kRun) qc::cli::fleet_from_environment(o.fleet);
  if (o.fleet.configured()) qc::lock_tool::hand_fleet_over(argv);  // qc-lock: becomes qc-lock-fleet
  return qc::lock_tool::run(o);
}
