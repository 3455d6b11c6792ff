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
  bool rebuilt = false;
  // Segments the repository lists that could not be read (damaged,
  // truncated): their versions are missing from the catalog, so answers may
  // be incomplete. Tried again by the next sync.
  std::vector<Id> unreadable;
};

// Ingests every version segment the catalog has not seen. If the catalog
// holds segments the repository no longer has (compaction, prune, another
// repository), it is cleared and rebuilt. Unreadable segments are reported in
// `warnings` and in SyncStats::unreadable, and skipped (check names them).
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
