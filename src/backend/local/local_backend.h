// LocalBackend: a repository in a directory of the local file system.
//
// Layout (ObjectName::Path): "config", "keys/<id>", "data/<id[0:2]>/<id>",
// "index/<id>", "versions/<id>", "locks/<id>". Directories are created 0700
// (a repository is private to its user); "data/xx" is created on the first
// save into it.
//
// How the contracts of backend.h are kept on POSIX:
//  - Save writes a temporary file ".tmp-<random>" in the object's directory,
//    fsyncs it, publishes it with link(2) (which refuses to overwrite:
//    AlreadyExists), removes the temporary name and fsyncs the directory.
//    A crash leaves at most a ".tmp-*" file, which List and HasAnyObject
//    ignore; never a partial object under its final name.
//  - Replace is a compare-and-swap serialised by flock(2) on "<root>/.replace.lock"
//    (which also orders Remove against it): temp + fsync + rename(2) + fsync dir.
//    The etag is (size, mtime ns, inode); each Replace gives the new file a
//    new inode and an mtime strictly after the old one, so a stale etag never
//    matches again.
//  - TryLock flock(2)s "locks/<name>.flock" and writes who holds it into the
//    file. The kernel releases it when the holder exits or dies, so the ttl
//    is not needed and Refresh does nothing. ".flock" files are not objects:
//    List and HasAnyObject skip them.
//
// Thread-safety: every method may be called from many threads (and processes)
// at once; the object holds no mutable state.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "backend/backend.h"

namespace cairn::backend {

class LocalBackend : public Backend {
 public:
  // `dir` is the repository directory; a relative path is made absolute
  // against the current directory now. Touches nothing on disk (Create does).
  static Result<std::shared_ptr<LocalBackend>> Open(const std::string& dir);

  std::string Location() const override { return root_; }
  Status Create() override;
  Result<bool> HasAnyObject() override;
  Status Save(const ObjectName& name, ByteView data) override;
  Result<std::string> Replace(const ObjectName& name, ByteView data,
                              const std::string& if_match) override;
  Result<Bytes> Load(const ObjectName& name, uint64_t offset = 0, uint64_t length = 0) override;
  Result<ObjectInfo> Stat(const ObjectName& name) override;
  Status List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) override;
  Status Remove(const ObjectName& name) override;
  Result<std::unique_ptr<BackendLock>> TryLock(std::string_view lock_name,
                                               std::chrono::seconds ttl) override;

  // The absolute path of the file that holds `name`.
  std::string FilePath(const ObjectName& name) const;

 private:
  explicit LocalBackend(std::string root) : root_(std::move(root)) {}

  // Lists the objects of `type` in one directory (`subdir` is the "xx" of a
  // pack directory, else empty).
  Status ListDir(ObjectType type, const std::string& dir, std::string_view subdir,
                 const std::function<Status(const ObjectInfo&)>& fn);
  // Writes `data` to a fresh temporary file next to `path`, creating a
  // missing "data/xx" directory for packs. Returns the temporary path.
  Result<std::string> WriteTempFor(const ObjectName& name, const std::string& path, ByteView data,
                                   int64_t min_mtime_ns);

  const std::string root_;  // absolute, no trailing '/'
};

struct OpenOptions;
// The registry's factory for plain paths and "local:PATH" (see registry.h);
// a local folder takes no settings.
Result<std::shared_ptr<Backend>> OpenLocalLocation(const std::string& location,
                                                   const OpenOptions& options);

}  // namespace cairn::backend
