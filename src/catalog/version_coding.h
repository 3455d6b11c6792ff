// The catalog's compact encoding of a version's attributes: one BLOB per
// version (versions.rec), so a row carries no column per field and no
// repeated strings. What queries filter or order on (path, device, backup
// time, the deletion flag) and the interned owner names live in columns; the
// rest is here.
//
// Layout (varints are LEB128; "z" marks zigzag-coded signed values; time
// differences are taken modulo 2^64, so any int64 round-trips):
//   flags    varint: bits 0-3 type (0: the type follows as a varint), bit 4
//            sparse, 5 has sha256, 6 has wall time, 7 has link target,
//            8 has xattrs
//   [type]   varint, when bits 0-3 are 0
//   size, mode, uid, gid                  varints
//   [wall]   z(wall_time - backup_time), when bit 6
//   mtime    z(backup_time - mtime)       small for recently changed files
//   ctime    z(ctime - mtime)             often 0
//   inode, dev, rdev                      varints
//   [link]   varint length, bytes, when bit 7
//   [xattrs] varint count, then per entry varint length, name, varint
//            length, value, when bit 8
//   [sha256] 32 bytes, when bit 5
//   chunks   the rest: 32 bytes per chunk id, in order
// A tombstone or a folder costs about 15 bytes; a small file about 100 (64
// of them its hash and chunk id).
//
// Internal to src/catalog: the encoding changes with kSchemaVersion.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "repo/version_record.h"

namespace cairn::catalog {

// Encodes every field of `r` except path, device, backup_time, deleted, user
// and group (the row's columns) into `out` (replacing its contents).
void EncodeVersion(const repo::VersionRecord& r, std::string* out);

// Decodes `rec` into the fields EncodeVersion wrote. REQUIRES:
// out->backup_time is already set (times are stored relative to it).
// Corruption if `rec` is malformed.
Status DecodeVersion(std::string_view rec, repo::VersionRecord* out);

// What listings need before deciding to decode the whole record: its
// wall-clock time (repo::VersionRecord::WallTime(): backup_time when none was
// recorded), type and size. Corruption if `rec` is malformed.
struct VersionPeek {
  TimeNs wall = 0;
  repo::FileType type = repo::FileType::kFile;
  uint64_t size = 0;
};
Result<VersionPeek> PeekVersion(std::string_view rec, TimeNs backup_time);

}  // namespace cairn::catalog
