// libFuzzer: MASTER_CONFIG.json with its LAUNCH section, placeholder expansion included.
// Every input is a plan or a ConfigFailure with an exit code and a message; nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks --accounts, so that selection is fuzzed too.
  qc::launch::LoadOptions options;
  if (data[0] & 1) options.accounts = {"ATLAS"};
  if (data[0] & 2) options.accounts.push_back("FTMO");
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto result = qc::launch::parse_launch_plan(text, "/fuzz/MASTER_CONFIG.json", options);
  if (auto* failure = std::get_if<qc::launch::ConfigFailure>(&result)) {
    if (failure->message.empty() || (failure->exit_code != 78 && failure->exit_code != 64)) std::abort();
  } else {
    for (const auto& p : std::get<qc::launch::LaunchPlan>(result).programs) {
      if (p.spec.name.empty() || p.spec.command.empty()) std::abort();
    }
  }
  return 0;
}
