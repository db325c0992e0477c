// The portable parts of spawning: describing how a child ended, mapping exec errors.
#include "qc/spawn.hpp"

#include <cerrno>

namespace qc {

std::string ExitStatus::describe() const {
  if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
  return "exited with status " + std::to_string(code);
}

std::int32_t program_stop_token(const std::string& program) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : program) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<std::int32_t>(hash & 0x7fffffff);
}

bool is_transient_spawn_error(const Error& error) {
  return error.sys_errno == EAGAIN || error.sys_errno == ENOMEM;
}

int exit_code_for_spawn_error(const Error& error) {
  if (is_transient_spawn_error(error)) return 71;  // EX_OSERR
  return (error.sys_errno == ENOENT || error.sys_errno == ENOTDIR) ? 127 : 126;
}

}  // namespace qc
