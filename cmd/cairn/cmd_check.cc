#include <cstdio>

#include "base/time_util.h"
#include "cmd/cairn/commands.h"

namespace cairn::cli {
namespace {

nlohmann::json SampleJson(const engine::RestoreSampleResult& rs) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : rs.files)
    files.push_back({{"path", f.path},
                     {"device", f.device},
                     {"id", f.id},
                     {"time", FormatRfc3339(f.time)},
                     {"size", f.size},
                     {"ok", f.ok},
                     {"error", f.ok ? nlohmann::json(nullptr) : nlohmann::json(f.error)}});
  return {
      {"ok", rs.ok()}, {"requested", rs.requested}, {"eligible", rs.eligible}, {"files", files}};
}

// One line per sampled version (failures on stderr, so -q still shows them),
// then a summary.
void PrintSample(const Context& ctx, const engine::RestoreSampleResult& rs) {
  size_t failed = 0;
  for (const auto& f : rs.files) {
    std::string line = ShowPath(f.path) + " (version " + f.id + ", " + HumanBytes(f.size) + ")";
    if (f.ok) {
      ctx.Info("  ok      " + line);
    } else {
      ++failed;
      std::fprintf(stderr, "error: restore sample failed: %s: %s\n", line.c_str(), f.error.c_str());
    }
  }
  if (rs.files.empty()) {
    ctx.Info("restore sample: no file versions to restore");
    return;
  }
  ctx.Info("restore sample: " + std::to_string(rs.files.size()) + " of " +
           std::to_string(rs.eligible) + " file versions restored and compared with their SHA-256" +
           (failed == 0 ? ": all ok" : ": " + std::to_string(failed) + " failed"));
}

}  // namespace

int CheckCommand(Context& ctx, const CheckArgs& o) {
  engine::CheckRequest req;
  req.read_data = o.read_data;
  req.subset = o.subset;
  req.restore_sample = static_cast<size_t>(o.restore_sample);
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
    nlohmann::json out = {{"ok", r.ok()},
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
                          {"findings", findings}};
    if (r.restore_sample) out["restore_sample"] = SampleJson(*r.restore_sample);
    ctx.PrintJson(out);
  } else {
    for (const auto& w : r.warnings) ctx.Warn(w);
    for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
    if (!r.affected_files.empty()) {
      std::fprintf(stderr, "affected files:\n");
      for (const auto& f : r.affected_files) std::fprintf(stderr, "  %s\n", ShowPath(f).c_str());
    }
    ctx.Info(
        "checked " + std::to_string(r.packs) + " packs, " + std::to_string(r.blobs) + " chunks, " +
        std::to_string(r.segments) + " version segments (" +
        std::to_string(r.records - r.forgotten) + " versions" +
        (r.forgotten > 0 ? ", and " + std::to_string(r.forgotten) + " forgotten" : "") + ")" +
        (o.read_data ? ", read " + HumanBytes(r.bytes_read) + " of data" : std::string()) +
        (r.errors.empty() ? ": no errors" : ": " + std::to_string(r.errors.size()) + " errors"));
    if (r.restore_sample) PrintSample(ctx, *r.restore_sample);
  }
  return r.ok() ? kExitOk : kExitFailed;
}

}  // namespace cairn::cli
