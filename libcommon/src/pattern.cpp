// PCRE2 behind qc/pattern.hpp. pcre2_match keeps its backtracking frames on the heap (since
// 10.30), so a pattern like "BRAIN_.*" over a megabyte of command line costs memory we bound,
// not stack; the match limit bounds its time.
#include "qc/pattern.hpp"

#include <pcre2.h>

namespace qc {

namespace {
constexpr uint32_t kMatchLimit = 10'000'000;   // backtracking steps
constexpr uint32_t kHeapLimitKiB = 64 * 1024;  // backtracking state
}  // namespace

struct Pattern::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_match_data* data = nullptr;
  ~Impl() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

Pattern::Pattern(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;
Pattern::~Pattern() = default;

Result<Pattern> Pattern::compile(const std::string& pattern) {
  auto impl = std::make_unique<Impl>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (impl->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    return Error{"invalid pattern \"" + pattern + "\": " + reinterpret_cast<const char*>(message) +
                 " at offset " + std::to_string(offset)};
  }
  impl->context = pcre2_match_context_create(nullptr);
  impl->data = pcre2_match_data_create_from_pattern(impl->code, nullptr);
  if (impl->context == nullptr || impl->data == nullptr) return Error{"out of memory compiling a pattern"};
  pcre2_set_match_limit(impl->context, kMatchLimit);
  pcre2_set_heap_limit(impl->context, kHeapLimitKiB);
  return Pattern(std::move(impl));
}

bool Pattern::search(std::string_view text) const {
  const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0,
                             impl_->data, impl_->context);
  return rc >= 0;  // no match, or a limit reached: not a match
}

}  // namespace qc
