// Internal: a program's output cut into whole lines for its log file. A line is written whole
// or, past 64 KiB without a newline, in 64 KiB pieces; "\r\n" ends a line too.
#pragma once

#include <memory>
#include <string>

#include "qc/log.hpp"

namespace qc {

class LineWriter {
 public:
  explicit LineWriter(std::shared_ptr<log::File> file) : file_(std::move(file)) {}
  void append(const char* data, std::size_t size);
  // Writes a trailing partial line and flushes the file.
  void flush();

 private:
  std::shared_ptr<log::File> file_;
  std::string partial_;
};

}  // namespace qc
