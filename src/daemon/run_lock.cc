#include "daemon/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/errno_status.h"

namespace cairn::daemon {

Result<std::unique_ptr<RunLock>> RunLock::Acquire(const std::string& path,
                                                  const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + ErrnoText(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    if (err == EWOULDBLOCK) {
      char buf[64] = {};
      const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
      if (n > 0) {
        holder.assign(buf, static_cast<size_t>(n));
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
          holder.pop_back();
      }
    }
    ::close(fd);
    if (err != EWOULDBLOCK) return Status::IOError("cannot lock " + path + ": " + ErrnoText(err));
    return Status::Locked("another `cairn run`" +
                          (holder.empty() ? std::string() : " (pid " + holder + ")") +
                          " is already protecting " + what +
                          "; stop it first, or use another --device (lock file: " + path + ")");
  }
  // The pid, for the message above; a failure to write it costs only that.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return std::unique_ptr<RunLock>(new RunLock(fd));
}

RunLock::~RunLock() { ::close(fd_); }

}  // namespace cairn::daemon
