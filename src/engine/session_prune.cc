// Session::Prune and Session::Cleanup (design.md §20): the live chunks come
// from the catalog, synced with the repository after the pruner listed its
// segments, so every record of those segments is counted; the pruner
// (repo/prune.h) does the rest in its two phases.
#include <chrono>
#include <unordered_set>

#include "catalog/catalog.h"
#include "engine/session.h"
#include "repo/prune.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"

namespace cairn::engine {
namespace {

PruneSummary ToSummary(const repo::PruneStats& s, bool dry_run) {
  PruneSummary o;
  o.dry_run = dry_run;
  o.packs = s.packs;
  o.pack_bytes = s.pack_bytes;
  o.blobs = s.blobs;
  o.blobs_live = s.blobs_live;
  o.bytes_live = s.bytes_live;
  o.bytes_unused = s.bytes_unused;
  o.referenced_missing = s.referenced_missing;
  o.packs_to_delete = s.packs_to_delete;
  o.bytes_to_delete = s.bytes_to_delete;
  o.packs_to_repack = s.packs_to_repack;
  o.bytes_to_repack = s.bytes_to_repack;
  o.unused_bytes_kept = s.unused_bytes_kept;
  o.packs_waiting_for_tier = s.packs_waiting_for_tier;
  o.bytes_waiting_for_tier = s.bytes_waiting_for_tier;
  o.orphan_packs = s.orphan_packs;
  o.orphan_bytes = s.orphan_bytes;
  o.young_orphans = s.young_orphans;
  o.bytes_to_free = s.BytesPlannedToFree();
  o.pack_bytes_read = s.pack_bytes_read;
  o.packs_written = s.packs_written;
  o.pack_bytes_written = s.pack_bytes_written;
  o.index_rewritten = s.index_rewritten;
  o.index_written = s.index_written;
  o.index_deleted = s.index_deleted;
  o.packs_rescued = s.packs_rescued;
  o.packs_deleted = s.packs_deleted;
  o.bytes_freed = s.bytes_freed;
  o.generation = s.generation;
  o.warnings = s.warnings;
  return o;
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Result<PruneSummary> Session::Prune(const PruneRequest& request, const JobContext& job) {
  if (!(request.max_unused >= 0 && request.max_unused <= 1))
    return Status::InvalidArgument("--max-unused must be between 0% and 100%");
  const auto started = std::chrono::steady_clock::now();
  auto turn = WriterTurn(job);
  if (!turn.ok())
    return Status::Cancelled("prune was cancelled while waiting for another job of this session");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());

  repo::PruneOptions po;
  po.max_unused = request.max_unused;
  po.max_repack_bytes = request.max_repack_bytes;
  po.ignore_tier_minimum = request.ignore_tier_minimum;
  po.device = cfg_.device;
  if (options_.clock) po.now = options_.clock();
  if (job.events) {
    po.progress = [&job](const std::string& phase, uint64_t done, uint64_t total) {
      Progress p;
      p.operation = "prune";
      p.phase = phase;
      p.units_done = done;
      p.units_total = total;
      job.events->OnProgress(p);
    };
  }

  // Phase 1: a shared lock, like a backup's.
  auto shared = Lock(false, "prune");
  if (!shared.ok()) return shared.error();
  po.stop = (*shared)->StopToken(job.stop);
  repo::Pruner pruner(*repo, po);
  CAIRN_RETURN_IF_ERROR(pruner.Snapshot(**shared));
  CAIRN_ASSIGN_OR_RETURN(catalog::Catalog * cat, SyncedCatalog(job));
  if (auto unreadable = UnreadableSegments(); !unreadable.empty())
    return Status::PreconditionFailed(
        std::to_string(unreadable.size()) + " version segment(s) cannot be read (" +
        unreadable.front().substr(0, 16) + (unreadable.size() > 1 ? ", ..." : "") +
        "), so prune cannot tell which chunks their versions need and deletes nothing; run "
        "`cairn check`");
  if (request.as_cleanup) {
    if (!request.dry_run)
      return Status::InvalidArgument("Prune: as_cleanup is for dry runs (run Cleanup)");
    std::unordered_set<Id, IdHash> live;
    const TimeNs now = options_.clock ? options_.clock() : NowNs();
    CAIRN_RETURN_IF_ERROR(KeptChunks(*cat, SettingsRetentionPolicy(), now, live, job));
    CAIRN_RETURN_IF_ERROR(pruner.Plan(std::move(live)));
  } else {
    std::unordered_set<Id, IdHash> live;
    uint64_t lists = 0;
    CAIRN_RETURN_IF_ERROR(cat->ForEachChunkList([&](const std::vector<Id>& chunks) {
      if (po.stop.stop_requested()) return Status::Cancelled("prune cancelled; nothing deleted");
      live.insert(chunks.begin(), chunks.end());
      if (job.events && ++lists % 100000 == 0) {
        Progress p;
        p.operation = "prune";
        p.phase = "finding the chunks in use";
        p.units_done = lists;
        job.events->OnProgress(p);
      }
      return Status::OK();
    }));
    CAIRN_RETURN_IF_ERROR(pruner.Plan(std::move(live)));
  }
  if (request.dry_run) {
    PruneSummary out = ToSummary(pruner.stats(), true);
    out.seconds = Since(started);
    for (const auto& w : out.warnings) Notice(job, w);
    return out;
  }
  CAIRN_RETURN_IF_ERROR(pruner.Rewrite());
  shared->reset();  // released: the exclusive lock waits for every shared one

  // Phase 2: the exclusive lock, for the deletions only.
  auto exclusive = Lock(true, "prune");
  if (!exclusive.ok())
    return exclusive.error().WithContext(
        "prune prepared everything but could not take the exclusive lock to delete (nothing "
        "was deleted; run it again)");
  const auto exclusive_from = std::chrono::steady_clock::now();
  Status finished = pruner.Finish(**exclusive);
  exclusive->reset();
  const double exclusive_seconds = Since(exclusive_from);
  {
    // The index in memory was dropped (it named deleted packs): reloaded
    // now, so the next backup does not pay for it.
    std::lock_guard index_lock(index_mu_);
    Status reloaded = repo->LoadIndex(false);
    if (finished.ok() && !reloaded.ok()) finished = reloaded;
  }
  CAIRN_RETURN_IF_ERROR(finished);
  PruneSummary out = ToSummary(pruner.stats(), false);
  out.seconds = Since(started);
  out.exclusive_seconds = exclusive_seconds;
  for (const auto& w : out.warnings) Notice(job, w);
  return out;
}

Result<Session::CleanupSummary> Session::Cleanup(const PruneRequest& request,
                                                 const JobContext& job) {
  CleanupSummary out;
  RetentionPolicy policy = SettingsRetentionPolicy();
  if (!policy.Empty()) {
    ForgetRequest fr;
    fr.policy = policy;
    fr.dry_run = request.dry_run;
    CAIRN_ASSIGN_OR_RETURN(out.forget, Forget(fr, job));
    out.forgot = true;
  }
  CAIRN_ASSIGN_OR_RETURN(out.prune, Prune(request, job));
  return out;
}

}  // namespace cairn::engine
