// PosixFileSystem: the FileSystem of the local machine, straight onto the
// system calls (Linux: O_NOATIME, syncfs, posix_fadvise). Stateless; the
// process-wide instance is DefaultFileSystem() (base/file_system.h), and
// tests wrap it to inject faults.
// Thread-safety: any number of threads.
#pragma once

#include "base/file_system.h"

namespace cairn {

class PosixFileSystem final : public FileSystem {
 public:
  Result<struct stat> Lstat(const std::string& path) override;
  Result<DirListing> ListDir(const std::string& path) override;
  Result<std::string> ReadLink(const std::string& path, size_t size_hint) override;
  Status ReadXattrs(const std::string& path, std::vector<FileXattr>& out) override;
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override;

  Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path, mode_t mode) override;
  Status MakeDir(const std::string& path, mode_t mode) override;
  Status MakeSymlink(const std::string& target, const std::string& path) override;
  Status MakeHardLink(const std::string& existing, const std::string& path) override;
  Status MakeNode(const std::string& path, mode_t mode, dev_t dev) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SetMode(const std::string& path, mode_t mode) override;
  Status SetOwner(const std::string& path, uid_t uid, gid_t gid) override;
  Status SetTimes(const std::string& path, struct timespec atime, struct timespec mtime) override;
  Status SetXattr(const std::string& path, const FileXattr& xattr) override;
  Status SyncFileSystem(const std::string& path) override;
};

}  // namespace cairn
