// The catalog's compact encoding of a version's attributes: one BLOB per
// version (versions.rec), so a row carries no column per field and no
// repeated strings. What queries filter or order on (path, device, backup
// time, the deletion flag) lives in columns; the rest is here.
//
// Layout (varints are LEB128; "z" marks zigzag-coded signed values; time
// differences are taken modulo 2^64, so any int64 round-trips):
//   flags    varint: bits 0-2 type (0: the type follows as a varint), 3 has
//            sha256, 4 has wall time, 5 mtime in whole seconds, 6 ctime
//            relative to backup_time, 7 sparse, 8 has link target, 9 has
//            xattrs. The usual file or folder needs only bits 0-6: one byte.
//   [type]   varint, when bits 0-2 are 0
//   size, mode                            varints
//   attrs    varint: the interned (uid, gid, user, group, dev), which many
//            versions share (0: all zero or empty)
//   [wall]   z(wall_time - backup_time), when bit 4 (usually 0: one byte)
//   mtime    z(mtime / 10^9) when bit 5 (5 bytes), else z(backup_time -
//            mtime) (short for recent changes)
//   ctime    z(backup_time - ctime) when bit 6, else z(ctime - mtime):
//            whichever is shorter
//   inode, rdev                           varints
//   [link]   varint length, bytes, when bit 8
//   [xattrs] varint count, then per entry varint length, name, varint
//            length, value, when bit 9
//   [sha256] 32 bytes, when bit 3
//   chunks   the rest: 32 bytes per chunk id, in order
// A tombstone costs 7 bytes, a folder about 20, a small file about 90 (64 of
// them its hash and chunk id).
//
// Internal to src/catalog: the encoding changes with kSchemaVersion.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "repo/version_record.h"

namespace cairn::catalog {

// Encodes every field of `r` except path, device, backup_time and deleted
// (the row's columns) into `out` (replacing its contents); uid, gid, user,
// group and dev as `attrs`, their interned id.
void EncodeVersion(const repo::VersionRecord& r, int64_t attrs, std::string* out);

// Decodes `rec` into the fields EncodeVersion wrote but uid, gid, user, group
// and dev: their interned id goes to `attrs`. REQUIRES: out->backup_time is
// already set (times are stored relative to it). Corruption if `rec` is
// malformed.
Status DecodeVersion(std::string_view rec, repo::VersionRecord* out, int64_t* attrs);

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
