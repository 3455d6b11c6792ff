// RunLock: one `cairn run` per repository and device on this machine. Two
// daemons for the same pair would back up the same changes twice and fight
// over the persisted queue, so the second is refused with a clear message.
//
// A file in the state folder locked with flock(): the kernel releases it
// when the process ends in any way (kill -9 included), so a crashed daemon
// never blocks the next one and there is nothing stale to clean up. The
// file holds the holder's pid, for the message. It is never removed
// (removing a flock()ed file lets a third process lock a new file of the
// same name while the second still holds the old one).
// Thread-safety: a RunLock is owned by one thread.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace cairn::daemon {

class RunLock {
 public:
  // Takes the lock at `path`. Locked when another process holds it (the
  // message names its pid and `what`, e.g. "the repository /r as device d");
  // IOError when the file cannot be opened.
  static Result<std::unique_ptr<RunLock>> Acquire(const std::string& path, const std::string& what);
  ~RunLock();  // releases it
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace cairn::daemon
