#include "backend/local/posix_error.h"

namespace cairn::backend {

Status PosixError(int err, std::string_view op, const std::string& path) {
  return ErrnoStatus(err, op, path);
}

}  // namespace cairn::backend
