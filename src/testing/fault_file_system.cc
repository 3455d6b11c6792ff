#include "testing/fault_file_system.h"

#include <errno.h>

#include <utility>

#include "base/errno_status.h"

namespace cairn::testing {

namespace {

using Op = FaultFileSystem::Op;

// The action words of PosixFileSystem, so that an injected error reads as a
// real one.
std::string_view Action(Op op) {
  switch (op) {
    case Op::kLstat:
    case Op::kStat:
      return "stat";
    case Op::kListDir:
      return "read folder";
    case Op::kReadLink:
      return "read the symlink";
    case Op::kReadXattrs:
      return "list extended attributes of";
    case Op::kOpenForRead:
      return "open";
    case Op::kRead:
      return "read";
    case Op::kCreateFile:
    case Op::kMakeNode:
      return "create";
    case Op::kWriteAt:
      return "write";
    case Op::kTruncate:
      return "set the size of";
    case Op::kAllocate:
      return "allocate space for";
    case Op::kSync:
      return "sync";
    case Op::kClose:
      return "close";
    case Op::kMakeDir:
      return "create folder";
    case Op::kMakeSymlink:
      return "create symlink";
    case Op::kMakeHardLink:
      return "create hard link";
    case Op::kRename:
      return "move";
    case Op::kRemove:
      return "remove";
    case Op::kSetMode:
      return "change the mode of";
    case Op::kSetOwner:
      return "change the owner of";
    case Op::kSetTimes:
      return "set the times of";
    case Op::kSetXattr:
      return "set an extended attribute of";
    case Op::kSyncFileSystem:
      return "sync the file system of";
  }
  return "access";
}

bool Under(const std::string& path, const std::string& dir) {
  if (path.compare(0, dir.size(), dir) != 0) return false;
  return path.size() == dir.size() || dir == "/" || path[dir.size()] == '/';
}

}  // namespace

class FaultReadableFile final : public ReadableFile {
 public:
  FaultReadableFile(FaultFileSystem& fs, std::unique_ptr<ReadableFile> inner, std::string path)
      : fs_(fs), inner_(std::move(inner)), path_(std::move(path)) {}

  Result<size_t> Read(uint8_t* buf, size_t size) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kRead, path_));
    return inner_->Read(buf, size);
  }
  Result<struct stat> Stat() override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kStat, path_));
    return inner_->Stat();
  }
  Status ReadXattrs(std::vector<FileXattr>& out) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kReadXattrs, path_));
    return inner_->ReadXattrs(out);
  }

 private:
  FaultFileSystem& fs_;
  std::unique_ptr<ReadableFile> inner_;
  const std::string path_;
};

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultFileSystem& fs, std::unique_ptr<WritableFile> inner, std::string path)
      : fs_(fs), inner_(std::move(inner)), path_(std::move(path)) {}

  Status WriteAt(ByteView data, uint64_t offset) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kWriteAt, path_));
    return inner_->WriteAt(data, offset);
  }
  Status Truncate(uint64_t size) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kTruncate, path_));
    return inner_->Truncate(size);
  }
  Status Allocate(uint64_t size) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kAllocate, path_));
    return inner_->Allocate(size);
  }
  Status Sync() override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kSync, path_));
    return inner_->Sync();
  }
  Status SetMode(mode_t mode) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kSetMode, path_));
    return inner_->SetMode(mode);
  }
  Status SetOwner(uid_t uid, gid_t gid) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kSetOwner, path_));
    return inner_->SetOwner(uid, gid);
  }
  Status SetTimes(struct timespec atime, struct timespec mtime) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kSetTimes, path_));
    return inner_->SetTimes(atime, mtime);
  }
  Status SetXattr(const FileXattr& xattr) override {
    CAIRN_RETURN_IF_ERROR(fs_.Check(Op::kSetXattr, path_));
    return inner_->SetXattr(xattr);
  }
  Status Close() override {
    // The real file is closed either way (no descriptor leaks); the fault
    // replaces its answer.
    Status injected = fs_.Check(Op::kClose, path_);
    Status closed = inner_->Close();
    return injected.ok() ? closed : injected;
  }

 private:
  FaultFileSystem& fs_;
  std::unique_ptr<WritableFile> inner_;
  const std::string path_;
};

