// Windows services (windows_service.hpp) do not exist here: systemd's unit is the Linux way.
#include <cerrno>

#include "qc/windows_service.hpp"

namespace qc::service {
namespace {

Error windows_only() {
  return Error{"Windows services exist on Windows only; on Linux, systemd runs qc-launch with the unit "
               "qc-launch@.service (README, Install)",
               ENOSYS};
}

}  // namespace

Result<Warnings> install(const InstallSpec&) { return windows_only(); }
Result<Status> start(const std::string&, std::chrono::milliseconds) { return windows_only(); }
Result<Status> stop(const std::string&, std::chrono::milliseconds) { return windows_only(); }
Result<Status> uninstall(const std::string&, std::chrono::milliseconds) { return windows_only(); }
Result<Status> query(const std::string&) { return windows_only(); }
Result<int> run_as_service(const std::string&, std::chrono::milliseconds, const std::function<int()>&) {
  return windows_only();
}

}  // namespace qc::service
