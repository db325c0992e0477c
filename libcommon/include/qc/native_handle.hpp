// An OS handle in a platform-neutral type: a file descriptor on POSIX, a HANDLE on Windows.
#pragma once

#include <cstdint>

namespace qc {
using NativeHandle = std::intptr_t;
inline constexpr NativeHandle kInvalidHandle = -1;
}  // namespace qc
