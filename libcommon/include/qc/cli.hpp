// docs/conventions.md's shared command-line conventions on CLI11. Include only from a tool's main.cpp:
// CLI11 is header-only and costs seconds per file that includes it.
#pragma once

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "qc/exit_codes.hpp"
#include "qc/fleet_hold.hpp"

namespace qc::cli {

// --version prints "qc-<tool> <semver>" on stdout.
inline void add_version(CLI::App& app, const std::string& tool) {
  app.set_version_flag("--version", tool + " " + QC_VERSION, "Print the version and exit");
}

// The largest number any option takes: a year of seconds. Larger ones (1e10, inf) would
// overflow a deadline into the past, and a stop timeout of "inf" would mean SIGKILL at once.
constexpr double kMaxNumber = 31536000;

// "a number of seconds, 0 or more": CLI11's own range checks print the whole range of a
// double when a value is not a number.
inline CLI::Validator number_at_least(double minimum, bool inclusive, const std::string& what) {
  return CLI::Validator(
      [minimum, inclusive, what](std::string& value) -> std::string {
        std::size_t used = 0;
        double v = 0;
        try {
          v = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != value.size() || v != v || (inclusive ? v < minimum : v <= minimum)) {
          return "expects " + what + ", not \"" + value + "\"";
        }
        if (v > kMaxNumber) return "expects at most 31536000 (a year), not \"" + value + "\"";
        return "";
      },
      "");
}
inline CLI::Validator seconds() { return number_at_least(0, true, "a number of seconds (0 or more)"); }
inline CLI::Validator positive_seconds() { return number_at_least(0, false, "a number of seconds above 0"); }
inline CLI::Validator count() { return number_at_least(0, true, "a whole number, 0 or more"); }
inline CLI::Validator positive_count() { return number_at_least(0, false, "a whole number above 0"); }

inline void add_lock_dir(CLI::App& app, std::optional<std::string>& lock_dir) {
  app.add_option("--lock-dir", lock_dir,
                 "Directory of the lock files (default: $QC_LOCK_DIR, else ./.locks)");
}

// For "TOOL [OPTIONS] NAME -- COMMAND [ARG...]": the position of the first "--" (argc when
// there is none), and the command after it, which option parsing never sees.
inline int split_command(int argc, char** argv, std::vector<std::string>& command) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      command.assign(argv + i + 1, argv + argc);
      return i;
    }
  }
  return argc;
}

// Parses argv. Returns nullopt to go on, or the code to exit with: 0 after --help or
// --version (printed on stdout), 64 after a usage error (printed on stderr). CLI11's own
// exit codes never leak out.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    return exit_code::kOk;
  } catch (const CLI::CallForAllHelp& e) {
    app.exit(e);
    return exit_code::kOk;
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return exit_code::kOk;
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\nRun '" << app.get_name()
              << " --help' for usage.\n";
    return exit_code::kUsage;
  }
}

// The fleet's options (docs/fleet.md): --etcd, --etcd-prefix, --lease-ttl and TLS.
inline void add_fleet_options(CLI::App& app, FleetOptions& fleet) {
  app.add_option("--etcd", fleet.etcd,
                 "The fleet: etcd client URLs, comma-separated (default $QC_ETCD_ENDPOINTS; docs/fleet.md)");
  app.add_option("--etcd-prefix", fleet.prefix, "Key prefix in etcd (default /qc/)");
  app.add_option("--lease-ttl", fleet.ttl_s, "Fleet lease in seconds; must exceed --stop-timeout + 2 (default 20)")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--etcd-cacert", fleet.cacert, "TLS: the CA bundle that signed etcd's certificate");
  app.add_option("--etcd-cert", fleet.cert, "TLS: this client's certificate");
  app.add_option("--etcd-key", fleet.key, "TLS: this client's private key");
}

// $QC_ETCD_ENDPOINTS when --etcd was not given.
inline void fleet_from_environment(FleetOptions& fleet) {
  if (!fleet.etcd.empty()) return;
  if (const char* env = std::getenv("QC_ETCD_ENDPOINTS")) fleet.etcd = env;
}

}  // namespace qc::cli
