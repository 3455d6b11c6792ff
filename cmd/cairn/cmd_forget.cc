// cairn forget: retention (docs/design.md §19). The policy is the settings'
// versioning.* keys, each overridden by its flag.
#include <cstdio>
#include <optional>
#include <vector>

#include "base/time_util.h"
#include "cmd/cairn/commands.h"

namespace cairn::cli {
namespace {

using json = nlohmann::json;

json DecisionJson(const engine::ForgetDecision& d) {
  return {{"path", d.path},
          {"device", d.device},
          {"id", d.version_id},
          {"number", d.number},
          {"time", FormatRfc3339(d.time)},
          {"type", d.deleted ? "deleted" : "version"},
          {"size", d.size},
          {"keep", d.keep},
          {"reasons", d.keep ? json(d.reasons) : json(nullptr)},
          {"dropped", d.keep ? json(nullptr) : json(d.dropped)}};
}

std::string Counts(const std::map<std::string, uint64_t>& counts) {
  std::string out;
  for (const auto& [name, n] : counts)
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  return out.empty() ? "none" : out;
}

}  // namespace

Result<engine::RetentionPolicy> ForgetPolicy(const engine::RetentionPolicy& settings,
                                             const ForgetArgs& a) {
  engine::RetentionPolicy p = settings;
  auto pick = [](int64_t flag, uint32_t& value) {
    if (flag >= 0) value = static_cast<uint32_t>(flag);
  };
  pick(a.keep_last, p.keep_last);
  pick(a.keep_hourly, p.keep_hourly);
  pick(a.keep_daily, p.keep_daily);
  pick(a.keep_weekly, p.keep_weekly);
  pick(a.keep_monthly, p.keep_monthly);
  pick(a.keep_yearly, p.keep_yearly);
  pick(a.max_versions, p.max_versions);
  pick(a.retention_days, p.retention_days);
  if (a.keep_within) {
    if (a.keep_within->empty()) {
      p.keep_within = {};
    } else {
      auto span = ParseCalendarSpan(*a.keep_within);
      if (!span.ok()) return span.error().WithContext("--keep-within");
      p.keep_within = *span;
    }
  }
  return p;
}

int ForgetCommand(Context& ctx, const ForgetArgs& args) {
  auto policy = ForgetPolicy(ctx.session().SettingsRetentionPolicy(), args);
  if (!policy.ok()) return ctx.Fail(policy.error());
  if (policy->Empty()) {
    if (ctx.json()) {
      ctx.PrintJson({{"dry_run", args.dry_run}, {"versions_dropped", 0}, {"policy", "none"}});
    } else {
      ctx.Info(
          "no retention rule is set (versioning.max_versions_per_file, retention_days, keep_* "
          "in the settings file, or --keep-last, --keep-daily, ... --max-versions, "
          "--retention-days): nothing to forget");
    }
    return kExitOk;
  }
  engine::ForgetRequest req;
  req.policy = *policy;
  req.dry_run = args.dry_run;
  json decisions = json::array();
  // Text: every version of each file that loses one, with why it stays or
  // goes; files that keep everything are only counted.
  std::vector<engine::ForgetDecision> file;
  auto flush = [&] {
    bool any_dropped = false;
    for (const auto& d : file) any_dropped |= !d.keep;
    if (any_dropped && !ctx.json() && !ctx.global().quiet) {
      std::printf("%s%s\n", ShowPath(file.front().path).c_str(),
                  file.front().device == ctx.session().device()
                      ? ""
                      : (" (device " + file.front().device + ")").c_str());
      for (const auto& d : file)
        std::printf("  %s  %3zu  %s  %10s  %s\n", d.keep ? "keep" : "drop", d.number,
                    FormatLocal(d.time).c_str(), d.deleted ? "deleted" : HumanBytes(d.size).c_str(),
                    (d.keep ? d.reasons : d.dropped).c_str());
    }
    file.clear();
  };
  if (args.dry_run) {
    req.on_version = [&](const engine::ForgetDecision& d) {
      if (ctx.json()) {
        decisions.push_back(DecisionJson(d));
        return;
      }
      if (!file.empty() && (file.front().path != d.path || file.front().device != d.device))
        flush();
      file.push_back(d);
    };
  }
  auto r = ctx.session().Forget(req, ctx.Job());
  ProgressDone();
  if (!r.ok()) return ctx.Fail(r.error());
  if (!file.empty()) flush();
  const engine::ForgetSummary& s = *r;
  // --prune: free the space in the same run (one key derivation, one
  // catalog sync), as restic's `forget --prune`.
  std::optional<engine::PruneSummary> pruned;
  if (args.prune) {
    engine::PruneRequest pr;
    pr.dry_run = args.dry_run;
    auto p = ctx.session().Prune(pr, ctx.Job());
    ProgressDone();
    if (!p.ok()) return ctx.Fail(p.error().WithContext("the versions were forgotten; prune"));
    pruned = *p;
  }
  if (ctx.json()) {
    json out = {{"dry_run", s.dry_run},
                {"paths", s.paths},
                {"versions", s.versions},
                {"paths_touched", s.paths_touched},
                {"versions_dropped", s.versions_dropped},
                {"kept_by", s.kept_by},
                {"dropped_by", s.dropped_by},
                {"segments_written", s.segments_written}};
    if (args.dry_run) out["decisions"] = std::move(decisions);
    if (pruned) out["prune"] = PruneJson(*pruned);
    ctx.PrintJson(out);
    return kExitOk;
  }
  ctx.Info(std::string(s.dry_run ? "would forget " : "forgot ") +
           std::to_string(s.versions_dropped) + " of " + std::to_string(s.versions) +
           " versions (" + std::to_string(s.paths_touched) + " of " + std::to_string(s.paths) +
           " paths lose some)" + (s.dry_run ? "; dry run: nothing written" : ""));
  ctx.Info("  kept by:    " + Counts(s.kept_by));
  ctx.Info("  dropped as: " + Counts(s.dropped_by));
  if (pruned) {
    PrintPrune(ctx, *pruned);
  } else if (!s.dry_run && s.versions_dropped > 0) {
    ctx.Info(
        "they are gone from listings and restores; nothing was deleted yet: `cairn prune` frees "
        "their space");
  }
  return kExitOk;
}

}  // namespace cairn::cli
