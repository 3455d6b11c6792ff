#include "base/posix_file_system.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "base/errno_status.h"

namespace cairn {

namespace {

// The path and fd forms of reading extended attributes: `list(buf, size)`
// and `get(name, buf, size)` behave like llistxattr and lgetxattr.
template <typename List, typename Get>
Status ReadXattrsWith(const std::string& path, List list, Get get, std::vector<FileXattr>& out) {
  out.clear();
  ssize_t n = list(nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP || errno == ENODATA) return Status::OK();
    return ErrnoStatus(errno, "list extended attributes of", path);
  }
  if (n == 0) return Status::OK();
  std::string names(static_cast<size_t>(n), '\0');
  n = list(names.data(), names.size());
  if (n < 0) return ErrnoStatus(errno, "list extended attributes of", path);
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    ssize_t vn = get(name.c_str(), nullptr, 0);
    if (vn < 0) continue;  // vanished
    Bytes value(static_cast<size_t>(vn));
    vn = get(name.c_str(), value.data(), value.size());
    if (vn < 0) continue;
    value.resize(static_cast<size_t>(vn));
    out.push_back(FileXattr{std::move(name), std::move(value)});
  }
  return Status::OK();
}

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixReadableFile() override { close(fd_); }

  Result<size_t> Read(uint8_t* buf, size_t size) override {
    while (true) {
      ssize_t n = read(fd_, buf, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoStatus(errno, "read", path_);
    }
  }

  Result<struct stat> Stat() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoStatus(errno, "stat", path_);
    return st;
  }

  Status ReadXattrs(std::vector<FileXattr>& out) override {
    return ReadXattrsWith(
        path_, [&](char* b, size_t size) { return flistxattr(fd_, b, size); },
        [&](const char* name, void* b, size_t size) { return fgetxattr(fd_, name, b, size); }, out);
  }

 private:
  const int fd_;
  const std::string path_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) close(fd_);
  }

  Status WriteAt(ByteView data, uint64_t offset) override {
    size_t pos = 0;
    while (pos < data.size()) {
      ssize_t w =
          pwrite(fd_, data.data() + pos, data.size() - pos, static_cast<off_t>(offset + pos));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write", path_);
      }
      // pwrite of a regular file writes something or fails; a 0 would loop.
      if (w == 0) return ErrnoStatus(EIO, "write", path_);
      pos += static_cast<size_t>(w);
    }
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0)
      return ErrnoStatus(errno, "set the size of", path_);
    return Status::OK();
  }

  Status Allocate(uint64_t size) override {
    int err;  // posix_fallocate returns the error instead of setting errno
    while ((err = posix_fallocate(fd_, 0, static_cast<off_t>(size))) == EINTR) {
    }
    return err == 0 ? Status::OK() : ErrnoStatus(err, "allocate space for", path_);
  }

  Status Sync() override {
    while (fsync(fd_) != 0)
      if (errno != EINTR) return ErrnoStatus(errno, "sync", path_);
    return Status::OK();
  }

  Status SetMode(mode_t mode) override {
    if (fchmod(fd_, mode) != 0) return ErrnoStatus(errno, "change the mode of", path_);
    return Status::OK();
  }

  Status SetOwner(uid_t uid, gid_t gid) override {
    if (fchown(fd_, uid, gid) != 0) return ErrnoStatus(errno, "change the owner of", path_);
    return Status::OK();
  }

  Status SetTimes(struct timespec atime, struct timespec mtime) override {
    const struct timespec times[2] = {atime, mtime};
    if (futimens(fd_, times) != 0) return ErrnoStatus(errno, "set the times of", path_);
    return Status::OK();
  }

  Status SetXattr(const FileXattr& x) override {
    if (fsetxattr(fd_, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0)
      return ErrnoStatus(errno, "set extended attribute " + x.name + " of", path_);
    return Status::OK();
  }

  Status Close() override {
    int fd = fd_;
    fd_ = -1;
    // Not retried on EINTR: Linux has closed the descriptor anyway.
    if (close(fd) != 0) return ErrnoStatus(errno, "close", path_);
    return Status::OK();
  }

 private:
  int fd_;
  const std::string path_;
};

}  // namespace

