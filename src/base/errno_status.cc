#include "base/errno_status.h"

#include <cerrno>
#include <cstring>
#include <type_traits>

namespace cairn {

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

Status ErrnoStatus(int err, std::string_view action, std::string_view path) {
  const std::string file(path);
  const std::string what = "cannot " + std::string(action) + " " + file + ": " + ErrnoText(err);
  switch (err) {
    case ENOSPC:
      return Status::NoSpace("disk full writing " + file + ": free some space and run again");
    case EDQUOT:
      return Status::NoSpace("disk quota exceeded writing " + file +
                             ": free some space and run again");
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(what + " (check the owner and mode of " + file +
                                      " and its folders)");
    case EROFS:
      return Status::PermissionDenied(what + " (the file system is mounted read-only)");
    case ENOENT:
      return Status::NotFound(what);
    case EEXIST:
      return Status::AlreadyExists(what);
    default:
      return Status::IOError(what);
  }
}

}  // namespace cairn
