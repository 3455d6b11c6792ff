#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

int BackupCommand(Context& ctx, const BackupArgs& o) {
  engine::BackupRequest req;
  for (const auto& p : o.paths) req.paths.push_back(AbsolutePath(p));
  req.extra_excludes = o.excludes;
  // With --json, one document: the creation is a field of the backup's.
  std::optional<engine::InitSummary> created;
  if (o.init_if_missing) {
    Status open = ctx.session().Open();
    if (open.code() == StatusCode::kNoRepository) {
      auto init = CreateRepository(ctx, "");
      if (!init.ok()) return ctx.Fail(init.error());
      created = *init;
    }
  }
  auto result = ctx.session().Backup(req, ctx.Job());
  ProgressDone();
  if (!result.ok()) return ctx.Fail(result.error());
  const engine::BackupResult& r = *result;
  if (ctx.json()) {
    nlohmann::json j = {{"run_id", r.run_id.Hex()},
                        {"device", ctx.session().device()},
                        {"paths", r.paths},
                        {"files_new", r.files_new},
                        {"files_changed", r.files_changed},
                        {"files_unchanged", r.files_unchanged},
                        {"dirs", r.dirs},
                        {"deleted", r.deleted},
                        {"excluded", r.excluded},
                        {"skipped_size", r.skipped_size},
                        {"skipped_special", r.skipped_special},
                        {"bytes_read", r.bytes_read},
                        {"bytes_added", r.bytes_new_raw},
                        {"bytes_stored", r.bytes_stored},
                        {"seconds", r.seconds},
                        {"errors", r.errors},
                        {"warnings", r.warnings},
                        {"partial", r.partial()}};
    if (created) j["created"] = {{"location", created->location}, {"id", created->repo_id}};
    ctx.PrintJson(j);
  } else {
    for (const auto& w : r.warnings) ctx.Warn(w);
    for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", ShowPath(e).c_str());
    ctx.Info("backed up to " + ctx.session().location() + " as device " + ctx.session().device());
    ctx.Info("  files: " + std::to_string(r.files_new) + " new, " +
             std::to_string(r.files_changed) + " changed, " + std::to_string(r.files_unchanged) +
             " unchanged, " + std::to_string(r.deleted) + " deleted");
    if (r.excluded + r.skipped_size + r.skipped_special > 0) {
      std::string line = "  left out: " + std::to_string(r.excluded) + " excluded";
      if (r.skipped_size > 0) line += ", " + std::to_string(r.skipped_size) + " too large";
      if (r.skipped_special > 0)
        line += ", " + std::to_string(r.skipped_special) + " of unknown type";
      ctx.Info(line);
    }
    ctx.Info("  data:  " + HumanBytes(r.bytes_read) + " read, " + HumanBytes(r.bytes_new_raw) +
             " new after deduplication, " + HumanBytes(r.bytes_stored) +
             " stored after compression and encryption");
    char secs[32];
    snprintf(secs, sizeof(secs), "%.2f s", r.seconds);
    ctx.Info("  time:  " + std::string(secs));
    if (r.partial()) {
      bool nothing = r.files_new + r.files_changed + r.files_unchanged + r.dirs == 0;
      ctx.Info("  " + std::to_string(r.errors.size()) +
               (r.errors.size() == 1 ? " path" : " paths") + " could not be read (see above); " +
               (nothing ? "nothing was backed up" : "everything else is backed up"));
    }
  }
  return r.partial() ? kExitPartial : kExitOk;
}

}  // namespace cairn::cli
