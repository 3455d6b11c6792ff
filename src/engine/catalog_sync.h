// Keeping the catalog (a local cache) in step with the repository.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "repo/repository.h"

namespace cairn::engine {

struct SyncStats {
  uint64_t segments_added = 0, records_added = 0;
  // Segments whose records were dropped: gone from the repository, or
  // superseded by a compacted segment.
  uint64_t segments_removed = 0;
  // Segments the repository lists that could not be read (damaged,
  // truncated): their versions are missing from the catalog, so answers may
  // be incomplete. Tried again by the next sync.
  std::vector<Id> unreadable;
};

// Ingests every version segment the catalog has not seen: its records, and
// its header into the run history (a segment superseded before it was
// ingested gives only its header). Segments the catalog holds that the
// repository no longer has (prune, compaction), and segments a new one
// supersedes, have their records dropped (incrementally: no rebuild).
// Unreadable segments are reported in `warnings` and in
// SyncStats::unreadable, and skipped (check names them).
Result<SyncStats> SyncCatalog(
    repo::Repository& repo, catalog::Catalog& catalog, std::vector<std::string>* warnings,
    const std::function<void(uint64_t done, uint64_t total)>& progress = {});

// Opens the catalog for `repo` in `cache_dir` (one file per repository id).
// A corrupt, foreign or unreadable catalog file is deleted and recreated
// (it is only a cache). With `rebuild`, it is always recreated.
Result<std::unique_ptr<catalog::Catalog>> OpenCatalog(repo::Repository& repo,
                                                      const std::string& cache_dir, bool rebuild);

std::string CatalogPath(const repo::Repository& repo, const std::string& cache_dir);

}  // namespace cairn::engine
