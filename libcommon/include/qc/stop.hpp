// Stopping processes: signals numbered as on Linux, sent to a child of ours or, only while
// it still is the same process (its start token), to one we did not start; and the stop
// request a supervisor answers for one of its programs. Windows: a named stop event for our
// own tools, Ctrl+Break for other programs, TerminateProcess or the job for a kill.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "qc/process.hpp"
#include "qc/result.hpp"

namespace qc {

class Child;

// Signals numbered as on Linux, named so that callers need no OS header.
enum class Signal { kInterrupt, kTerminate, kHangup, kQuit, kUser1, kUser2, kKill };
int signal_number(Signal signal);
std::string signal_name(int number);  // "SIGTERM"
// A stop signal as a person writes it: TERM, INT, QUIT, HUP, KILL, USR1, USR2, with or
// without SIG, in any case. nullopt for anything else.
std::optional<Signal> parse_signal_name(const std::string& text);

// Sends `signal` to the child (or its whole process group).
Status send_signal(const Child& child, Signal signal, bool whole_group);

// Sends `signal` to a process we did not start, only if it still is `id` (same start token).
// Returns false when the process is gone or is another process now.
Result<bool> signal_process_if_same(const ProcessId& id, Signal signal, bool whole_group);

// Asks the supervisor `id` (qc-launch) to stop one of its programs for good: SIGUSR2 with
// program_stop_token(NAME) as its value (POSIX: sigqueue). False when `id` is gone.
Result<bool> request_program_stop(const ProcessId& id, const std::string& program);

// The token that names a program in a stop request (FNV-1a of the name, 31 bits).
std::int32_t program_stop_token(const std::string& program);

}  // namespace qc
