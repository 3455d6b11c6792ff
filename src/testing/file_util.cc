#include "testing/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/errno_status.h"

namespace cairn::testing {

namespace {

// Reports the failed call `what` (errno still set) as a test failure.
void Fail(const std::string& what, const std::string& path) {
  ADD_FAILURE() << "file_util: " << what << " " << Printable(path) << ": " << ErrnoText(errno);
}

// Writes all of `data` at the file offset, or at `offset` when >= 0.
bool WriteAll(int fd, std::string_view data, off_t offset = -1) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = offset < 0 ? write(fd, data.data() + done, data.size() - done)
                           : pwrite(fd, data.data() + done, data.size() - done,
                                    offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void MakeDirs(const std::string& path, mode_t mode) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    pos = next;
    if (cur.empty() || cur == "/") continue;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return Fail("mkdir", cur);
  }
}

void WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0)
    MakeDirs(path.substr(0, slash));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Fail("open", path);
  if (!WriteAll(fd, data)) Fail("write", path);
  // open() applied the umask; the caller asked for exactly `mode`.
  if (fchmod(fd, mode) != 0) Fail("fchmod", path);
  close(fd);
}

void AppendFile(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Fail("open", path);
  if (!WriteAll(fd, data)) Fail("append to", path);
  close(fd);
}

void PatchFile(const std::string& path, uint64_t offset, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Fail("open", path);
  if (!WriteAll(fd, data, static_cast<off_t>(offset))) Fail("pwrite", path);
  close(fd);
}

std::string ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Fail("open", path);
    return "";
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("read", path);
      out.clear();
      break;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace cairn::testing
