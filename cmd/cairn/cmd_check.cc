#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

int CheckCommand(Context& ctx, const CheckArgs& o) {
  engine::CheckRequest req;
  req.read_data = o.read_data;
  req.subset = o.subset;
  auto report = ctx.session().Check(req, ctx.Job());
  ProgressDone();
  if (!report.ok()) return ctx.Fail(report.error());
  const auto& r = *report;
  if (ctx.json()) {
    // `findings` is the typed form of errors/warnings/affected_files, which
    // stay for existing readers.
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : r.findings)
      findings.push_back({{"severity", checker::SeverityName(f.severity)},
                          {"kind", checker::KindName(f.kind)},
                          {"object", f.object},
                          {"message", f.message},
                          {"affected_files", f.affected_files}});
    ctx.PrintJson({{"ok", r.ok()},
                   {"errors", r.errors},
                   {"warnings", r.warnings},
                   {"affected_files", r.affected_files},
                   {"packs", r.packs},
                   {"blobs", r.blobs},
                   {"index_objects", r.index_objects},
                   {"segments", r.segments},
                   {"records", r.records},
                   {"forgotten", r.forgotten},
                   {"packs_read", r.packs_read},
                   {"bytes_read", r.bytes_read},
                   {"findings", findings}});
  } else {
    for (const auto& w : r.warnings) ctx.Warn(w);
    for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
    if (!r.affected_files.empty()) {
      std::fprintf(stderr, "affected files:\n");
      for (const auto& f : r.affected_files) std::fprintf(stderr, "  %s\n", ShowPath(f).c_str());
    }
    ctx.Info("checked " + std::to_string(r.packs) + " packs, " + std::to_string(r.blobs) +
             " chunks, " + std::to_string(r.segments) + " version segments (" +
             std::to_string(r.records - r.forgotten) + " versions" +
             (r.forgotten > 0 ? ", and " + std::to_string(r.forgotten) + " forgotten" : "") + ")" +
             (o.read_data ? ", read " + HumanBytes(r.bytes_read) + " of data" : std::string()) +
             (r.ok() ? ": no errors" : ": " + std::to_string(r.errors.size()) + " errors"));
  }
  return r.ok() ? kExitOk : kExitFailed;
}

}  // namespace cairn::cli
