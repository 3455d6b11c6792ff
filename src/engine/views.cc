#include "engine/views.h"

#include "repo/version_id.h"
#include "repo/version_record.h"

namespace cairn::engine {

namespace {

const char* TypeName(const repo::VersionRecord& r) {
  if (r.deleted) return "deleted";
  switch (r.type) {
    case repo::FileType::kFile:
      return "file";
    case repo::FileType::kDir:
      return "dir";
    case repo::FileType::kSymlink:
      return "symlink";
    case repo::FileType::kHardlink:
      return "hardlink";
    case repo::FileType::kFifo:
      return "fifo";
    case repo::FileType::kSocket:
      return "socket";
    case repo::FileType::kCharDevice:
      return "chardev";
    case repo::FileType::kBlockDevice:
      return "blockdev";
  }
  return "?";
}

}  // namespace

FileVersion ToFileVersion(const repo::VersionRecord& r) {
  FileVersion v;
  v.path = r.path;
  v.device = r.device;
  v.type = TypeName(r);
  v.deleted = r.deleted;
  v.backup_time = r.WallTime();
  v.order_time = r.backup_time;
  v.id = repo::VersionIdHex(repo::VersionIdOf(r));
  if (!r.deleted) {
    v.size = r.size;
    v.mode = r.mode;
    v.uid = r.uid;
    v.gid = r.gid;
    v.mtime = r.mtime;
    if (r.type == repo::FileType::kFile) v.sha256 = r.content_sha256.Hex();
    v.link_target = r.link_target;
  }
  return v;
}

}  // namespace cairn::engine
