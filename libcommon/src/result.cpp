// Error construction shared by the libcommon layers.
#include "qc/result.hpp"

#include <cstring>

namespace qc {

Error os_error(const std::string& what, int sys_errno) {
  return Error{what + ": " + std::strerror(sys_errno), sys_errno};
}

}  // namespace qc
