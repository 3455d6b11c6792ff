#include "cmd/cairn/commands.h"

namespace cairn::cli {

Result<engine::InitSummary> CreateRepository(Context& ctx, const std::string& label) {
  CAIRN_ASSIGN_OR_RETURN(auto created, ctx.session().Init(label, ctx.Job()));
  if (!ctx.json())
    ctx.Info("created repository " + created.repo_id.substr(0, 8) + " at " + created.location);
  return created;
}

int InitCommand(Context& ctx, const InitArgs& o) {
  auto created = CreateRepository(ctx, o.label);
  if (!created.ok()) return ctx.Fail(created.error());
  if (ctx.json()) ctx.PrintJson({{"created", created->location}, {"id", created->repo_id}});
  return kExitOk;
}

}  // namespace cairn::cli
