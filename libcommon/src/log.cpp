// spdlog, configured once: stderr for people ("qc-lock: message"), rotating files for
// supervisors (timestamped lines; rotation happens between lines, never inside one).
//
// spdlog and fmt are compiled here, header-only, and nowhere else: Debian ships them only as
// shared libraries, and loading those (with the shared libstdc++ they pull in) costs a
// qc-lock invocation more than flock(1)'s whole run (measured in bench/lock.sh).
#include "qc/log.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fmt/args.h>

#include <atomic>
#include <cstdio>

#include "platform.hpp"
#include "qc/text.hpp"

namespace qc::log {
namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_pattern("qc: %v");
    return std::make_shared<spdlog::logger>("qc", sink);
  }();
  return instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

std::string format(std::string_view format_string, std::initializer_list<Arg> args) {
  fmt::dynamic_format_arg_store<fmt::format_context> store;
  for (const Arg& a : args) {
    switch (a.kind()) {
      case Arg::Kind::kText: store.push_back(a.text()); break;
      case Arg::Kind::kSigned: store.push_back(a.as_signed()); break;
      case Arg::Kind::kUnsigned: store.push_back(a.as_unsigned()); break;
      case Arg::Kind::kFloat: store.push_back(a.as_float()); break;
    }
  }
  try {
    return fmt::vformat(fmt::string_view(format_string.data(), format_string.size()), store);
  } catch (const fmt::format_error&) {
    return std::string(format_string);  // a bad format string must not lose the message
  }
}

namespace {

// stderr closed under us (`qc-launch 2>&1 | head`): said once, in whatever log files are
// attached; the stderr sink's writes then fail quietly.
void note_lost_stderr() {
  static std::atomic<bool> noted{false};
  if (!std::ferror(stderr) || noted.exchange(true)) return;
  logger()->log(spdlog::level::warn,
                "warning: stderr is closed (its reader went away); messages go on to the log file only");
}

}  // namespace

void init(std::string_view tool, bool verbose) {
  platform::ignore_broken_pipes();
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_pattern(std::string(tool) + ": %v");
  auto instance = std::make_shared<spdlog::logger>(std::string(tool), sink);
  instance->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  instance->flush_on(spdlog::level::trace);
  logger() = instance;
}

struct File::Impl {
  std::shared_ptr<spdlog::sinks::rotating_file_sink_mt> sink;
  std::shared_ptr<spdlog::logger> lines;
};

File::File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
File::~File() { flush(); }

std::shared_ptr<File> File::open(const std::string& path, std::size_t max_bytes,
                                 std::size_t max_files, std::string& error) {
  try {
    auto impl = std::make_unique<Impl>();
    // Checked at every open, rotations included: a link planted at the path later (when the
    // file is rotated away) must not be followed either.
    spdlog::file_event_handlers checks;
    checks.before_open = [](const spdlog::filename_t& name) {
      const std::string why = platform::log_path_refusal(name);
      if (!why.empty()) throw spdlog::spdlog_ex("refusing log file " + name + ": " + why);
    };
    checks.after_open = [](const spdlog::filename_t& name, std::FILE* stream) {
      const std::string why = platform::opened_log_refusal(name, stream);
      if (why.empty()) return;
      platform::discard_writes(stream);
      throw spdlog::spdlog_ex("refusing log file " + name + ": " + why);
    };
    impl->sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        path, std::max<std::size_t>(max_bytes, 1), max_files, false, checks);
    // "[out]" marks the command's own output; the tool's messages carry the tool's name.
    impl->sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%n] %v");
    impl->lines = std::make_shared<spdlog::logger>("out", impl->sink);
    impl->lines->set_level(spdlog::level::trace);
    impl->lines->flush_on(spdlog::level::info);
    return std::shared_ptr<File>(new File(std::move(impl)));
  } catch (const spdlog::spdlog_ex& e) {
    error = e.what();
    const std::string said = "refusing log file " + path + ": ";  // callers name the path
    if (error.rfind(said, 0) == 0) error.erase(0, said.size());
    return nullptr;
  }
}

void File::write_line(std::string_view line) { impl_->lines->info("{}", line); }
void File::flush() { impl_->lines->flush(); }

void attach(const std::shared_ptr<File>& file) {
  logger()->sinks().push_back(file->impl_->sink);
}

bool enabled(Level level) { return logger()->should_log(to_spdlog(level)); }

void write(Level level, std::string_view format_string, std::initializer_list<Arg> args) {
  if (!enabled(level)) return;
  std::string message = printable(format(format_string, args));  // qc/text.hpp
  if (level == Level::kWarn) message.insert(0, "warning: ");
  logger()->log(to_spdlog(level), "{}", message);
  note_lost_stderr();
}

}  // namespace qc::log
