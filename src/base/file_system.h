// The file-system seam of the archiver and the restorer (as leveldb's Env or
// restic's fs.FS): every access they make to local files goes through a
// FileSystem, so tests can inject faults (testing/fault_file_system.h) and
// another system could be supported without touching them. It is only as
// wide as those two callers need.
//
// Paths are absolute byte strings, passed to the OS as they are. Every error
// is a Status made by ErrnoStatus (base/errno_status.h) from the failing
// call's errno, with the path in its message, so codes are the same
// whichever call failed:
//   ENOENT -> NotFound        EEXIST -> AlreadyExists
//   EACCES, EPERM, EROFS -> PermissionDenied
//   ENOSPC, EDQUOT -> NoSpace (a full disk)
//   anything else (EIO, ELOOP, ENOTDIR, EINVAL...) -> IOError
// EINTR is retried inside; nothing else is.
//
// Thread-safety: a FileSystem is used by many threads at once; one file
// handle by one thread at a time.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace cairn {

// One extended attribute ("user.comment" and its value).
struct FileXattr {
  std::string name;
  Bytes value;
};

// The entries of a folder, without "." and "..", in no particular order.
struct DirListing {
  std::vector<std::string> names;
  // False when reading the folder failed part way: `names` holds the entries
  // read until then, and a caller must not conclude that others are gone.
  bool complete = true;
};

// A regular file open for reading. Closed when destroyed (a read-only close
// has nothing to report).
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `size` bytes at the current position into `buf`; returns how
  // many, 0 only at the end of the file. Short reads may happen anywhere.
  virtual Result<size_t> Read(uint8_t* buf, size_t size) = 0;
  // fstat of the open file (its size, times and inode now).
  virtual Result<struct stat> Stat() = 0;
  // Its extended attributes, replacing `out`. A file system without them
  // (ENOTSUP) gives none and OK; an attribute removed while being read is
  // left out.
  virtual Status ReadXattrs(std::vector<FileXattr>& out) = 0;
};

// A regular file open for writing, made by FileSystem::CreateFile.
class WritableFile {
 public:
  // Closes the file unless Close() was called, ignoring any error: call
  // Close() to learn whether the content reached the file system.
  virtual ~WritableFile() = default;
  // Writes all of `data` at `offset` (short writes are continued); the file
  // position is neither used nor moved. NoSpace when the disk is full (part
  // of `data` may have been written).
  virtual Status WriteAt(ByteView data, uint64_t offset) = 0;
  // Sets the size: cut, or extended with a hole.
  virtual Status Truncate(uint64_t size) = 0;
  // Reserves disk blocks for the first `size` bytes without changing the
  // content (posix_fallocate): NoSpace when they do not fit. A hint for
  // contiguous files; callers may ignore its failure.
  virtual Status Allocate(uint64_t size) = 0;
  // fsync: the content and metadata are durable when it returns OK.
  virtual Status Sync() = 0;
  virtual Status SetMode(mode_t mode) = 0;
  virtual Status SetOwner(uid_t uid, gid_t gid) = 0;
  virtual Status SetTimes(struct timespec atime, struct timespec mtime) = 0;
  virtual Status SetXattr(const FileXattr& xattr) = 0;
  // Closes the file and reports a late write error (a full disk on NFS, for
  // one). The file is closed even when an error is returned. Nothing but the
  // destructor may be called after it.
  virtual Status Close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // --- Reading (the archiver; the restorer checking what is there) ---

  // lstat: a symlink at `path` is described, not followed.
  virtual Result<struct stat> Lstat(const std::string& path) = 0;
  // The entries of the folder at `path`. An error only when the folder
  // cannot be opened (NotFound, PermissionDenied, IOError for a non-folder);
  // a failure part way is DirListing::complete == false.
  virtual Result<DirListing> ListDir(const std::string& path) = 0;
  // The target of the symlink at `path`, whatever its length; `size_hint`
  // (its lstat st_size) sizes the first attempt. NotFound when it vanished,
  // IOError (EINVAL) when `path` is not a symlink.
  virtual Result<std::string> ReadLink(const std::string& path, size_t size_hint) = 0;
  // The extended attributes of `path` itself (a symlink's own), replacing
  // `out`; as ReadableFile::ReadXattrs.
  virtual Status ReadXattrs(const std::string& path, std::vector<FileXattr>& out) = 0;
  // Opens a file for one sequential pass. Never follows a symlink at `path`
  // (IOError, ELOOP). Leaves its access time alone where the caller may
  // (O_NOATIME, refused for others' files), and tells the kernel the file
  // is read sequentially (read-ahead).
  virtual Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) = 0;

  // --- Writing (the restorer) ---

  // Creates a new regular file, open for writing, with `mode` (less the
  // umask). Exclusive and no-follow: AlreadyExists when anything is at
  // `path`, a dangling symlink included.
  virtual Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path,
                                                           mode_t mode) = 0;
  // mkdir: AlreadyExists when anything (not necessarily a folder) is there;
  // NotFound when the parent is missing.
  virtual Status MakeDir(const std::string& path, mode_t mode) = 0;
  // A symlink at `path` pointing to `target` (any bytes, not checked).
  virtual Status MakeSymlink(const std::string& target, const std::string& path) = 0;
  // A hard link at `path` to the file at `existing` (not followed if a
  // symlink).
  virtual Status MakeHardLink(const std::string& existing, const std::string& path) = 0;
  // mknod: a FIFO, character or block device; `mode` holds the type bits
  // (S_IFIFO, S_IFCHR, S_IFBLK) and the permissions; `dev` is for devices.
  virtual Status MakeNode(const std::string& path, mode_t mode, dev_t dev) = 0;
  // rename: atomically replaces whatever non-folder is at `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // unlink: removes a file, symlink or special file (a folder: IOError or
  // PermissionDenied, EISDIR/EPERM).
  virtual Status Remove(const std::string& path) = 0;
  // chmod. Follows a symlink at `path` (Linux cannot change a symlink's
  // mode): callers never pass one.
  virtual Status SetMode(const std::string& path, mode_t mode) = 0;
  // lchown: a symlink's own owner.
  virtual Status SetOwner(const std::string& path, uid_t uid, gid_t gid) = 0;
  // utimensat(AT_SYMLINK_NOFOLLOW): a symlink's own times.
  virtual Status SetTimes(const std::string& path, struct timespec atime,
                          struct timespec mtime) = 0;
  // lsetxattr: on a symlink itself.
  virtual Status SetXattr(const std::string& path, const FileXattr& xattr) = 0;
  // Makes everything written durable: syncfs of the file system holding the
  // folder `path`, or sync() of every file system when `path` is empty.
  virtual Status SyncFileSystem(const std::string& path) = 0;
};

// The real local file system (PosixFileSystem), one per process, never
// destroyed. What BackupOptions::fs and RestoreOptions::fs mean when null.
FileSystem& DefaultFileSystem();

}  // namespace cairn
