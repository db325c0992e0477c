// Text helpers: confirmation prompts.
#include "qc/text.hpp"

#include <iostream>

#include "platform.hpp"

namespace qc {

bool confirm_yes(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  if (!answer.empty() && answer.back() == '\r') answer.pop_back();
  return answer == "YES";
}

bool stdin_is_terminal() { return platform::stdin_is_terminal(); }

}  // namespace qc
