#include "repo/compaction.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "crypto/crypto.h"
#include "repo/generation.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/pack_copier.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "repo/version_segment.h"

namespace cairn::repo {

using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;

namespace {

struct Listed {
  Id id;
  uint64_t size = 0;
};

Result<std::vector<Listed>> ListObjects(Repository& repo, ObjectType type) {
  std::vector<Listed> out;
  CAIRN_RETURN_IF_ERROR(repo.backend().List(type, [&](const ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (id.ok()) out.push_back({*id, info.size});
    return Status::OK();
  }));
  return out;
}

Status Stopped(const CompactionOptions& o, RepoLock& lock) {
  if (o.stop.stop_requested()) return Status::Cancelled("compaction cancelled");
  Status held = lock.health();
  if (!held.ok()) return held.WithContext("compaction stopped before deleting anything");
  return Status::OK();
}

// Adds what `seg` says about runs to `runs` (keyed by run id): a compacted
// segment carries its runs; an original segment is one piece of its run.
void CollectRuns(const VersionSegment& seg, std::map<Id, RunInfo>& runs) {
  auto merge = [&](const RunInfo& r) {
    auto [it, inserted] = runs.try_emplace(r.run_id, r);
    if (inserted) return;
    RunInfo& m = it->second;
    TimeNs start = std::min(m.start, r.start), end = std::max(m.end, r.end);
    if (r.complete && !m.complete) m = r;  // the statistics are the final segment's
    m.start = start;
    m.end = end;
  };
  if (!seg.runs.empty()) {
    for (const RunInfo& r : seg.runs) merge(r);
    return;
  }
  if (seg.run_id.IsZero()) return;  // no run (a forget segment)
  RunInfo r;
  r.run_id = seg.run_id;
  r.device = seg.device;
  r.start = r.end = seg.created;
  r.complete = seg.final;
  if (seg.final) {
    r.files_new = seg.files_new;
    r.files_changed = seg.files_changed;
    r.files_unchanged = seg.files_unchanged;
    r.bytes_read = seg.bytes_read;
    r.bytes_stored = seg.bytes_stored;
    r.errors = seg.errors;
  }
  merge(r);
}

class Compactor {
 public:
  Compactor(Repository& repo, RepoLock& lock, const CompactionOptions& o)
      : repo_(repo), lock_(lock), o_(o) {
    uint64_t pack_size = repo.config().pack_size;
    small_pack_ = o.small_pack_bytes ? o.small_pack_bytes : std::max<uint64_t>(pack_size / 4, 1);
    small_index_ = o.small_index_bytes ? o.small_index_bytes : 256u << 10;
    small_segment_ = o.small_segment_bytes ? o.small_segment_bytes : 256u << 10;
  }

  Result<CompactionResult> Run() {
    CAIRN_ASSIGN_OR_RETURN(packs_, ListObjects(repo_, ObjectType::kPack));
    CAIRN_ASSIGN_OR_RETURN(index_objects_, ListObjects(repo_, ObjectType::kIndex));
    CAIRN_ASSIGN_OR_RETURN(segments_, ListObjects(repo_, ObjectType::kVersions));
    res_.packs_before = packs_.size();
    res_.index_before = index_objects_.size();
    res_.segments_before = segments_.size();

    CAIRN_RETURN_IF_ERROR(PlanAndWriteData());
    CAIRN_RETURN_IF_ERROR(PlanAndWriteSegments());
    if (to_delete_.empty()) return res_;

    // Everything the deletions replace is written; from here on, deleting
    // operations ran as far as any writer is concerned.
    CAIRN_RETURN_IF_ERROR(Stopped(o_, lock_));
    CAIRN_ASSIGN_OR_RETURN(GenerationState gen, AdvanceGeneration(repo_, o_.device, "compaction"));
    res_.generation = gen.generation.number;
    uint64_t done = 0;
    for (const ObjectName& name : to_delete_) {
      Status held = lock_.health();
      if (!held.ok()) return held.WithContext("compaction stopped while deleting");
      Status st = repo_.backend().Remove(name);
      if (!st.ok() && !st.IsNotFound()) return st.WithContext("deleting " + name.Path());
      ++res_.objects_deleted;
      if (o_.progress) o_.progress("deleting replaced objects", ++done, to_delete_.size());
    }
    repo_.SyncGeneration(gen.etag);  // the index in memory names deleted packs
    return res_;
  }

