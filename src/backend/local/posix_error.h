// The local backend's name for base/errno_status.h, kept so the backend and
// its tests read as before.
//
// Internal to src/backend (the local backend and its tests); not part of the
// Backend interface.
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>

#include "base/errno_status.h"
#include "base/status.h"

namespace cairn::backend {

// Returns ErrnoStatus(err, op, path), which maps `err` (an errno value) from the system
// call `op` ("open", "write", "link", ...) on `path` to a Status:
//   ENOENT -> NotFound, EACCES/EPERM/EROFS -> PermissionDenied,
//   ENOSPC/EDQUOT -> NoSpace, EEXIST -> AlreadyExists,
//   anything else -> IOError with strerror and the path.
// None of them is retryable: a local disk does not heal by itself.
// REQUIRES: err != 0.
Status PosixError(int err, std::string_view op, const std::string& path);

}  // namespace cairn::backend
