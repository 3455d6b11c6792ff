#include "engine/catalog_sync.h"

#include <set>
#include <unordered_set>

namespace cairn::engine {

std::string CatalogPath(const repo::Repository& repo, const std::string& cache_dir) {
  return cache_dir + "/catalog-" + repo.config().repo_id.Hex().substr(0, 16) + ".db";
}

Result<std::unique_ptr<catalog::Catalog>> OpenCatalog(repo::Repository& repo,
                                                      const std::string& cache_dir, bool rebuild) {
  std::string path = CatalogPath(repo, cache_dir);
  if (rebuild) CAIRN_RETURN_IF_ERROR(catalog::Catalog::Remove(path));
  auto cat = catalog::Catalog::Open(path);
  if (!cat.ok() && cat.error().code() == StatusCode::kCorruption) {
    CAIRN_RETURN_IF_ERROR(catalog::Catalog::Remove(path));
    cat = catalog::Catalog::Open(path);
  }
  if (!cat.ok()) return cat.error().WithContext("opening the catalog " + path);
  auto owner = (*cat)->GetMeta("repo_id");
  std::string id = repo.config().repo_id.Hex();
  if (!owner.ok() || (owner->has_value() && **owner != id)) {
    cat = Result<std::unique_ptr<catalog::Catalog>>(Status::OK());
    CAIRN_RETURN_IF_ERROR(catalog::Catalog::Remove(path));
    cat = catalog::Catalog::Open(path);
    if (!cat.ok()) return cat.error();
  }
  CAIRN_RETURN_IF_ERROR((*cat)->SetMeta("repo_id", id));
  return cat;
}

Result<SyncStats> SyncCatalog(repo::Repository& repo, catalog::Catalog& catalog,
                              std::vector<std::string>* warnings,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  SyncStats stats;
  std::vector<Id> in_repo;
  CAIRN_RETURN_IF_ERROR(repo.ListSegments([&](const Id& id) {
    in_repo.push_back(id);
    return Status::OK();
  }));
  CAIRN_ASSIGN_OR_RETURN(std::vector<Id> known_list, catalog.Segments());
  std::unordered_set<Id, IdHash> known(known_list.begin(), known_list.end());
  std::unordered_set<Id, IdHash> present(in_repo.begin(), in_repo.end());
  // Segments removed from the repository (prune, compaction): forget just
  // their records, at the cost of those records, not a rebuild.
  std::vector<Id> gone;
  for (const Id& k : known)
    if (!present.count(k)) gone.push_back(k);
  if (!gone.empty()) {
    CAIRN_RETURN_IF_ERROR(catalog.RemoveSegments(gone));
    for (const Id& g : gone) known.erase(g);
    stats.segments_removed += gone.size();
  }
  // Segments known to be superseded (a compaction that has not deleted
  // them yet, or was interrupted) are never ingested; the ones gone from
  // the repository are forgotten, so the set stays small.
  CAIRN_ASSIGN_OR_RETURN(std::vector<Id> superseded_list, catalog.Superseded());
  std::unordered_set<Id, IdHash> known_superseded;
  std::vector<Id> superseded_gone;
  for (const Id& s : superseded_list) {
    if (present.count(s))
      known_superseded.insert(s);
    else
      superseded_gone.push_back(s);
  }
  CAIRN_RETURN_IF_ERROR(catalog.ForgetSuperseded(superseded_gone));
  std::vector<Id> todo;
  for (const Id& id : in_repo)
    if (!known.count(id) && !known_superseded.count(id)) todo.push_back(id);
  if (todo.empty()) return stats;

  // Load them all, then ingest in creation order (ties resolved by run and
  // sequence) so that "ingestion order" matches the order of writing.
  std::vector<repo::VersionSegment> segs;
  std::vector<Id> seg_ids;
  std::set<Id> superseded;
  uint64_t done = 0;
  for (const Id& id : todo) {
    auto seg = repo.LoadSegment(id);
    if (!seg.ok()) {
      const Status& e = seg.error();
      // Storage unreachable is not the segment's fault: the answer would be
      // incomplete for no reason the person can act on here.
      if (e.retryable() || e.code() == StatusCode::kUnavailable) return e;
      if (e.code() == StatusCode::kNotFound) continue;  // removed meanwhile
      if (warnings) warnings->push_back(e.message());
      stats.unreadable.push_back(id);
      continue;
    }
    for (const Id& s : seg->supersedes) superseded.insert(s);
    segs.push_back(std::move(*seg));
    seg_ids.push_back(id);
    if (progress) progress(++done, todo.size());
  }
  std::vector<size_t> order(segs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (segs[a].created != segs[b].created) return segs[a].created < segs[b].created;
    return segs[a].sequence < segs[b].sequence;
  });
  CAIRN_RETURN_IF_ERROR(catalog.Begin());
  if (Status st = catalog.MarkSuperseded(std::vector<Id>(superseded.begin(), superseded.end()));
      !st.ok()) {
    (void)catalog.Rollback();
    return st;
  }
  // A new segment that supersedes segments ingested earlier (a compaction
  // another device ran) replaces them: their records go in the same
  // transaction that adds its own, so no reader sees them twice or never.
  std::vector<Id> replaced;
  for (const Id& s : superseded)
    if (known.count(s)) replaced.push_back(s);
  if (!replaced.empty()) {
    Status st = catalog.RemoveSegments(replaced);
    if (!st.ok()) {
      (void)catalog.Rollback();
      return st;
    }
    stats.segments_removed += replaced.size();
  }
  for (size_t i : order) {
    if (superseded.count(seg_ids[i])) {
      // Replaced before this catalog ingested it: only its run's history.
      Status st = catalog.AddRunHistory(catalog::SegmentInfo::Of(segs[i]));
      if (!st.ok()) {
        (void)catalog.Rollback();
        return st;
      }
      continue;
    }
    Status st = catalog.AddSegment(seg_ids[i], catalog::SegmentInfo::Of(segs[i]), segs[i].records);
    if (!st.ok()) {
      (void)catalog.Rollback();
      return st;
    }
    ++stats.segments_added;
    stats.records_added += segs[i].records.size();
  }
  CAIRN_RETURN_IF_ERROR(catalog.Commit());
  return stats;
}

}  // namespace cairn::engine
