// libFuzzer: lock-file contents (qc's format and process_lock.py's), and the timestamps in
// them. Nothing may crash, throw or leak; a record qc can read must survive a write and a
// second read unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "qc/clock.hpp"
#include "qc/lock_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto record = qc::parse_lock_record(text);
  qc::parse_iso8601(text);
  if (!record) return 0;
  qc::parse_iso8601(record->timestamp);
  if (record->legacy) return 0;
  auto again = qc::parse_lock_record(qc::serialize_lock_record(*record));
  if (!again || again->pid != record->pid || again->pid_start != record->pid_start ||
      again->child_pid != record->child_pid || again->restarts != record->restarts ||
      again->command.size() != record->command.size() || again->account.has_value() != record->account.has_value()) {
    std::abort();  // what qc writes, qc must read back
  }
  return 0;
}
