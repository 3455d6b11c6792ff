// `cairn prune` and `cairn cleanup` (design.md §20).
#include <cctype>
#include <cstdio>

#include "cmd/cairn/commands.h"

namespace cairn::cli {

Result<double> ParsePercent(const std::string& text, const std::string& flag) {
  std::string t = text;
  if (!t.empty() && t.back() == '%') t.pop_back();
  char* end = nullptr;
  double v = t.empty() ? -1 : std::strtod(t.c_str(), &end);
  if (t.empty() || end == nullptr || *end != '\0' || !(v >= 0 && v <= 100))
    return Status::InvalidArgument(flag + " takes a percentage from 0% to 100% (e.g. 10%), not \"" +
                                   text + "\"");
  return v / 100.0;
}

Result<uint64_t> ParseByteSize(const std::string& text, const std::string& flag) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string number = text.substr(0, i), unit = text.substr(i);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'I') unit.pop_back();  // KiB, MiB, ...
  double mult = 0;
  if (unit.empty())
    mult = 1;
  else if (unit == "K")
    mult = 1024.0;
  else if (unit == "M")
    mult = 1024.0 * 1024;
  else if (unit == "G")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "T")
    mult = 1024.0 * 1024 * 1024 * 1024;
  auto refuse = [&] {
    return Status::InvalidArgument(flag + " takes a size such as 500M, 2G or 1T, not \"" + text +
                                   "\"");
  };
  if (mult == 0 || number.empty()) return refuse();
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  // (A size past 2^64 bytes would make the conversion undefined.)
  if (*end != '\0' || v < 0 || v * mult >= 18446744073709551616.0) return refuse();
  return static_cast<uint64_t>(v * mult);
}

Result<engine::PruneRequest> PruneRequestFor(const PruneArgs& a) {
  engine::PruneRequest r;
  r.dry_run = a.dry_run;
  r.ignore_tier_minimum = a.ignore_tier_minimum;
  CAIRN_ASSIGN_OR_RETURN(r.max_unused, ParsePercent(a.max_unused, "--max-unused"));
  if (!a.max_repack_size.empty()) {
    CAIRN_ASSIGN_OR_RETURN(r.max_repack_bytes,
                           ParseByteSize(a.max_repack_size, "--max-repack-size"));
  }
  return r;
}

nlohmann::json PruneJson(const engine::PruneSummary& s) {
  return {{"dry_run", s.dry_run},
          {"packs", s.packs},
          {"pack_bytes", s.pack_bytes},
          {"blobs", s.blobs},
          {"blobs_live", s.blobs_live},
          {"bytes_live", s.bytes_live},
          {"bytes_unused", s.bytes_unused},
          {"referenced_missing", s.referenced_missing},
          {"packs_to_delete", s.packs_to_delete},
          {"bytes_to_delete", s.bytes_to_delete},
          {"packs_to_repack", s.packs_to_repack},
          {"bytes_to_repack", s.bytes_to_repack},
          {"unused_bytes_kept", s.unused_bytes_kept},
          {"packs_waiting_for_tier", s.packs_waiting_for_tier},
          {"bytes_waiting_for_tier", s.bytes_waiting_for_tier},
          {"orphan_packs", s.orphan_packs},
          {"orphan_bytes", s.orphan_bytes},
          {"young_orphans", s.young_orphans},
          {"bytes_to_free", s.bytes_to_free},
          {"pack_bytes_read", s.pack_bytes_read},
          {"packs_written", s.packs_written},
          {"pack_bytes_written", s.pack_bytes_written},
          {"index_rewritten", s.index_rewritten},
          {"index_written", s.index_written},
          {"index_deleted", s.index_deleted},
          {"packs_rescued", s.packs_rescued},
          {"packs_deleted", s.packs_deleted},
          {"bytes_freed", s.bytes_freed},
          {"generation", s.generation},
          {"seconds", s.seconds},
          {"exclusive_seconds", s.exclusive_seconds},
          {"warnings", s.warnings}};
}

