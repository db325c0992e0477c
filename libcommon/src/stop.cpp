// The portable part of stopping: the token that names a program in a stop request.
#include "qc/stop.hpp"

namespace qc {

std::int32_t program_stop_token(const std::string& program) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : program) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<std::int32_t>(hash & 0x7fffffff);
}

}  // namespace qc
