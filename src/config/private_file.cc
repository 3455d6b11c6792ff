// Atomic writes of the small private files cairn keeps (settings, their
// .bak, the service's environment file).
#include "config/private_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/errno_status.h"

namespace cairn::config {

namespace {

// 0, or the errno value of the failed write.
int WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

Status MakeFolders(const std::string& dir) {
  if (dir.empty()) return Status::OK();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return ErrnoStatus(ENOTDIR, "create the folder", dir);
  }
  if (errno != ENOENT) return ErrnoStatus(errno, "create the folder", dir);
  size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    CAIRN_RETURN_IF_ERROR(MakeFolders(dir.substr(0, slash)));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create the folder", dir);
  }
  ::chmod(dir.c_str(), 0700);  // whatever the umask
  return Status::OK();
}

Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                           std::optional<Owner> owner) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp =
      (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + "." + name + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "create a temporary file for", path);
  int err = 0;
  if (::fchmod(fd, mode) != 0) err = errno;
  if (err == 0 && owner) {
    struct stat st;
    if (::fstat(fd, &st) == 0 && (st.st_uid != owner->uid || st.st_gid != owner->gid)) {
      (void)::fchown(fd, owner->uid, owner->gid);  // only root may; the mode still holds
    }
  }
  if (err == 0) err = WriteAll(fd, data);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "write", path);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    // EINVAL: the file system cannot sync folders; the rename is as durable
    // as it gets there.
    if (::fsync(dfd) != 0 && errno != EINVAL) err = errno;
    ::close(dfd);
    if (err != 0) return ErrnoStatus(err, "sync the folder of", path);
  }
  return Status::OK();
}

Status WritePrivateFile(const std::string& path, std::string_view text) {
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0)
    CAIRN_RETURN_IF_ERROR(MakeFolders(path.substr(0, slash)));
  return WriteFileAtomically(path, text, 0600, std::nullopt);
}

}  // namespace cairn::config
