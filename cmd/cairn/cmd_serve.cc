#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>

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
  web::ServerOptions so;
  so.session = [session] { return session; };
  so.version = ctx.global().version;
  so.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
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
