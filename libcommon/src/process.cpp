// The portable parts of process.hpp.
#include "qc/process.hpp"

namespace qc {

bool ExitWatcher::gone(const ProcessId& id) const {
  for (const auto& w : watched_) {
    if (w.id == id) return w.gone;
  }
  return !is_running(id);
}

}  // namespace qc
