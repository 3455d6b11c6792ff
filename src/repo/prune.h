// Prune (docs/design.md §20): frees the space of chunks no version needs any
// more, in two phases so that backups of every device go on meanwhile.
//
// Phase 1, under a SHARED lock (beside backups):
//   Snapshot  lists packs, index objects and segments, reads every index
//             object (metadata only);
//   Plan      the caller gives the chunks the versions of the snapshot's
//             segments reference (the catalog, synced after Snapshot);
//             every pack is judged: nothing live -> delete; more unused than
//             max_unused -> repack (unless a tier minimum or the size cap
//             says wait); else keep;
//   Rewrite   repacks (reading only those packs, copying live blobs sealed,
//             repo/pack_copier.h) and writes new index objects replacing the
//             ones that list a doomed pack. Nothing is deleted.
// Phase 2, under the EXCLUSIVE lock (short: no data is read):
//   Finish    refuses if the generation moved since Snapshot (another prune
//             or compaction ran: nothing deleted); reads only the segments
//             and index objects written since Snapshot (backups that ran
//             during phase 1) and keeps every doomed pack holding a chunk
//             they reference that no surviving pack has; advances the
//             generation; deletes the replaced index objects, then the
//             doomed packs and old unindexed packs.
//
// Why no backup loses a chunk: a backup that held its shared lock during
// phase 1 finished before Finish got the exclusive lock, and its segments
// are among those Finish reads; a backup that starts after Finish sees the
// generation moved and reloads its index, which no longer lists a deleted
// pack. A crash anywhere leaves only duplicates (a blob in two packs, a pack
// in two index objects) or unindexed packs, which readers handle and the
// next prune removes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time_util.h"

namespace cairn::repo {

class Repository;
class RepoLock;

struct PruneOptions {
  // A pack is repacked when more than this share of its bytes is unused.
  double max_unused = 0.10;
  // The most bytes of packs one run reads to repack (0: no cap); the packs
  // with the most unused space go first.
  uint64_t max_repack_bytes = 0;
  // Packs in Azure's Cool, Cold or Archive tier are neither deleted nor
  // repacked before their minimum storage duration (30, 90, 180 days),
  // which would be billed anyway, unless this is set.
  bool ignore_tier_minimum = false;
  // Packs that no index object lists (an interrupted backup left them) are
  // deleted only when older than this: a running backup writes its packs
  // before the index object that lists them.
  std::chrono::seconds orphan_min_age = std::chrono::hours(1);
  TimeNs now = 0;      // 0: the clock
  std::string device;  // recorded in the generation
  std::stop_token stop;
  std::function<void(const std::string& phase, uint64_t done, uint64_t total)> progress;
};

struct PruneStats {
  // What the snapshot found (indexed packs; sealed blob bytes).
  uint64_t packs = 0, pack_bytes = 0, index_objects = 0, segments = 0;
  uint64_t blobs = 0, blobs_live = 0;
  uint64_t bytes_live = 0, bytes_unused = 0;
  uint64_t referenced_missing = 0;  // chunks versions reference that no pack holds
  // The plan.
  uint64_t packs_to_delete = 0, bytes_to_delete = 0;
  uint64_t packs_to_repack = 0, bytes_to_repack = 0, unused_in_repack = 0;
  uint64_t packs_partly_unused_kept = 0, unused_bytes_kept = 0;  // below max_unused or over the cap
  uint64_t packs_waiting_for_tier = 0, bytes_waiting_for_tier = 0;
  uint64_t orphan_packs = 0, orphan_bytes = 0;  // unindexed and old enough: deleted
  uint64_t young_orphans = 0;                   // unindexed, too young: left
  // Done.
  uint64_t pack_bytes_read = 0, packs_written = 0, pack_bytes_written = 0;
  uint64_t index_rewritten = 0, index_written = 0;
  uint64_t packs_rescued = 0;  // kept because a backup during phase 1 used them
  uint64_t packs_deleted = 0, index_deleted = 0, bytes_freed = 0;
  uint64_t generation = 0;
  std::vector<std::string> warnings;
  // What the plan frees: deleted packs, orphans, and repacked packs' size
  // minus their live bytes.
  uint64_t BytesPlannedToFree() const;
};

class Pruner {
 public:
  Pruner(Repository& repo, PruneOptions options);
  ~Pruner();

  // REQUIRES: `lock` held (shared is enough) until Rewrite returns. Reads
  // every index object: PreconditionFailed when one cannot be read (prune
  // cannot know which packs are in use; `cairn check` names it).
  Status Snapshot(RepoLock& lock);
  // `live`: every chunk id referenced by the versions that remain (not
  // forgotten) in the segments present at Snapshot — or more. Consumed.
  Status Plan(std::unordered_set<Id, IdHash> live);
  // Repacks and writes the replacement index objects; deletes nothing.
  Status Rewrite();
  // REQUIRES: `exclusive` is the exclusive lock, taken after Rewrite.
  // PreconditionFailed (nothing deleted) when another deleting operation ran
  // since Snapshot. Afterwards the repository's in-memory index is dropped
  // (SyncGeneration); the caller reloads it.
  Status Finish(RepoLock& exclusive);

  const PruneStats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace cairn::repo
