// Values that carry errors instead of exiting or throwing (ccache's `expected` style).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace qc {

// What failed, on what, and why, as one human sentence without the tool prefix,
// e.g. "cannot open lock file .locks/A.lock: Permission denied".
struct Error {
  std::string message;
  int sys_errno = 0;  // the OS error behind it, 0 when there is none
};

template <class T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}    // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// A Result without a value.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

// "prefix: strerror(errno)" with errno kept for callers that map it to an exit code.
Error os_error(const std::string& what, int sys_errno);

}  // namespace qc
