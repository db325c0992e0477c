// The portable part of stopping: the token that names a program in a stop request.
#include "qc/stop.hpp"

#include <cctype>

namespace qc {

std::optional<Signal> parse_signal_name(const std::string& text) {
  std::string name;
  for (char c : text) name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  if (name == "TERM") return Signal::kTerminate;
  if (name == "INT") return Signal::kInterrupt;
  if (name == "QUIT") return Signal::kQuit;
  if (name == "HUP") return Signal::kHangup;
  if (name == "KILL") return Signal::kKill;
  if (name == "USR1") return Signal::kUser1;
  if (name == "USR2") return Signal::kUser2;
  return std::nullopt;
}

std::int32_t program_stop_token(const std::string& program) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : program) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<std::int32_t>(hash & 0x7fffffff);
}

}  // namespace qc
