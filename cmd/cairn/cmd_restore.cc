#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

int RestoreCommand(Context& ctx, const RestoreArgs& o) {
  engine::RestoreRequest req;
  if (o.id.empty() == o.path.empty())
    return ctx.Fail(Status::InvalidArgument(
        o.id.empty() ? "restore needs the PATH of a file or folder, or --id ID of one version"
                     : "give either a PATH or --id, not both"));
  req.id = o.id;
  if (!o.path.empty()) req.path = AbsolutePath(o.path);
  if (!o.at.empty()) {
    auto t = ParseTime(o.at);
    if (!t.ok()) return ctx.Fail(t.error());
    req.at = *t;
  }
  req.version = o.version;
  if (!o.to.empty()) req.target = AbsolutePath(o.to);
  req.overwrite = o.overwrite;
  auto summary = ctx.session().Restore(req, ctx.Job());
  ProgressDone();
  if (!summary.ok()) return ctx.Fail(summary.error());
  const auto& s = *summary;
  bool partial = !s.errors.empty() || !s.skipped_existing.empty() || !s.unreadable_segments.empty();
  if (ctx.json()) {
    ctx.PrintJson({{"files", s.files},
                   {"dirs", s.dirs},
                   {"links", s.links},
                   {"bytes", s.bytes},
                   {"errors", s.errors},
                   {"skipped_existing", s.skipped_existing},
                   {"already_present", s.already_present},
                   {"seconds", s.seconds},
                   {"unreadable_segments", s.unreadable_segments},
                   {"partial", partial}});
  } else {
    for (const auto& e : s.errors) std::fprintf(stderr, "error: %s\n", ShowPath(e).c_str());
    for (const auto& e : s.skipped_existing)
      std::fprintf(stderr, "not overwritten (use --overwrite): %s\n", ShowPath(e).c_str());
    char secs[32];
    snprintf(secs, sizeof(secs), "%.2f s", s.seconds);
    ctx.Info("restored " + std::to_string(s.files) + " files (" + HumanBytes(s.bytes) + "), " +
             std::to_string(s.dirs) + " folders, " + std::to_string(s.links) + " links" +
             (s.already_present ? " (" + std::to_string(s.already_present) +
                                      " files were already there, identical)"
                                : std::string()) +
             " to " + (req.target.empty() ? std::string("their original place") : req.target) +
             " in " + secs + "; every file verified against its SHA-256");
  }
  if (ReportUnreadable(ctx, s.unreadable_segments) != kExitOk) return kExitPartial;
  return partial ? kExitPartial : kExitOk;
}

}  // namespace cairn::cli
