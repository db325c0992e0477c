// The POSIX parts of supervision.hpp: non-blocking output pipes.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "qc/supervision.hpp"

namespace qc {

Result<Pipe> make_output_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return os_error("cannot create a pipe", errno);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return Pipe{fds[0], fds[1]};
}

void close_handle(NativeHandle handle) {
  if (handle != kInvalidHandle) ::close(static_cast<int>(handle));
}

Result<std::size_t> read_available(NativeHandle handle, char* buffer, std::size_t size) {
  for (;;) {
    const ssize_t n = ::read(static_cast<int>(handle), buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    return os_error("cannot read program output", errno);  // EAGAIN: nothing more now
  }
}

}  // namespace qc