void FaultFileSystem::Fail(Op op, const std::string& under, int err, int nth, int times) {
  MutexLock lock(mu_);
  rules_.push_back(Rule{op, under, err, nth, times});
}

void FaultFileSystem::ClearFaults() {
  MutexLock lock(mu_);
  rules_.clear();
}

int FaultFileSystem::Calls(Op op, const std::string& under) const {
  MutexLock lock(mu_);
  int n = 0;
  for (const Call& c : calls_)
    if (c.op == op && (Under(c.path, under) || (!c.other.empty() && Under(c.other, under)))) ++n;
  return n;
}

std::vector<std::string> FaultFileSystem::FailedPaths() const {
  MutexLock lock(mu_);
  return failed_;
}

Status FaultFileSystem::Check(Op op, const std::string& path, const std::string* other) {
  MutexLock lock(mu_);
  calls_.push_back(Call{op, path, other ? *other : std::string()});
  Status injected;
  for (Rule& r : rules_) {
    if (r.op != op) continue;
    const std::string* hit = Under(path, r.under)              ? &path
                             : other && Under(*other, r.under) ? other
                                                               : nullptr;
    if (!hit) continue;
    ++r.seen;
    bool fires = r.seen >= r.nth && (r.times == kEvery || r.seen < r.nth + r.times);
    if (fires && injected.ok()) {
      injected = ErrnoStatus(r.err, Action(op), *hit);
      failed_.push_back(*hit);
    }
  }
  return injected;
}

Result<struct stat> FaultFileSystem::Lstat(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kLstat, path));
  return inner_.Lstat(path);
}

Result<DirListing> FaultFileSystem::ListDir(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kListDir, path));
  return inner_.ListDir(path);
}

Result<std::string> FaultFileSystem::ReadLink(const std::string& path, size_t size_hint) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kReadLink, path));
  return inner_.ReadLink(path, size_hint);
}

Status FaultFileSystem::ReadXattrs(const std::string& path, std::vector<FileXattr>& out) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kReadXattrs, path));
  return inner_.ReadXattrs(path, out);
}

Result<std::unique_ptr<ReadableFile>> FaultFileSystem::OpenForRead(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kOpenForRead, path));
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, inner_.OpenForRead(path));
  return std::unique_ptr<ReadableFile>(new FaultReadableFile(*this, std::move(file), path));
}

Result<std::unique_ptr<WritableFile>> FaultFileSystem::CreateFile(const std::string& path,
                                                                  mode_t mode) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kCreateFile, path));
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, inner_.CreateFile(path, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(*this, std::move(file), path));
}

Status FaultFileSystem::MakeDir(const std::string& path, mode_t mode) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kMakeDir, path));
  return inner_.MakeDir(path, mode);
}

Status FaultFileSystem::MakeSymlink(const std::string& target, const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kMakeSymlink, path));
  return inner_.MakeSymlink(target, path);
}

Status FaultFileSystem::MakeHardLink(const std::string& existing, const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kMakeHardLink, path));
  return inner_.MakeHardLink(existing, path);
}

Status FaultFileSystem::MakeNode(const std::string& path, mode_t mode, dev_t dev) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kMakeNode, path));
  return inner_.MakeNode(path, mode, dev);
}

Status FaultFileSystem::Rename(const std::string& from, const std::string& to) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kRename, to, &from));
  return inner_.Rename(from, to);
}

Status FaultFileSystem::Remove(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kRemove, path));
  return inner_.Remove(path);
}

Status FaultFileSystem::SetMode(const std::string& path, mode_t mode) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kSetMode, path));
  return inner_.SetMode(path, mode);
}

Status FaultFileSystem::SetOwner(const std::string& path, uid_t uid, gid_t gid) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kSetOwner, path));
  return inner_.SetOwner(path, uid, gid);
}

Status FaultFileSystem::SetTimes(const std::string& path, struct timespec atime,
                                 struct timespec mtime) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kSetTimes, path));
  return inner_.SetTimes(path, atime, mtime);
}

Status FaultFileSystem::SetXattr(const std::string& path, const FileXattr& xattr) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kSetXattr, path));
  return inner_.SetXattr(path, xattr);
}

Status FaultFileSystem::SyncFileSystem(const std::string& path) {
  CAIRN_RETURN_IF_ERROR(Check(Op::kSyncFileSystem, path));
  return inner_.SyncFileSystem(path);
}

}  // namespace cairn::testing
