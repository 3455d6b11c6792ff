#include <cstdio>
#include <memory>
#include <optional>

#include "cmd/cairn/commands.h"
#include "cmd/cairn/web_console.h"
#include "daemon/service.h"
#include "engine/session.h"
#include "web/server.h"

namespace cairn::cli {

namespace {

// The daemon's state and controls, for the web server.
class ServiceControl : public web::ServiceControl {
 public:
  explicit ServiceControl(daemon::Service& service) : service_(service) {}
  nlohmann::json Snapshot() override { return service_.StatusAnswer(); }
  void Pause(std::optional<std::chrono::seconds> how_long) override {
    service_.daemon().Pause(how_long);
  }
  void Resume() override { service_.daemon().Resume(); }
  std::vector<std::string> LogTail(size_t lines) override { return service_.LogTail(lines); }

 private:
  daemon::Service& service_;
};

}  // namespace

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
  // The dashboard beside the daemon, on the daemon's session. Protection
  // matters more than its dashboard: a server that cannot start (the port
  // is taken) is a warning, and `cairn run` goes on without it.
  ServiceControl control(*service);
  std::unique_ptr<web::Server> server;
  const std::shared_ptr<engine::Session> first = service->daemon().SharedSession();
  if (first->settings().web_enabled) {
    web::ServerOptions wo;
    daemon::Daemon* d = &service->daemon();
    wo.session = [d] { return d->SharedSession(); };
    wo.service = &control;
    wo.version = ctx.global().version;
    daemon::Service* svc = service.get();
    wo.log = [svc](const std::string& line) { svc->Log(daemon::LogLevel::kInfo, line); };
    // A settings change from the dashboard: the same reload as SIGHUP's.
    wo.reload_settings = [svc] {
      svc->RequestReload();
      return Status::OK();
    };
    auto started = web::Server::Start(std::move(wo));
    if (started.ok()) {
      server = std::move(*started);
      PrintLoginLink(*server, "cairn run");
    } else {
      service->Log(daemon::LogLevel::kWarning,
                   "the dashboard is not served: " + started.error().message());
    }
  }
  SetHangupHandler([&service] { service->RequestReload(); });
  Status st = service->Run(ctx.Job().stop);
  SetHangupHandler({});
  server.reset();  // before the service it calls
  *service_of = nullptr;
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

}  // namespace cairn::cli
