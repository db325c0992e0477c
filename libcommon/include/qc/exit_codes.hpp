// docs/conventions.md's exit codes as named constants (sysexits plus the shell's 126/127/128+N).
#pragma once

namespace qc::exit_code {

inline constexpr int kOk = 0;
inline constexpr int kNo = 1;               // the tool's own "no" (documented per tool)
inline constexpr int kUsage = 64;           // EX_USAGE
inline constexpr int kDataError = 65;       // EX_DATAERR
inline constexpr int kNoInput = 66;         // EX_NOINPUT: an input file is missing
inline constexpr int kUnavailable = 69;     // EX_UNAVAILABLE: a service (a cluster, an orchestrator) is unreachable
inline constexpr int kOsError = 71;         // EX_OSERR: no process could be started (fork: EAGAIN, ENOMEM)
inline constexpr int kCannotCreate = 73;    // EX_CANTCREAT: a file or directory cannot be created
inline constexpr int kLockHeld = 75;        // EX_TEMPFAIL: the name is held by another live process
inline constexpr int kConfig = 78;          // EX_CONFIG: configuration invalid
inline constexpr int kNotExecutable = 126;  // the command exists but cannot be executed
inline constexpr int kNotFound = 127;       // the command was not found
inline constexpr int kSignalBase = 128;     // 128 + N: the command was killed by signal N

// qc-heartbeat uses the monitoring-plugin codes instead (docs/protocol.md).
namespace plugin {
inline constexpr int kOk = 0;
inline constexpr int kWarning = 1;
inline constexpr int kCritical = 2;
inline constexpr int kUnknown = 3;
}  // namespace plugin

}  // namespace qc::exit_code
