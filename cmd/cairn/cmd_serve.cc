#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>

#include "base/time_util.h"
#include "cmd/cairn/commands.h"
#include "cmd/cairn/web_console.h"
#include "engine/session.h"
#include "web/server.h"

namespace cairn::cli {

int ServeCommand(Context& ctx, const ServeArgs& o) {
  auto created = engine::Session::Create(ctx.MakeSessionOptions());
  if (!created.ok()) return ctx.Fail(created.error());
  std::shared_ptr<engine::Session> session = std::move(*created);
  // Errors (no repository, a wrong password) now, not at the first request.
  if (Status st = session->Open(); !st.ok()) return ctx.Fail(st);
  // The session in force: a settings change from the dashboard replaces it
  // (requests holding the old one finish with it).
  struct Current {
    std::mutex mu;
    std::shared_ptr<engine::Session> session;
  };
  auto current = std::make_shared<Current>();
  current->session = session;
  web::ServerOptions so;
  so.session = [current] {
    std::lock_guard lock(current->mu);
    return current->session;
  };
  so.reload_settings = [current, options = ctx.MakeSessionOptions()]() -> Status {
    auto fresh = engine::Session::Create(options);
    if (!fresh.ok()) return fresh.error();
    std::shared_ptr<engine::Session> next = std::move(*fresh);
    CAIRN_RETURN_IF_ERROR(next->Open());
    std::lock_guard lock(current->mu);
    current->session = std::move(next);
    return Status::OK();
  };
  so.version = ctx.global().version;
  // Lines with their local time: the audit log says when.
  so.log = [](const std::string& line) {
    std::fprintf(stderr, "%s  %s\n", FormatLocal(NowNs()).c_str(), line.c_str());
  };
  if (!o.host.empty()) so.host = o.host;
  if (o.port != 0) so.port = o.port;
  auto server = web::Server::Start(std::move(so));
  if (!server.ok()) return ctx.Fail(server.error());
  PrintLoginLink(**server, "cairn serve");
  engine::JobContext job = ctx.Job();
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, job.stop, [] { return false; });
  return kExitOk;
}

}  // namespace cairn::cli
