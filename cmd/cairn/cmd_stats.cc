#include <cstdio>

#include "cmd/cairn/commands.h"
#include "engine/catalog_sync.h"

namespace cairn::cli {

int RunStats(Context& ctx) {
  auto repo = ctx.OpenRepository(true, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto cat = ctx.OpenCatalog(**repo);
  if (!cat.ok()) return ctx.Fail(cat.error());
  uint64_t pack_bytes = 0, packs = 0;
  Status st =
      (*repo)->backend().List(backend::ObjectType::kPack, [&](const backend::ObjectInfo& i) {
        pack_bytes += i.size;
        ++packs;
        return Status::OK();
      });
  if (!st.ok()) return ctx.Fail(st);
  auto totals = (*cat)->GetTotals(ctx.QueryDevice());
  if (!totals.ok()) return ctx.Fail(totals.error());
  auto devices = (*cat)->Devices();
  if (!devices.ok()) return ctx.Fail(devices.error());
  if (ctx.json()) {
    nlohmann::json devs = nlohmann::json::object();
    for (auto& [d, n] : *devices) devs[d] = n;
    ctx.PrintJson({{"repository", ctx.Location()},
                   {"id", (*repo)->config().repo_id.Hex()},
                   {"device", ctx.QueryDevice()},
                   {"versions", totals->versions},
                   {"paths", totals->paths},
                   {"latest_bytes", totals->latest_bytes},
                   {"chunks", (*repo)->index().BlobCount()},
                   {"packs", packs},
                   {"stored_bytes", pack_bytes},
                   {"devices", devs}});
    return kExitOk;
  }
  ctx.Info("repository " + (*repo)->config().repo_id.Hex().substr(0, 8) + " at " + ctx.Location());
  ctx.Info("  device " + (ctx.QueryDevice().empty() ? std::string("(all)") : ctx.QueryDevice()) +
           ": " + std::to_string(totals->paths) + " paths, " + std::to_string(totals->versions) +
           " versions, latest versions total " + HumanBytes(totals->latest_bytes));
  ctx.Info("  stored: " + std::to_string((*repo)->index().BlobCount()) + " chunks in " +
           std::to_string(packs) + " packs, " + HumanBytes(pack_bytes));
  for (auto& [d, n] : *devices) ctx.Info("  device " + d + ": " + std::to_string(n) + " versions");
  return kExitOk;
}

int RunRecover(Context& ctx) {
  auto repo = ctx.OpenRepository(false, false);
  if (!repo.ok()) return ctx.Fail(repo.error());
  auto cat = ctx.OpenCatalog(**repo, true);
  if (!cat.ok()) return ctx.Fail(cat.error());
  auto totals = (*cat)->GetTotals("");
  if (!totals.ok()) return ctx.Fail(totals.error());
  auto segs = (*cat)->Segments();
  if (ctx.json())
    ctx.PrintJson({{"catalog", engine::CatalogPath(**repo, ctx.CacheDir())},
                   {"versions", totals->versions},
                   {"segments", segs.ok() ? segs->size() : 0}});
  else
    ctx.Info("rebuilt the catalog " + engine::CatalogPath(**repo, ctx.CacheDir()) + " from " +
             std::to_string(segs.ok() ? segs->size() : 0) +
             " version segments: " + std::to_string(totals->versions) + " versions of " +
             std::to_string(totals->paths) + " paths");
  return kExitOk;
}

}  // namespace cairn::cli
