#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

int StatsCommand(Context& ctx) {
  auto stats = ctx.session().Stats(ctx.Job());
  if (!stats.ok()) return ctx.Fail(stats.error());
  const engine::RepositoryStats& s = *stats;
  if (ctx.json()) {
    nlohmann::json devs = nlohmann::json::object();
    for (auto& [d, n] : s.devices) devs[d] = n;
    nlohmann::json per_device = nlohmann::json::array();
    for (const auto& d : s.per_device)
      per_device.push_back({{"device", d.device},
                            {"files", d.paths},
                            {"versions", d.versions},
                            {"latest_bytes", d.latest_bytes}});
    ctx.PrintJson({{"repository", s.location},
                   {"id", s.repo_id},
                   {"device", s.device},
                   {"versions", s.versions},
                   {"paths", s.paths},
                   {"latest_bytes", s.latest_bytes},
                   {"chunks", s.chunks},
                   {"packs", s.packs},
                   {"stored_bytes", s.stored_bytes},
                   {"devices", devs},
                   {"per_device", per_device},
                   {"space",
                    {{"error", s.space_error},
                     {"bytes_live", s.bytes_live},
                     {"bytes_unused", s.bytes_unused},
                     {"cleanup_would_free", s.cleanup_would_free},
                     {"unused_kept_in_packs", s.unused_kept_in_packs},
                     {"waiting_for_tier", s.waiting_for_tier},
                     {"young_unindexed_packs", s.young_unindexed_packs}}},
                   {"last_backup", s.last_backup ? FormatRfc3339(s.last_backup) : ""}});
    return kExitOk;
  }
  ctx.Info("repository " + s.repo_id.substr(0, 8) + " at " + s.location);
  ctx.Info("  device " + (s.device.empty() ? std::string("(all)") : s.device) + ": " +
           std::to_string(s.paths) + " paths, " + std::to_string(s.versions) +
           " versions, latest versions total " + HumanBytes(s.latest_bytes));
  ctx.Info("  stored: " + std::to_string(s.chunks) + " chunks in " + std::to_string(s.packs) +
           " packs, " + HumanBytes(s.stored_bytes));
  if (s.per_device.size() > 1 ||
      (s.per_device.size() == 1 && s.per_device.front().device != s.device)) {
    ctx.Info("  by device:");
    for (const auto& d : s.per_device)
      ctx.Info("    " + d.device + ": " + std::to_string(d.paths) + " files, " +
               std::to_string(d.versions) + " versions, latest versions total " +
               HumanBytes(d.latest_bytes));
  }
  if (!s.space_error.empty()) {
    ctx.Info("  space: unknown (" + s.space_error + ")");
  } else {
    ctx.Info("  space: " + HumanBytes(s.bytes_live) + " in use, " + HumanBytes(s.bytes_unused) +
             " unused");
    ctx.Info("    `cairn cleanup` would free about " + HumanBytes(s.cleanup_would_free) +
             " now (the retention rules of the settings, then prune)");
    if (s.unused_kept_in_packs > 0)
      ctx.Info("    " + HumanBytes(s.unused_kept_in_packs) +
               " stays unused inside packs that are mostly in use (repacked once more than 10% "
               "of a pack is unused)");
    if (s.waiting_for_tier > 0)
      ctx.Info("    " + HumanBytes(s.waiting_for_tier) +
               " waits for its storage tier's minimum duration (Cool 30 days, Cold 90)");
    if (s.young_unindexed_packs > 0)
      ctx.Info("    " + std::to_string(s.young_unindexed_packs) +
               " packs no index lists yet are less than an hour old (a backup may be writing "
               "them)");
  }
  ctx.Info("  last backup from this machine: " +
           (s.last_backup ? FormatLocal(s.last_backup) : std::string("never")));
  return kExitOk;
}

int RecoverCommand(Context& ctx) {
  auto r = ctx.session().Recover(ctx.Job());
  ProgressDone();
  if (!r.ok()) return ctx.Fail(r.error());
  if (ctx.json())
    ctx.PrintJson({{"catalog", r->catalog_path},
                   {"versions", r->versions},
                   {"segments", r->segments},
                   {"unreadable_segments", r->unreadable_segments}});
  else
    ctx.Info("rebuilt the catalog " + r->catalog_path + " from " + std::to_string(r->segments) +
             " version segments: " + std::to_string(r->versions) + " versions of " +
             std::to_string(r->paths) + " paths");
  if (!r->unreadable_segments.empty())
    ctx.Warn(
        "the versions recorded in the unreadable segments are lost from the history "
        "(for the files they hold, older versions may now show as the newest); every other "
        "version is restorable");
  return ReportUnreadable(ctx, r->unreadable_segments);
}

}  // namespace cairn::cli
