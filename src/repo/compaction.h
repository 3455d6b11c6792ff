// Compaction (docs/design.md §14): merges the small packs, index objects and
// version segments that frequent small backups leave (a daemon writes one of
// each per batch) into few, so a repository stays fast to open, list and
// recover after months. It reads no file data but the small packs it merges
// (their blobs are copied sealed, after authenticating each), never drops a
// blob or a record, and deletes only what the new objects replace:
//
//   1. new packs (the small packs' blobs), then new index objects listing
//      them and every other pack the rewritten index objects listed, then
//      merged segments naming the segments they `supersede` (with the runs
//      whose records they carry, so the run history survives);
//   2. the repository generation is advanced (repo/generation.h);
//   3. the replaced segments, index objects and packs are deleted.
//
// A crash or a lost lock before 3 leaves duplicates readers already handle
// (a blob in two packs, a pack in two index objects, superseded segments
// beside the segment that supersedes them); the next compaction deletes the
// leftover superseded segments the caller names (its catalog knows them).
#pragma once

#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace cairn::repo {

class Repository;
class RepoLock;

struct CompactionOptions {
  // Objects below these sizes are merged. 0 = defaults: packs below a
  // quarter of the configured pack size, index objects below 256 KiB,
  // segments below 256 KiB.
  uint64_t small_pack_bytes = 0;
  uint64_t small_index_bytes = 0;
  uint64_t small_segment_bytes = 0;
  // A merged segment holds at most this many records (design.md §8).
  size_t max_records_per_segment = 20000;
  // Bounds one run's reading of small packs (the rest waits for the next
  // run), so the exclusive lock is held for a bounded time.
  uint64_t max_pack_bytes_per_run = 512ull << 20;
  // Segments the caller knows are superseded by a segment still present (a
  // compaction interrupted before it deleted them): deleted, never merged.
  std::vector<Id> superseded_segments;
  std::string device;  // recorded in the generation
  std::stop_token stop;
  std::function<void(const std::string& phase, uint64_t done, uint64_t total)> progress;
};

struct CompactionResult {
  uint64_t packs_before = 0, packs_merged = 0, packs_written = 0;
  uint64_t pack_bytes_read = 0, pack_bytes_written = 0;
  uint64_t index_before = 0, index_rewritten = 0, index_written = 0;
  uint64_t segments_before = 0, segments_merged = 0, segments_written = 0;
  uint64_t superseded_deleted = 0;  // leftovers of an earlier compaction
  uint64_t objects_deleted = 0;
  uint64_t generation = 0;            // after this run (unchanged when nothing was deleted)
  std::vector<std::string> warnings;  // objects left alone (unreadable), with why
  bool changed() const { return objects_deleted > 0; }
};

// Compacts `repo`. REQUIRES: `lock` is held, exclusive, on `repo`. Nothing is
// read beyond the listings when there is nothing to merge. Afterwards the
// repository's in-memory index is dropped (SyncGeneration) and reloaded by
// the next LoadIndex. Returns Cancelled (having deleted nothing) when `stop`
// fires or the lock is lost before the deletions start; a lost lock during
// them stops them (what remains is deleted by the next run).
Result<CompactionResult> Compact(Repository& repo, RepoLock& lock,
                                 const CompactionOptions& options);

}  // namespace cairn::repo
