// FaultFileSystem: a FileSystem decorator for tests that fails chosen
// operations on chosen paths with a chosen errno ("the 3rd WriteAt under
// /x fails with ENOSPC"), and logs every call. Test-only (cairn_testing).
//
// A failed call does not reach the wrapped file system (nothing is read or
// written), except Close, which closes the real file and then reports the
// error, as a close that finds a late write error does. The error is the
// Status the real one would give for that errno (ErrnoStatus, same action
// words), so the code under test cannot tell the difference.
//
// Thread-safety: every method may be called from many threads; calls are
// counted in the order they take the internal lock.
#pragma once

#include <string>
#include <vector>

#include "base/file_system.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace cairn::testing {

class FaultFileSystem final : public FileSystem {
 public:
  // The operations, for both forms where there are two (SetMode on a path
  // and on an open file are both kSetMode). A handle's calls are under the
  // path it was opened with.
  enum class Op {
    kLstat,
    kListDir,
    kReadLink,
    kReadXattrs,
    kOpenForRead,
    kRead,  // ReadableFile::Read
    kStat,  // ReadableFile::Stat
    kCreateFile,
    kWriteAt,
    kTruncate,
    kAllocate,
    kSync,
    kClose,
    kMakeDir,
    kMakeSymlink,
    kMakeHardLink,
    kMakeNode,
    kRename,  // matches when either path is under the rule's
    kRemove,
    kSetMode,
    kSetOwner,
    kSetTimes,
    kSetXattr,
    kSyncFileSystem,
  };
  static constexpr int kEvery = -1;

  // Wraps `inner` (it must outlive this), by default the real file system.
  explicit FaultFileSystem(FileSystem& inner = DefaultFileSystem()) : inner_(inner) {}

  // From now on, counts the calls of `op` on `under` or a path below it
  // (path components: "/a/b" is under "/a", "/ab" is not); the `nth` of them
  // (1-based) and the `times - 1` after it fail with errno `err` (kEvery:
  // every one from the nth on). Rules are independent: each counts its own.
  void Fail(Op op, const std::string& under, int err, int nth = 1, int times = 1);
  // Drops every rule; the call log stays.
  void ClearFaults();

  // How many calls of `op` were made on `under` or below it since
  // construction, failed ones included.
  int Calls(Op op, const std::string& under) const;
  // The path of each call a rule failed, in order.
  std::vector<std::string> FailedPaths() const;

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

 private:
  friend class FaultReadableFile;
  friend class FaultWritableFile;

  // Logs a call of `op` on `path` (and `other`, for Rename) and returns the
  // injected error, or OK to go on to the wrapped file system.
  Status Check(Op op, const std::string& path, const std::string* other = nullptr);

  struct Rule {
    Op op;
    std::string under;
    int err, nth, times;
    int seen = 0;  // matching calls since the rule was added
  };
  struct Call {
    Op op;
    std::string path, other;
  };

  FileSystem& inner_;
  mutable Mutex mu_;
  std::vector<Rule> rules_ GUARDED_BY(mu_);
  std::vector<Call> calls_ GUARDED_BY(mu_);
  std::vector<std::string> failed_ GUARDED_BY(mu_);
};

}  // namespace cairn::testing
