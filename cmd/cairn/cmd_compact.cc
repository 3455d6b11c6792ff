#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

int CompactCommand(Context& ctx) {
  auto r = ctx.session().Compact(ctx.Job());
  ProgressDone();
  if (!r.ok()) return ctx.Fail(r.error());
  const engine::CompactSummary& s = *r;
  if (ctx.json()) {
    ctx.PrintJson({{"packs_before", s.packs_before},
                   {"packs_merged", s.packs_merged},
                   {"packs_written", s.packs_written},
                   {"pack_bytes_read", s.pack_bytes_read},
                   {"pack_bytes_written", s.pack_bytes_written},
                   {"index_before", s.index_before},
                   {"index_rewritten", s.index_rewritten},
                   {"index_written", s.index_written},
                   {"segments_before", s.segments_before},
                   {"segments_merged", s.segments_merged},
                   {"segments_written", s.segments_written},
                   {"superseded_deleted", s.superseded_deleted},
                   {"objects_deleted", s.objects_deleted},
                   {"generation", s.generation},
                   {"warnings", s.warnings}});
    return kExitOk;
  }
  if (s.objects_deleted == 0) {
    ctx.Info("nothing to compact: " + std::to_string(s.packs_before) + " packs, " +
             std::to_string(s.index_before) + " index objects, " +
             std::to_string(s.segments_before) + " version segments");
    return kExitOk;
  }
  ctx.Info("compacted: " + std::to_string(s.packs_merged) + " small packs into " +
           std::to_string(s.packs_written) + " (" + HumanBytes(s.pack_bytes_read) + " read), " +
           std::to_string(s.index_rewritten) + " index objects into " +
           std::to_string(s.index_written) + ", " + std::to_string(s.segments_merged) +
           " version segments into " + std::to_string(s.segments_written) + "; " +
           std::to_string(s.objects_deleted) + " objects deleted");
  return kExitOk;
}

int RunsCommand(Context& ctx, int limit) {
  auto runs = ctx.session().Runs(limit > 0 ? static_cast<size_t>(limit) : 20, ctx.Job());
  if (!runs.ok()) return ctx.Fail(runs.error());
  if (ctx.json()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *runs)
      out.push_back({{"run_id", r.run_id},
                     {"device", r.device},
                     {"start", FormatRfc3339(r.start)},
                     {"end", FormatRfc3339(r.end)},
                     {"complete", r.complete},
                     {"roots", r.roots},
                     {"files_new", r.files_new},
                     {"files_changed", r.files_changed},
                     {"files_unchanged", r.files_unchanged},
                     {"bytes_read", r.bytes_read},
                     {"bytes_stored", r.bytes_stored},
                     {"errors", r.errors}});
    ctx.PrintJson(out);
    return kExitOk;
  }
  if (runs->empty()) {
    ctx.Info("no backup runs yet");
    return kExitOk;
  }
  std::printf("%-19s  %-8s  %-12s  %-10s  %s\n", "started", "duration", "device", "result",
              "files new/changed/unchanged, stored");
  for (const auto& r : *runs) {
    char dur[32];
    std::snprintf(dur, sizeof(dur), "%.1f s", static_cast<double>(r.end - r.start) / 1e9);
    std::string result = !r.complete ? "interrupted" : r.errors ? "partial" : "ok";
    std::printf("%-19s  %-8s  %-12s  %-10s  %llu/%llu/%llu, %s\n", FormatLocal(r.start).c_str(),
                dur, r.device.c_str(), result.c_str(), static_cast<unsigned long long>(r.files_new),
                static_cast<unsigned long long>(r.files_changed),
                static_cast<unsigned long long>(r.files_unchanged),
                HumanBytes(r.bytes_stored).c_str());
  }
  return kExitOk;
}

}  // namespace cairn::cli
