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
                   {"last_backup", s.last_backup ? FormatRfc3339(s.last_backup) : ""}});
    return kExitOk;
  }
  ctx.Info("repository " + s.repo_id.substr(0, 8) + " at " + s.location);
  ctx.Info("  device " + (s.device.empty() ? std::string("(all)") : s.device) + ": " +
           std::to_string(s.paths) + " paths, " + std::to_string(s.versions) +
           " versions, latest versions total " + HumanBytes(s.latest_bytes));
  ctx.Info("  stored: " + std::to_string(s.chunks) + " chunks in " + std::to_string(s.packs) +
           " packs, " + HumanBytes(s.stored_bytes));
  if (s.devices.size() > 1 || (s.devices.size() == 1 && s.devices.begin()->first != s.device)) {
    ctx.Info("  versions by device:");
    for (auto& [d, n] : s.devices) ctx.Info("    " + d + ": " + std::to_string(n));
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
