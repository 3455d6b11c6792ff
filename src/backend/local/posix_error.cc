#include "backend/local/posix_error.h"

#include <cerrno>
#include <cstring>
#include <type_traits>

namespace cairn::backend {

namespace {

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r returns the message (maybe not in buf); XSI returns int.
  auto r = strerror_r(err, buf, sizeof(buf));
  if constexpr (std::is_same_v<decltype(r), char*>) {
    return r;
  } else {
    return r == 0 ? std::string(buf) : "errno " + std::to_string(err);
  }
}

}  // namespace

Status PosixError(int err, std::string_view op, const std::string& path) {
  std::string what = std::string(op) + " " + path + ": " + ErrnoText(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(what);
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(what + " (check the owner and mode of the repository)");
    case EROFS:
      return Status::PermissionDenied(what + " (the file system is mounted read-only)");
    case ENOSPC:
      return Status::NoSpace("disk full writing " + path + ": free some space and run again");
    case EDQUOT:
      return Status::NoSpace("disk quota exceeded writing " + path +
                             ": free some space and run again");
    case EEXIST:
      return Status::AlreadyExists(what);
    default:
      return Status::IOError(what);
  }
}

}  // namespace cairn::backend
