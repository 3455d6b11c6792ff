// Session::Forget: retention (design.md §19). The policy is judged per
// (path, device) by engine::ApplyRetention; what it drops is written as
// forget segments (format version 3), never deleted: `cairn prune` frees the
// space later.
#include <algorithm>

#include "catalog/catalog.h"
#include "engine/session.h"
#include "repo/repo_config.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "repo/version_id.h"
#include "repo/version_segment.h"

namespace cairn::engine {
namespace {

// The most ids one forget segment names (12 bytes each, ~13 in CBOR): a
// segment stays small, as backup segments do.
constexpr size_t kIdsPerSegment = 100'000;

// What makes two consecutive versions "the same content" for retention.
std::string ContentKey(const repo::VersionRecord& r) {
  if (r.deleted) return "";
  switch (r.type) {
    case repo::FileType::kFile:
      return "f" + std::string(reinterpret_cast<const char*>(r.content_sha256.bytes.data()),
                               r.content_sha256.bytes.size());
    case repo::FileType::kSymlink:
      return "l" + r.link_target;
    default:
      return "";  // folders and others: each version its own run
  }
}

void Count(std::map<std::string, uint64_t>& counts, uint32_t reasons) {
  for (uint32_t bit = 1; bit != 0 && bit <= reasons; bit <<= 1)
    if (reasons & bit) ++counts[KeepReasonNames(bit)];
}

}  // namespace

RetentionPolicy Session::SettingsRetentionPolicy() const {
  const config::Settings& s = cfg_.settings;
  RetentionPolicy p;
  p.keep_last = s.keep_last;
  p.keep_hourly = s.keep_hourly;
  p.keep_daily = s.keep_daily;
  p.keep_weekly = s.keep_weekly;
  p.keep_monthly = s.keep_monthly;
  p.keep_yearly = s.keep_yearly;
  p.keep_within = s.keep_within;
  p.max_versions = s.max_versions_per_file;
  p.retention_days = s.retention_days;
  return p;
}

Status Session::KeptChunks(catalog::Catalog& cat, const RetentionPolicy& policy, TimeNs now,
                           std::unordered_set<Id, IdHash>& live, const JobContext& job) {
  std::vector<RetentionInput> inputs;
  const std::string& judged = cfg_.query_device;
  // Paths are not needed: only chunks.
  return cat.ForEachHistoryLazyPath(
      "",
      [&](std::vector<repo::VersionRecord>&& history, const catalog::Catalog::PathFn&) -> Status {
        if (job.stop.stop_requested()) return Status::Cancelled("cancelled");
        const bool judge =
            !policy.Empty() && !history.empty() && (judged.empty() || history[0].device == judged);
        std::vector<RetentionDecision> decisions;
        if (judge) {
          inputs.clear();
          for (const repo::VersionRecord& r : history)
            inputs.push_back({r.WallTime(), r.deleted, ContentKey(r)});
          decisions = ApplyRetention(policy, inputs, now);
        }
        for (size_t i = 0; i < history.size(); ++i)
          if (!judge || decisions[i].keep)
            live.insert(history[i].chunks.begin(), history[i].chunks.end());
        return Status::OK();
      });
}

Result<ForgetSummary> Session::Forget(const ForgetRequest& request, const JobContext& job) {
  auto turn = WriterTurn(job);
  if (!turn.ok())
    return Status::Cancelled("forget was cancelled while waiting for another job of this session");
  CAIRN_ASSIGN_OR_RETURN(repo::Repository * repo, Repo());
  // A shared lock, as a backup: forgetting adds segments and deletes
  // nothing, so it runs beside backups of every device.
  CAIRN_ASSIGN_OR_RETURN(auto lock, Lock(false, "forget"));
  CAIRN_ASSIGN_OR_RETURN(catalog::Catalog * cat, SyncedCatalog(job));

  ForgetSummary out;
  out.dry_run = request.dry_run;
  const TimeNs now = options_.clock ? options_.clock() : NowNs();
  std::vector<repo::VersionId> drop;
  std::vector<RetentionInput> inputs;
  // A path is looked up only for a history that loses a version or is
  // listed (version ids are made from it): most keep everything.
  Status walked = cat->ForEachHistoryLazyPath(
      cfg_.query_device,
      [&](std::vector<repo::VersionRecord>&& history,
          const catalog::Catalog::PathFn& path) -> Status {
        if (job.stop.stop_requested())
          return Status::Cancelled("forget cancelled; nothing written");
        inputs.clear();
        for (const repo::VersionRecord& r : history)
          inputs.push_back({r.WallTime(), r.deleted, ContentKey(r)});
        const std::vector<RetentionDecision> decisions =
            ApplyRetention(request.policy, inputs, now);
        bool needs_path = static_cast<bool>(request.on_version);
        for (const RetentionDecision& d : decisions) needs_path |= !d.keep;
        if (needs_path) {
          CAIRN_ASSIGN_OR_RETURN(std::string p, path());
          for (repo::VersionRecord& r : history) r.path = p;
        }
        ++out.paths;
        bool touched = false;
        for (size_t i = 0; i < history.size(); ++i) {
          const repo::VersionRecord& r = history[i];
          const RetentionDecision& d = decisions[i];
          ++out.versions;
          if (d.keep) {
            Count(out.kept_by, d.reasons);
          } else {
            ++out.versions_dropped;
            ++out.dropped_by[std::string(DropReasonName(d.dropped))];
            drop.push_back(repo::VersionIdOf(r));
            touched = true;
          }
          if (request.on_version) {
            ForgetDecision fd;
            fd.path = r.path;
            fd.device = r.device;
            fd.version_id = repo::VersionIdHex(repo::VersionIdOf(r));
            fd.number = i + 1;
            fd.time = r.WallTime();
            fd.deleted = r.deleted;
            fd.size = r.size;
            fd.keep = d.keep;
            fd.reasons = d.keep ? KeepReasonNames(d.reasons) : "";
            fd.dropped = d.keep ? "" : std::string(DropReasonName(d.dropped));
            request.on_version(fd);
          }
        }
        if (touched) ++out.paths_touched;
        return Status::OK();
      });
  CAIRN_RETURN_IF_ERROR(walked);
  if (request.dry_run || drop.empty()) return out;

  // An older cairn must refuse the repository from now on, rather than show
  // forgotten versions (design.md §5).
  CAIRN_RETURN_IF_ERROR(repo->RequireFormat(repo::kFormatWithForget));
  for (size_t begin = 0; begin < drop.size(); begin += kIdsPerSegment) {
    if (lock->StopToken(job.stop).stop_requested())
      return Status::Cancelled("forget stopped; " + std::to_string(out.segments_written) +
                               " forget segments were written and count; run it again for the "
                               "rest");
    repo::VersionSegment seg;
    seg.device = cfg_.device;
    seg.created = now;
    seg.sequence = static_cast<uint32_t>(begin / kIdsPerSegment);
    seg.forget.assign(
        drop.begin() + static_cast<std::ptrdiff_t>(begin),
        drop.begin() + static_cast<std::ptrdiff_t>(std::min(drop.size(), begin + kIdsPerSegment)));
    CAIRN_ASSIGN_OR_RETURN(Id id, repo->SaveSegment(seg));
    CAIRN_RETURN_IF_ERROR(cat->AddSegment(id, catalog::SegmentInfo::Of(seg), {}));
    ++out.segments_written;
  }
  return out;
}

}  // namespace cairn::engine
