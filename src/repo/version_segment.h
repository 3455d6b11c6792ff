// Version segments: the objects versions/<id> that carry version records.
// A backup run writes one or more segments (a checkpoint every few seconds or
// megabytes, and a last one marked final). The body is CBOR (RFC 8949), see
// docs/design.md "Version segments" for the exact keys.
#pragma once

#include <string>
#include <vector>

#include "base/bytes.h"
#include "repo/version_id.h"
#include "repo/version_record.h"

namespace cairn::repo {

// What a compacted segment keeps of each backup run whose segments it
// merged (design.md §8, key `runs`), so the run history survives compaction.
struct RunInfo {
  Id run_id;
  std::string device;
  TimeNs start = 0, end = 0;  // `created` of its first and last segment
  bool complete = false;      // its final segment was among them
  uint64_t files_new = 0, files_changed = 0, files_unchanged = 0, bytes_read = 0, bytes_stored = 0,
           errors = 0;
  bool operator==(const RunInfo&) const = default;
};

struct VersionSegment {
  Id run_id;              // the backup run that wrote it
  uint32_t sequence = 0;  // 0, 1, 2... within the run
  bool final = false;     // the run finished (its last segment)
  std::string device;
  TimeNs created = 0;
  std::vector<std::string> roots;  // paths the run was asked to back up
  std::vector<Id> supersedes;      // segments this one replaces (compaction)
  std::vector<VersionRecord> records;
  std::vector<RunInfo> runs;  // compacted segments: the runs whose records it carries
  // Versions forgotten by retention (`cairn forget`, design.md §19): readers
  // treat every record with one of these ids as gone, wherever it is. A
  // forget segment has no run (run_id all zero) and no records; a compacted
  // segment carries the ids of the segments it merged. Format version 3.
  std::vector<VersionId> forget;
  // Run statistics (present in the final segment).
  uint64_t files_new = 0, files_changed = 0, files_unchanged = 0, bytes_read = 0, bytes_stored = 0,
           errors = 0;
};

Bytes EncodeSegmentBody(const VersionSegment& s);
Result<VersionSegment> DecodeSegmentBody(ByteView body);

}  // namespace cairn::repo