 private:
  // Packs and index objects.
  Status PlanAndWriteData() {
    std::vector<Listed> small_packs;
    for (const Listed& p : packs_)
      if (p.size < small_pack_) small_packs.push_back(p);
    size_t small_index = 0;
    for (const Listed& i : index_objects_)
      if (i.size < small_index_) ++small_index;
    if (small_packs.size() < 2 && small_index < 2) return Status::OK();

    // The whole index, per object: which packs each lists, with entries.
    std::map<Id, std::vector<IndexedPack>> listing;
    std::unordered_map<Id, std::vector<Id>, IdHash> listed_by;  // pack -> index objects
    bool index_complete = true;
    uint64_t n = 0;
    for (const Listed& i : index_objects_) {
      if (o_.stop.stop_requested()) return Status::Cancelled("compaction cancelled");
      auto body = repo_.LoadSealed(ObjectType::kIndex, "index", i.id);
      Result<std::vector<IndexedPack>> packs =
          body.ok() ? DecodeIndexBody(*body) : Result<std::vector<IndexedPack>>(body.error());
      if (!packs.ok()) {
        if (packs.error().retryable() || packs.error().code() == StatusCode::kUnavailable)
          return packs.error();
        // Without it we cannot know which packs it lists: merge no pack,
        // rewrite no index object, this time.
        res_.warnings.push_back("index " + i.id.Hex() + " left alone: " + packs.error().message());
        index_complete = false;
        continue;
      }
      for (const IndexedPack& p : *packs) listed_by[p.pack_id].push_back(i.id);
      listing[i.id] = std::move(*packs);
      if (o_.progress) o_.progress("reading the index", ++n, index_objects_.size());
    }
    if (!index_complete) return Status::OK();

    // Merge the small packs that an index object lists, up to the budget.
    std::unordered_set<Id, IdHash> merged;  // packs whose blobs are copied
    std::vector<IndexedPack> new_packs;
    if (small_packs.size() >= 2) {
      CAIRN_RETURN_IF_ERROR(MergePacks(small_packs, listed_by, merged, new_packs));
    }

    // Rewrite the small index objects and every one listing a merged pack.
    std::set<Id> rewrite;
    for (const Listed& i : index_objects_) {
      if (i.size < small_index_) rewrite.insert(i.id);
    }
    for (const Id& p : merged)
      for (const Id& i : listed_by[p]) rewrite.insert(i);
    if (rewrite.size() < 2 && merged.empty()) return Status::OK();

    std::vector<IndexedPack> keep;
    std::unordered_set<Id, IdHash> kept;
    for (const Id& i : rewrite)
      for (IndexedPack& p : listing[i])
        if (!merged.count(p.pack_id) && kept.insert(p.pack_id).second) keep.push_back(p);
    for (IndexedPack& p : new_packs) keep.push_back(std::move(p));
    CAIRN_ASSIGN_OR_RETURN(std::vector<Id> written, SaveIndexObjects(repo_, std::move(keep)));
    res_.index_written += written.size();
    res_.index_rewritten = rewrite.size();
    for (const Id& i : rewrite) to_delete_.push_back(ObjectName{ObjectType::kIndex, i.Hex()});
    for (const Id& p : merged) to_delete_.push_back(ObjectName{ObjectType::kPack, p.Hex()});
    res_.packs_merged = merged.size();
    return Status::OK();
  }

