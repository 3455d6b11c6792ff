#include "cmd/cairn/commands.h"

namespace cairn::cli {

Status CreateRepository(Context& ctx, const std::string& label) {
  CAIRN_ASSIGN_OR_RETURN(auto created, ctx.session().Init(label, ctx.Job()));
  if (ctx.json()) {
    ctx.PrintJson({{"created", created.location}, {"id", created.repo_id}});
  } else {
    ctx.Info("created repository " + created.repo_id.substr(0, 8) + " at " + created.location);
  }
  return Status::OK();
}

int InitCommand(Context& ctx, const InitArgs& o) {
  Status st = CreateRepository(ctx, o.label);
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

}  // namespace cairn::cli
