// SPEC §2's shared command-line conventions on CLI11. Include only from a tool's main.cpp:
// CLI11 is header-only and costs seconds per file that includes it.
#pragma once

#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "qc/exit_codes.hpp"

namespace qc::cli {

// --version prints "qc-<tool> <semver>" on stdout.
inline void add_version(CLI::App& app, const std::string& tool) {
  app.set_version_flag("--version", tool + " " + QC_VERSION, "Print the version and exit");
}

inline void add_lock_dir(CLI::App& app, std::optional<std::string>& lock_dir) {
  app.add_option("--lock-dir", lock_dir,
                 "Directory of the lock files (default: $QC_LOCK_DIR, else ./.locks)");
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

}  // namespace qc::cli
