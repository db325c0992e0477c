// The portable parts of spawning: describing how a child ended, mapping exec errors.
#include "qc/spawn.hpp"

#include <cerrno>

namespace qc {

std::string ExitStatus::describe() const {
  if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
  return "exited with status " + std::to_string(code);
}

bool is_transient_spawn_error(const Error& error) {
  return error.sys_errno == EAGAIN || error.sys_errno == ENOMEM;
}

int exit_code_for_spawn_error(const Error& error) {
  if (is_transient_spawn_error(error)) return 71;  // EX_OSERR
  return (error.sys_errno == ENOENT || error.sys_errno == ENOTDIR) ? 127 : 126;
}

}  // namespace qc
