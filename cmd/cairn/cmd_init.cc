#include "backend/backend.h"
#include "cmd/cairn/commands.h"
#include "compress/compressor.h"

namespace cairn::cli {

// Creates the repository at ctx.Location(); shared by `init` and `backup --init`.
Status CreateRepository(Context& ctx, const std::string& label) {
  CAIRN_ASSIGN_OR_RETURN(auto be, backend::OpenBackend(ctx.Location(), ctx.BackendOptionsFor()));
  // Checked before anything is created, so a refused init leaves no trace.
  CAIRN_ASSIGN_OR_RETURN(bool has, be->HasAnyObject());
  if (has)
    return Status::AlreadyExists(ctx.Location() +
                                 " already holds data; `cairn init` needs an empty location");
  CAIRN_ASSIGN_OR_RETURN(std::string secret, ctx.Secret(true));
  repo::InitOptions o;
  o.kdf = ctx.KdfParamsForNewKey();
  o.pack_size = static_cast<uint64_t>(ctx.settings().pack_size_mb) << 20;
  o.key_label = label;
  CAIRN_ASSIGN_OR_RETURN(auto repo, repo::Repository::Init(be, secret, o));
  if (ctx.json()) {
    ctx.PrintJson({{"created", ctx.Location()}, {"id", repo->config().repo_id.Hex()}});
  } else {
    ctx.Info("created repository " + repo->config().repo_id.Hex().substr(0, 8) + " at " +
             ctx.Location());
  }
  return Status::OK();
}

int RunInit(Context& ctx, const InitOptions& o) {
  Status st = CreateRepository(ctx, o.label);
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

}  // namespace cairn::cli