Result<struct stat> PosixFileSystem::Lstat(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  return st;
}

Result<DirListing> PosixFileSystem::ListDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (!d) return ErrnoStatus(errno, "read folder", path);
  DirListing listing;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    listing.names.emplace_back(e->d_name);
  }
  listing.complete = errno == 0;  // readdir returns null at the end and on errors
  closedir(d);
  return listing;
}

Result<std::string> PosixFileSystem::ReadLink(const std::string& path, size_t size_hint) {
  std::string target(std::max<size_t>(size_hint, 255) + 1, '\0');
  while (true) {
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "read the symlink", path);
    // A result that fills the buffer may be cut short: grow and read again.
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

Status PosixFileSystem::ReadXattrs(const std::string& path, std::vector<FileXattr>& out) {
  return ReadXattrsWith(
      path, [&](char* buf, size_t size) { return llistxattr(path.c_str(), buf, size); },
      [&](const char* name, void* buf, size_t size) {
        return lgetxattr(path.c_str(), name, buf, size);
      },
      out);
}

Result<std::unique_ptr<ReadableFile>> PosixFileSystem::OpenForRead(const std::string& path) {
  // O_NOATIME is refused (EPERM) on files the caller does not own.
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ReadableFile>(new PosixReadableFile(fd, path));
}

Result<std::unique_ptr<WritableFile>> PosixFileSystem::CreateFile(const std::string& path,
                                                                  mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, "create", path);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path));
}

Status PosixFileSystem::MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0) return ErrnoStatus(errno, "create folder", path);
  return Status::OK();
}

Status PosixFileSystem::MakeSymlink(const std::string& target, const std::string& path) {
  if (symlink(target.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "create symlink", path);
  return Status::OK();
}

Status PosixFileSystem::MakeHardLink(const std::string& existing, const std::string& path) {
  if (link(existing.c_str(), path.c_str()) != 0)
    return ErrnoStatus(errno, "create hard link", path);
  return Status::OK();
}

Status PosixFileSystem::MakeNode(const std::string& path, mode_t mode, dev_t dev) {
  if (mknod(path.c_str(), mode, dev) != 0) return ErrnoStatus(errno, "create", path);
  return Status::OK();
}

Status PosixFileSystem::Rename(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, "move " + from + " to", to);
  return Status::OK();
}

Status PosixFileSystem::Remove(const std::string& path) {
  if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, "remove", path);
  return Status::OK();
}

Status PosixFileSystem::SetMode(const std::string& path, mode_t mode) {
  if (chmod(path.c_str(), mode) != 0) return ErrnoStatus(errno, "change the mode of", path);
  return Status::OK();
}

Status PosixFileSystem::SetOwner(const std::string& path, uid_t uid, gid_t gid) {
  if (lchown(path.c_str(), uid, gid) != 0) return ErrnoStatus(errno, "change the owner of", path);
  return Status::OK();
}

Status PosixFileSystem::SetTimes(const std::string& path, struct timespec atime,
                                 struct timespec mtime) {
  const struct timespec times[2] = {atime, mtime};
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus(errno, "set the times of", path);
  return Status::OK();
}

Status PosixFileSystem::SetXattr(const std::string& path, const FileXattr& x) {
  if (lsetxattr(path.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0)
    return ErrnoStatus(errno, "set extended attribute " + x.name + " of", path);
  return Status::OK();
}

Status PosixFileSystem::SyncFileSystem(const std::string& path) {
  if (path.empty()) {
    sync();  // cannot fail
    return Status::OK();
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  Status st;
  if (syncfs(fd) != 0) st = ErrnoStatus(errno, "sync the file system of", path);
  close(fd);
  return st;
}

FileSystem& DefaultFileSystem() {
  // Never destroyed: threads still running at exit may use it.
  static FileSystem* const fs = new PosixFileSystem;
  return *fs;
}

}  // namespace cairn
