// The Windows parts of supervision_io.hpp: output pipes, read by a thread each (anonymous pipes
// cannot be waited on), which writes whole lines to the program's log file.
#include <algorithm>
#include <chrono>

#include "line_writer.hpp"
#include "qc/supervision_io.hpp"
#include "win32_util.hpp"

namespace qc {

Result<Pipe> make_output_pipe() {
  HANDLE read_end = nullptr, write_end = nullptr;
  if (!CreatePipe(&read_end, &write_end, nullptr, 0)) {
    return win32::error("cannot create a pipe", GetLastError());
  }
  return Pipe{win32::from_handle(read_end), win32::from_handle(write_end)};
}

Result<Pipe> make_input_pipe() {
  HANDLE read_end = nullptr, write_end = nullptr;
  if (!CreatePipe(&read_end, &write_end, nullptr, 64 * 1024)) {
    return win32::error("cannot create a pipe for an alert's input", GetLastError());
  }
  return Pipe{win32::from_handle(read_end), win32::from_handle(write_end)};
}

bool write_now(NativeHandle write_end, const std::string& data) {
  DWORD written = 0;
  return data.size() <= 64 * 1024 &&
         WriteFile(win32::to_handle(write_end), data.data(), static_cast<DWORD>(data.size()), &written, nullptr) &&
         written == data.size();
}

void close_handle(NativeHandle handle) {
  if (handle != kInvalidHandle) CloseHandle(win32::to_handle(handle));
}

struct OutputPump::Impl {
  HANDLE read_end;
  LineWriter lines;
  HANDLE reader = nullptr;  // a Windows thread, so that it can be waited on and cancelled

  static DWORD WINAPI read_all(LPVOID context) {
    auto* impl = static_cast<Impl*>(context);
    char buf[16384];
    DWORD n = 0;
    double budget = kBurstBytes;  // a token bucket, as on POSIX: a fast writer waits on its pipe
    auto refilled = std::chrono::steady_clock::now();
    while (ReadFile(impl->read_end, buf, sizeof buf, &n, nullptr) && n > 0) {
      impl->lines.append(buf, n);
      std::size_t newlines = 0;
      for (DWORD i = 0; i < n; ++i) newlines += buf[i] == '\n';
      budget -= static_cast<double>(n) + kLineCost * static_cast<double>(newlines);
      const auto now = std::chrono::steady_clock::now();
      budget = std::min(kBurstBytes, budget + kBytesPerSecond * std::chrono::duration<double>(now - refilled).count());
      refilled = now;
      if (budget < 0) Sleep(static_cast<DWORD>((kResumeBytes - budget) / kBytesPerSecond * 1000) + 1);
    }
    impl->lines.flush();  // end of file: every writer is gone
    return 0;
  }
};

OutputPump::OutputPump(NativeHandle read_end, std::shared_ptr<log::File> file)
    : impl_(new Impl{win32::to_handle(read_end), LineWriter(std::move(file))}) {
  impl_->reader = CreateThread(nullptr, 0, Impl::read_all, impl_.get(), 0, nullptr);
}

OutputPump::~OutputPump() {
  flush();
  CloseHandle(impl_->read_end);
}

NativeHandle OutputPump::handle() const { return kInvalidHandle; }  // the thread reads

void OutputPump::attach(EventLoop&) {}
std::optional<SteadyTime> OutputPump::deadline() const { return std::nullopt; }
void OutputPump::on_deadline(SteadyTime) {}

bool OutputPump::drain() { return true; }
bool OutputPump::drain_rest() { return true; }

void OutputPump::flush() {
  if (impl_->reader == nullptr) return;
  // Normally every writer has closed its end by now and the reader is finishing; a straggler
  // that kept the pipe open must not hold us up.
  if (WaitForSingleObject(impl_->reader, 2000) == WAIT_TIMEOUT) CancelSynchronousIo(impl_->reader);
  WaitForSingleObject(impl_->reader, INFINITE);
  CloseHandle(impl_->reader);
  impl_->reader = nullptr;
}

}  // namespace qc
