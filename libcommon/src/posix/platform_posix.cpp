// The POSIX definitions of platform.hpp.
#include "platform.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <cerrno>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qc::platform {

bool local_time(std::time_t t, std::tm& out, long& utc_offset_s) {
  if (::localtime_r(&t, &out) == nullptr) return false;
  utc_offset_s = out.tm_gmtoff;
  return true;
}

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

void ignore_broken_pipes() { ::signal(SIGPIPE, SIG_IGN); }

namespace {
std::string ownership_refusal(const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return "it is not a regular file; remove it";
  if (st.st_uid != ::geteuid()) {
    return "it is owned by uid " + std::to_string(st.st_uid) + ", not by us (uid " +
           std::to_string(::geteuid()) + "); remove it or choose another --log-dir";
  }
  return "";
}
}  // namespace

std::string log_path_refusal(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "";  // created by the open
  if (S_ISLNK(st.st_mode)) return "it is a symbolic link, which qc never follows; remove it";
  return ownership_refusal(st);
}

std::string opened_log_refusal(const std::string& path, std::FILE* stream) {
  struct stat opened {}, named {};
  if (::fstat(::fileno(stream), &opened) != 0) return "it cannot be examined";
  if (::lstat(path.c_str(), &named) != 0 || S_ISLNK(named.st_mode) || named.st_dev != opened.st_dev ||
      named.st_ino != opened.st_ino) {
    return "it was replaced (by a symbolic link?) while it was being opened; remove it";
  }
  return ownership_refusal(opened);
}

void discard_writes(std::FILE* stream) {
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0) return;
  ::dup3(null_fd, ::fileno(stream), O_CLOEXEC);
  ::close(null_fd);
}

Status write_private_file(const std::string& path, const std::string& content) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return os_error("cannot create " + path, errno);
  const ssize_t n = ::write(fd, content.data(), content.size());
  const int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) return os_error("cannot write " + path, n < 0 ? saved : ENOSPC);
  return {};
}

void block_signals_in_this_thread() {
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

}  // namespace qc::platform

#include <fnmatch.h>

#include "qc/text.hpp"

namespace qc {

bool glob_match(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

}  // namespace qc
