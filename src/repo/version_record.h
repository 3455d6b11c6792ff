// A version: one backed-up state of one path on one device, or a tombstone
// saying the path was deleted. Versions are written to the repository in
// version segments (see version_segment.h and docs/design.md).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/time_util.h"

namespace cairn::repo {

// Stored in the repository: the values never change.
enum class FileType : uint8_t {
  kFile = 1,
  kDir = 2,
  kSymlink = 3,
  kHardlink = 4,  // link_target names the path (same device, same backup) holding the content
  kFifo = 5,
  kSocket = 6,
  kCharDevice = 7,
  kBlockDevice = 8,
};

struct Xattr {
  std::string name;
  Bytes value;
  bool operator==(const Xattr&) const = default;
};

struct VersionRecord {
  // Absolute path as raw bytes (any bytes but NUL; not necessarily UTF-8).
  std::string path;
  std::string device;      // DEVICE_ID of the machine that backed it up
  TimeNs backup_time = 0;  // ordering time: hybrid logical clock, see design.md
  // The recording device's own clock when the version was made (ns since the
  // epoch): what a person lived, used for display, `--at` and retention
  // (design.md §10). 0 = not recorded (segments written before it existed):
  // use WallTime().
  TimeNs wall_time = 0;
  bool deleted = false;  // a tombstone: the path no longer exists
  FileType type = FileType::kFile;

  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  std::string user, group;  // names, when known
  TimeNs mtime = 0, ctime = 0;
  uint64_t inode = 0, dev = 0, rdev = 0;
  bool sparse = false;      // had holes; restored with holes for zero runs
  std::string link_target;  // symlink target, or the hardlink's first path
  Id content_sha256;        // SHA-256 of the whole content (regular files)
  std::vector<Id> chunks;   // keyed chunk IDs, in order
  std::vector<Xattr> xattrs;

  bool operator==(const VersionRecord&) const = default;

  // The wall-clock time to show and to select by: wall_time, or backup_time
  // for records that have none.
  TimeNs WallTime() const { return wall_time != 0 ? wall_time : backup_time; }
};

}  // namespace cairn::repo
