// The POSIX parts of supervision_io.hpp: non-blocking output pipes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "line_writer.hpp"
#include "qc/supervision_io.hpp"

namespace qc {

Result<Pipe> make_output_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    const int err = errno;
    if (err == EMFILE || err == ENFILE) {
      return Error{std::string("cannot create a pipe for a program's output: ") + std::strerror(err) +
                       "; raise the open-file limit (ulimit -n, or LimitNOFILE= in a systemd unit) "
                       "or supervise fewer programs in one qc-launch",
                   err};
    }
    return os_error("cannot create a pipe for a program's output", err);
  }
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return Pipe{fds[0], fds[1]};
}

Result<Pipe> make_input_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return os_error("cannot create a pipe for an alert's input", errno);
  ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
  return Pipe{fds[0], fds[1]};
}

bool write_now(NativeHandle write_end, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(static_cast<int>(write_end), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void close_handle(NativeHandle handle) {
  if (handle != kInvalidHandle) ::close(static_cast<int>(handle));
}

struct OutputPump::Impl {
  Impl(NativeHandle r, LineWriter l) : read_end(r), lines(std::move(l)) {}
  NativeHandle read_end;
  LineWriter lines;
  EventLoop* loop = nullptr;
  double budget = kBurstBytes;  // a token bucket, in bytes (a line costs at least kLineCost)
  SteadyTime refilled = std::chrono::steady_clock::now();
  std::optional<SteadyTime> paused_until;

  void refill(SteadyTime now) {
    budget = std::min(kBurstBytes, budget + kBytesPerSecond * std::chrono::duration<double>(now - refilled).count());
    refilled = now;
  }
};

OutputPump::OutputPump(NativeHandle read_end, std::shared_ptr<log::File> file)
    : impl_(new Impl(read_end, LineWriter(std::move(file)))) {}

OutputPump::~OutputPump() {
  if (impl_->loop != nullptr) impl_->loop->unwatch_readable(impl_->read_end);
  flush();
  close_handle(impl_->read_end);
}

NativeHandle OutputPump::handle() const { return impl_->read_end; }

void OutputPump::attach(EventLoop& loop) {
  impl_->loop = &loop;
  if (!impl_->paused_until) loop.watch_readable(impl_->read_end);
}

std::optional<SteadyTime> OutputPump::deadline() const { return impl_->paused_until; }

void OutputPump::on_deadline(SteadyTime now) {
  if (!impl_->paused_until || now < *impl_->paused_until) return;
  impl_->paused_until.reset();
  if (impl_->loop != nullptr) impl_->loop->watch_readable(impl_->read_end);
}

bool OutputPump::drain() {
  if (impl_->paused_until) return true;
  const auto now = std::chrono::steady_clock::now();
  impl_->refill(now);
  const bool open = read_up_to(kReadPerWake);
  if (impl_->budget <= 0 && open && impl_->loop != nullptr) {
    // Over the rate: the pipe fills and the program waits on it until the budget is back.
    const double wait_s = (kResumeBytes - impl_->budget) / kBytesPerSecond;
    impl_->paused_until = now + std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(wait_s));
    impl_->loop->unwatch_readable(impl_->read_end);
  }
  return open;
}

bool OutputPump::drain_rest() { return read_up_to(kReadAtEnd); }

// A child that writes as fast as it can (`yes`) always has more: reading until EAGAIN would
// never return to the loop, and signals, exits and deadlines would wait behind it.
bool OutputPump::read_up_to(std::size_t max_bytes) {
  char buf[16384];
  std::size_t done = 0;
  while (done < max_bytes) {
    const ssize_t n = ::read(static_cast<int>(impl_->read_end), buf, sizeof buf);
    if (n > 0) {
      impl_->lines.append(buf, static_cast<std::size_t>(n));
      done += static_cast<std::size_t>(n);
      std::size_t newlines = 0;
      for (const char* p = buf; (p = static_cast<const char*>(std::memchr(p, '\n', buf + n - p))) != nullptr; ++p) {
        ++newlines;
      }
      impl_->budget -= static_cast<double>(n) + kLineCost * static_cast<double>(newlines);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n != 0;  // 0: end of file; EAGAIN: nothing more now
  }
  return true;
}

void OutputPump::flush() { impl_->lines.flush(); }

}  // namespace qc
