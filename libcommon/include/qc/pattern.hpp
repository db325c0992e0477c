// Regular expressions over outside input (command lines anyone can choose): PCRE2 with
// bounded time and memory, never the stack (docs/qc-ps.md, --scan).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "qc/result.hpp"

namespace qc {

class Pattern {
 public:
  // A Perl/ECMAScript-style pattern; an error says where it is wrong.
  static Result<Pattern> compile(const std::string& pattern);
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;
  ~Pattern();

  // Whether the pattern matches anywhere in `text`. A match that would need more than the
  // limits (10 million steps, 64 MiB of backtracking state) counts as no match.
  bool search(std::string_view text) const;

 private:
  struct Impl;
  explicit Pattern(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qc
