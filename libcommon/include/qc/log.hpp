// Logging: spdlog behind a small facade. Neither spdlog nor fmt appears in any header: both
// are compiled in log.cpp alone, so no other file pays for them and no tool loads them as
// shared libraries at start-up. Messages use fmt's "{}" syntax; arguments are carried as
// strings or numbers. Human messages go to stderr as "qc-lock: message"; log files get
// timestamps.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace qc::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// One argument of a message: text, an integer or a floating-point number.
class Arg {
 public:
  enum class Kind { kText, kSigned, kUnsigned, kFloat };
  Arg(std::string_view text) : kind_(Kind::kText), text_(text) {}        // NOLINT
  Arg(const std::string& text) : kind_(Kind::kText), text_(text) {}      // NOLINT
  Arg(const char* text) : kind_(Kind::kText), text_(text) {}             // NOLINT
  Arg(char c) = delete;
  Arg(bool b) : kind_(Kind::kText), text_(b ? "true" : "false") {}       // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && std::is_signed_v<T>, int> = 0>
  Arg(T v) : kind_(Kind::kSigned), signed_(v) {}                         // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && std::is_unsigned_v<T>, int> = 0>
  Arg(T v) : kind_(Kind::kUnsigned), unsigned_(v) {}                     // NOLINT
  Arg(double v) : kind_(Kind::kFloat), float_(v) {}                      // NOLINT

  Kind kind() const { return kind_; }
  std::string_view text() const { return text_; }
  std::int64_t as_signed() const { return signed_; }
  std::uint64_t as_unsigned() const { return unsigned_; }
  double as_float() const { return float_; }

 private:
  Kind kind_;
  std::string_view text_;
  std::int64_t signed_ = 0;
  std::uint64_t unsigned_ = 0;
  double float_ = 0;
};

// Configures the stderr logger for `tool` ("qc-lock"). Call once, first thing in main.
void init(std::string_view tool, bool verbose = false);

// A size-rotated log file (spdlog's rotating sink): each line is written whole, with a
// timestamp, and rotation happens between lines, never inside one.
class File {
 public:
  // Opens (appending) PATH; nullptr and a message in `error` when it cannot.
  static std::shared_ptr<File> open(const std::string& path, std::size_t max_bytes,
                                    std::size_t max_files, std::string& error);
  ~File();
  void write_line(std::string_view line);
  void flush();

 private:
  struct Impl;
  explicit File(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend void attach(const std::shared_ptr<File>& file);
};

// Sends the tool's own messages to `file` too (besides stderr).
void attach(const std::shared_ptr<File>& file);

bool enabled(Level level);
void write(Level level, std::string_view format, std::initializer_list<Arg> args);

// "{}" formatting of `args`, as the log writes it (for messages kept as data).
std::string format(std::string_view format, std::initializer_list<Arg> args);

template <class... A>
void error(std::string_view f, const A&... a) { write(Level::kError, f, {Arg(a)...}); }
template <class... A>
void warn(std::string_view f, const A&... a) { write(Level::kWarn, f, {Arg(a)...}); }
template <class... A>
void info(std::string_view f, const A&... a) { write(Level::kInfo, f, {Arg(a)...}); }
template <class... A>
void debug(std::string_view f, const A&... a) {
  if (enabled(Level::kDebug)) write(Level::kDebug, f, {Arg(a)...});
}

}  // namespace qc::log
