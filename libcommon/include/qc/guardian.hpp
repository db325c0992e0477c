// The guardian: a small process that outlives a SIGKILLed supervisor only long enough to stop
// what it supervised (docs/qc-run.md). A parent-death signal reaches only the direct child:
// `qc-run -- run_brain.sh` killed with SIGKILL left bash dying and python trading on, alone
// and holding the name. The guardian knows every program's process group and lock file; when
// its supervisor dies without saying goodbye it sends SIGTERM to those groups and to every
// process that has one of the lock files open, waits up to the stop timeout, then SIGKILLs
// what is left. Windows needs none: the job object kills the tree when its owner dies.
#pragma once

#include <string>

#include "qc/process.hpp"

namespace qc::guardian {

// Starts the guardian (POSIX: a forked process that keeps no descriptor of ours but its end
// of a pipe). Call once, before any program starts and before any thread is created.
// False where it could not be started (supervision goes on without it; the caller logs).
bool start(double stop_timeout_s);

// What the guardian must stop if we die: a program's process group, a lock file whose
// holders are ours. No-ops when no guardian runs.
void watch_group(Pid group);
void forget_group(Pid group);
void watch_lock_file(const std::string& path);

// The guardian's PID (0 when none runs): a child of ours that no program started.
Pid pid();

// Our normal end: the guardian exits without stopping anything, and is reaped.
void dismiss();

}  // namespace qc::guardian