  Status MergePacks(const std::vector<Listed>& small_packs,
                    const std::unordered_map<Id, std::vector<Id>, IdHash>& listed_by,
                    std::unordered_set<Id, IdHash>& merged, std::vector<IndexedPack>& new_packs) {
    // A blob already in a pack that stays needs no copy.
    std::unordered_set<Id, IdHash> candidates;
    uint64_t budget = 0;
    for (const Listed& p : small_packs) {
      if (!listed_by.count(p.id)) continue;  // unindexed: a backup adopts it
      if (budget + p.size > o_.max_pack_bytes_per_run && !candidates.empty()) break;
      budget += p.size;
      candidates.insert(p.id);
    }
    if (candidates.size() < 2) return Status::OK();

    PackCopier copier(repo_);
    std::unordered_set<Id, IdHash> copied;
    uint64_t n = 0;
    for (const Listed& p : small_packs) {
      if (!candidates.count(p.id)) continue;
      if (o_.stop.stop_requested()) return Status::Cancelled("compaction cancelled");
      if (o_.progress) o_.progress("merging small packs", ++n, candidates.size());
      // Every blob must authenticate before its pack may go: a damaged pack
      // stays where `check` reports it.
      auto pack = LoadVerifiedPack(repo_, p.id);
      if (!pack.ok()) {
        if (pack.error().retryable() || pack.error().code() == StatusCode::kUnavailable)
          return pack.error();
        res_.warnings.push_back(pack.error().message() + "; left alone");
        continue;
      }
      res_.pack_bytes_read += pack->data.size();
      for (const PackEntry& e : pack->entries) {
        if (!copied.insert(e.id).second) continue;
        std::optional<BlobLocation> loc = repo_.index().Find(e.id);
        if (loc) {
          Id home = repo_.index().PackId(loc->pack);
          // Kept elsewhere: in a pack that an index object lists and that stays.
          if (!candidates.count(home) && listed_by.count(home)) continue;
        }
        CAIRN_RETURN_IF_ERROR(copier.Add(e, ByteView(pack->data.data() + e.offset, e.length)));
      }
      merged.insert(p.id);
    }
    CAIRN_RETURN_IF_ERROR(copier.Finish());
    res_.pack_bytes_written += copier.bytes_written();
    res_.packs_written += copier.new_packs().size();
    for (const IndexedPack& np : copier.new_packs()) new_packs.push_back(np);
    return Status::OK();
  }

