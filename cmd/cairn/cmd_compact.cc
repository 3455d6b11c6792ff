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

}  // namespace cairn::cli