void PrintPrune(Context& ctx, const engine::PruneSummary& s) {
  ctx.Info("repository: " + std::to_string(s.packs) + " packs, " + HumanBytes(s.pack_bytes) +
           "; in use " + HumanBytes(s.bytes_live) + ", unused " + HumanBytes(s.bytes_unused));
  if (s.dry_run) {
    ctx.Info("would delete " + std::to_string(s.packs_to_delete + s.orphan_packs) + " packs (" +
             HumanBytes(s.bytes_to_delete + s.orphan_bytes) + ") and repack " +
             std::to_string(s.packs_to_repack) + " (" + HumanBytes(s.bytes_to_repack) +
             " read), freeing about " + HumanBytes(s.bytes_to_free) +
             "; dry run: nothing written or deleted");
  } else if (s.packs_deleted == 0 && s.packs_written == 0) {
    ctx.Info("nothing to free");
  } else {
    char t[96];
    std::snprintf(t, sizeof(t), " in %.1f s (%.2f s with backups held back)", s.seconds,
                  s.exclusive_seconds);
    ctx.Info("freed " + HumanBytes(s.bytes_freed) + ": deleted " + std::to_string(s.packs_deleted) +
             " packs, repacked " + std::to_string(s.packs_to_repack) + " into " +
             std::to_string(s.packs_written) + " (" + HumanBytes(s.pack_bytes_read) + " read)" + t);
  }
  if (s.unused_bytes_kept > 0)
    ctx.Info("left " + HumanBytes(s.unused_bytes_kept) +
             " unused inside packs that are mostly in use (below --max-unused, or over "
             "--max-repack-size)");
  if (s.packs_waiting_for_tier > 0)
    ctx.Info(HumanBytes(s.bytes_waiting_for_tier) + " in " +
             std::to_string(s.packs_waiting_for_tier) +
             " packs waits for its storage tier's minimum duration (Cool 30 days, Cold 90); "
             "--ignore-tier-minimum frees it now at the tier's early-deletion charge");
  if (s.young_orphans > 0)
    ctx.Info(std::to_string(s.young_orphans) +
             " packs no index lists yet are younger than an hour (a backup may be writing "
             "them); a later prune deletes them if they stay unindexed");
  if (s.packs_rescued > 0)
    ctx.Info(std::to_string(s.packs_rescued) +
             " packs were kept because a backup that ran meanwhile uses them");
}

int PruneCommand(Context& ctx, const PruneArgs& args) {
  auto req = PruneRequestFor(args);
  if (!req.ok()) return ctx.Fail(req.error());
  auto r = ctx.session().Prune(*req, ctx.Job());
  ProgressDone();
  if (!r.ok()) return ctx.Fail(r.error());
  if (ctx.json()) {
    ctx.PrintJson(PruneJson(*r));
    return kExitOk;
  }
  PrintPrune(ctx, *r);
  return kExitOk;
}

int CleanupCommand(Context& ctx, const PruneArgs& args) {
  auto req = PruneRequestFor(args);
  if (!req.ok()) return ctx.Fail(req.error());
  auto r = ctx.session().Cleanup(*req, ctx.Job());
  ProgressDone();
  if (!r.ok()) return ctx.Fail(r.error());
  if (ctx.json()) {
    nlohmann::json out = {{"prune", PruneJson(r->prune)}, {"forgot", r->forgot}};
    if (r->forgot)
      out["forget"] = {
          {"dry_run", r->forget.dry_run},   {"paths", r->forget.paths},
          {"versions", r->forget.versions}, {"versions_dropped", r->forget.versions_dropped},
          {"kept_by", r->forget.kept_by},   {"dropped_by", r->forget.dropped_by}};
    ctx.PrintJson(out);
    return kExitOk;
  }
  if (r->forgot)
    ctx.Info(std::string(r->forget.dry_run ? "would forget " : "forgot ") +
             std::to_string(r->forget.versions_dropped) + " of " +
             std::to_string(r->forget.versions) + " versions by the retention rules");
  else
    ctx.Info(
        "no retention rule is set (versioning.* in the settings): no version forgotten; "
        "freeing what earlier `cairn forget` runs dropped");
  PrintPrune(ctx, r->prune);
  return kExitOk;
}

}  // namespace cairn::cli