  Status PlanAndWriteSegments() {
    std::unordered_set<Id, IdHash> known_superseded(o_.superseded_segments.begin(),
                                                    o_.superseded_segments.end());
    std::unordered_set<Id, IdHash> present;
    for (const Listed& s : segments_) present.insert(s.id);
    for (const Id& s : o_.superseded_segments)
      if (present.count(s)) {
        to_delete_.push_back(ObjectName{ObjectType::kVersions, s.Hex()});
        ++res_.superseded_deleted;
      }
    std::vector<Id> small;
    for (const Listed& s : segments_)
      if (s.size < small_segment_ && !known_superseded.count(s.id)) small.push_back(s.id);
    if (small.size() < 2) return Status::OK();

    struct Loaded {
      Id id;
      VersionSegment seg;
    };
    std::vector<Loaded> loaded;
    uint64_t n = 0;
    for (const Id& id : small) {
      if (o_.stop.stop_requested()) return Status::Cancelled("compaction cancelled");
      auto seg = repo_.LoadSegment(id);
      if (!seg.ok()) {
        if (seg.error().retryable() || seg.error().code() == StatusCode::kUnavailable)
          return seg.error();
        res_.warnings.push_back("segment " + id.Hex() + " left alone: " + seg.error().message());
        continue;
      }
      loaded.push_back({id, std::move(*seg)});
      if (o_.progress) o_.progress("reading small segments", ++n, small.size());
    }
    // Leftovers of an interrupted compaction among them: superseded by a
    // loaded segment, so they are deleted, not merged twice.
    std::unordered_set<Id, IdHash> superseded;
    for (const Loaded& l : loaded)
      for (const Id& s : l.seg.supersedes) superseded.insert(s);
    std::vector<Loaded*> sources;
    for (Loaded& l : loaded) {
      if (superseded.count(l.id)) {
        to_delete_.push_back(ObjectName{ObjectType::kVersions, l.id.Hex()});
        ++res_.superseded_deleted;
      } else {
        sources.push_back(&l);
      }
    }
    if (sources.size() < 2) return Status::OK();
    // The order of writing (catalog ingestion order breaks ties, §8).
    std::stable_sort(sources.begin(), sources.end(), [](const Loaded* a, const Loaded* b) {
      if (a->seg.created != b->seg.created) return a->seg.created < b->seg.created;
      return a->seg.sequence < b->seg.sequence;
    });

    // Versions forgotten by any loaded source: their records are not copied
    // (readers treat them as gone anyway), and every merged segment carries
    // the ids of its sources on (another, unloaded segment may still hold
    // such a record).
    std::set<VersionId> forgotten;
    for (Loaded* l : sources) forgotten.insert(l->seg.forget.begin(), l->seg.forget.end());
    VersionSegment out;
    std::map<Id, RunInfo> runs;
    std::set<VersionId> out_forget;
    std::vector<Id> merged;  // the sources of `out` (its supersedes adds theirs)
    auto flush = [&]() -> Status {
      if (merged.empty()) return Status::OK();
      out.run_id = crypto::RandomId();
      for (auto& [id, r] : runs) out.runs.push_back(r);
      out.forget.assign(out_forget.begin(), out_forget.end());
      CAIRN_RETURN_IF_ERROR(repo_.SaveSegment(out).status());
      ++res_.segments_written;
      for (const Id& s : merged) to_delete_.push_back(ObjectName{ObjectType::kVersions, s.Hex()});
      res_.segments_merged += merged.size();
      out = VersionSegment();
      runs.clear();
      out_forget.clear();
      merged.clear();
      return Status::OK();
    };
    for (Loaded* l : sources) {
      if (!merged.empty() &&
          out.records.size() + l->seg.records.size() > o_.max_records_per_segment)
        CAIRN_RETURN_IF_ERROR(flush());
      if (merged.empty()) out.device = l->seg.device;
      out.created = std::max(out.created, l->seg.created);
      merged.push_back(l->id);
      out.supersedes.push_back(l->id);
      // A compacted source whose superseded segments are still there (not
      // small enough to be loaded here): they stay superseded, so a catalog
      // that never saw the source never ingests them. Only present ones are
      // named, so the list does not grow with history.
      for (const Id& s : l->seg.supersedes)
        if (present.count(s) && !known_superseded.count(s)) out.supersedes.push_back(s);
      for (VersionRecord& r : l->seg.records)
        if (forgotten.empty() || !forgotten.count(VersionIdOf(r)))
          out.records.push_back(std::move(r));
      out_forget.insert(l->seg.forget.begin(), l->seg.forget.end());
      CollectRuns(l->seg, runs);
    }
    return flush();
  }

  Repository& repo_;
  RepoLock& lock_;
  const CompactionOptions& o_;
  uint64_t small_pack_ = 0, small_index_ = 0, small_segment_ = 0;
  std::vector<Listed> packs_, index_objects_, segments_;
  std::vector<ObjectName> to_delete_;
  CompactionResult res_;
};

}  // namespace

Result<CompactionResult> Compact(Repository& repo, RepoLock& lock,
                                 const CompactionOptions& options) {
  CAIRN_RETURN_IF_ERROR(Stopped(options, lock));
  return Compactor(repo, lock, options).Run();
}

}  // namespace cairn::repo
