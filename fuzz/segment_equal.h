// Equality of two version segments, field by field, for the round-trip
// properties (the struct has no operator==: the format does not need one).
#pragma once

#include <cstdio>
#include <string>

#include "repo/version_segment.h"

namespace cairn::fuzz {

// What EncodeSegmentBody keeps of `s`: run statistics only in a final
// segment (design.md §8: "stats" is written with the final segment).
inline repo::VersionSegment AsEncoded(repo::VersionSegment s) {
  if (!s.final) {
    s.files_new = s.files_changed = s.files_unchanged = 0;
    s.bytes_read = s.bytes_stored = s.errors = 0;
  }
  return s;
}

// The first field in which `a` and `b` differ ("" when none), for the
// report of a failed round trip.
inline std::string SegmentDiff(const repo::VersionSegment& a, const repo::VersionSegment& b) {
  if (a.run_id != b.run_id) return "run_id";
  if (a.sequence != b.sequence) return "sequence";
  if (a.final != b.final) return "final";
  if (a.device != b.device) return "device";
  if (a.created != b.created) return "created";
  if (a.roots != b.roots) return "roots";
  if (a.supersedes != b.supersedes) return "supersedes";
  if (a.runs != b.runs) return "runs";
  if (a.forget != b.forget) return "forget";
  if (a.files_new != b.files_new || a.files_changed != b.files_changed ||
      a.files_unchanged != b.files_unchanged || a.bytes_read != b.bytes_read ||
      a.bytes_stored != b.bytes_stored || a.errors != b.errors)
    return "stats";
  if (a.records.size() != b.records.size()) return "records.size";
  for (size_t i = 0; i < a.records.size(); ++i) {
    const repo::VersionRecord& x = a.records[i];
    const repo::VersionRecord& y = b.records[i];
    const std::string at = "records[" + std::to_string(i) + "].";
    if (x.path != y.path) return at + "path";
    if (x.device != y.device) return at + "device";
    if (x.backup_time != y.backup_time) return at + "backup_time";
    if (x.wall_time != y.wall_time) return at + "wall_time";
    if (x.deleted != y.deleted) return at + "deleted";
    if (x.type != y.type) return at + "type";
    if (x.size != y.size || x.mode != y.mode || x.uid != y.uid || x.gid != y.gid)
      return at + "size/mode/uid/gid";
    if (x.user != y.user || x.group != y.group) return at + "user/group";
    if (x.mtime != y.mtime || x.ctime != y.ctime) return at + "mtime/ctime";
    if (x.inode != y.inode || x.dev != y.dev || x.rdev != y.rdev) return at + "inode/dev/rdev";
    if (x.sparse != y.sparse) return at + "sparse";
    if (x.link_target != y.link_target) return at + "link_target";
    if (x.content_sha256 != y.content_sha256) return at + "content_sha256";
    if (x.chunks != y.chunks) return at + "chunks";
    if (x.xattrs != y.xattrs) return at + "xattrs";
  }
  return "";
}

inline bool SameSegment(const repo::VersionSegment& a, const repo::VersionSegment& b) {
  const std::string diff = SegmentDiff(a, b);
  if (!diff.empty()) std::fprintf(stderr, "segments differ in %s\n", diff.c_str());
  return diff.empty();
}

}  // namespace cairn::fuzz
