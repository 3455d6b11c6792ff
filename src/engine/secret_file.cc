#include "engine/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/bytes.h"
#include "base/errno_status.h"
#include "crypto/crypto.h"

namespace cairn::engine {

std::string NewRandomSecret() {
  Bytes raw(32);
  crypto::RandomBytes(raw);
  return Base64Encode(raw);
}

Status CreateSecretFile(const std::string& path, const std::string& secret) {
  std::filesystem::path p(path);
  std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) ::chmod(dir.c_str(), 0700);
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0)
    return Status::AlreadyExists(path + " already exists: a secret is never overwritten");
  std::string tmp = dir + "/." + p.filename().string() + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "create the secret file", path);
  int err = 0;
  if (::fchmod(fd, 0600) != 0) err = errno;
  std::string line = secret + "\n";
  size_t done = 0;
  while (err == 0 && done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      err = errno;
    else
      done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::link(tmp.c_str(), path.c_str()) != 0) err = errno;
  ::unlink(tmp.c_str());
  if (err == EEXIST)
    return Status::AlreadyExists(path + " already exists: a secret is never overwritten");
  if (err != 0) return ErrnoStatus(err, "write the secret file", path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

}  // namespace cairn::engine
