#include <cstdio>
#include <memory>
#include <optional>

#include "cmd/cairn/commands.h"
#include "daemon/service.h"

namespace cairn::cli {

int RunCommand(Context& ctx, const RunArgs& o) {
  daemon::ServiceOptions so;
  so.version = ctx.global().version;
  for (const std::string& f : o.folders) so.daemon.folders.push_back(AbsolutePath(f));
  engine::SessionOptions base = ctx.MakeSessionOptions();
  // A secret typed at the prompt is asked once: the sessions of later
  // reloads take the same answer (it lives in this process's memory either
  // way, as the open repository's key does); and it is masked in the log.
  auto service_of = std::make_shared<daemon::Service*>(nullptr);
  if (base.ask_secret) {
    auto cached = std::make_shared<std::optional<std::string>>();
    base.ask_secret = [ask = base.ask_secret, cached,
                       service_of](const engine::SecretRequest& r) -> Result<std::string> {
      if (*cached) return **cached;
      auto secret = ask(r);
      if (secret.ok()) {
        *cached = *secret;
        if (*service_of) (*service_of)->AddSecret(*secret);
      }
      return secret;
    };
  }
  so.daemon.make_session = [base] { return engine::Session::Create(base); };
  auto created = daemon::Service::Create(std::move(so));
  if (!created.ok()) return ctx.Fail(created.error());
  std::unique_ptr<daemon::Service> service = std::move(*created);
  *service_of = service.get();
  SetHangupHandler([&service] { service->RequestReload(); });
  Status st = service->Run(ctx.Job().stop);
  SetHangupHandler({});
  *service_of = nullptr;
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

}  // namespace cairn::cli
