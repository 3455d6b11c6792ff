#include <cstdio>
#include <memory>
#include <optional>

#include "cmd/cairn/commands.h"
#include "daemon/daemon.h"

namespace cairn::cli {

namespace {

// One line per log event on stderr (journald stamps and keeps it under
// systemd). The logging module will take over this hook.
void LogLine(daemon::LogLevel level, const std::string& text) {
  const char* prefix = "";
  switch (level) {
    case daemon::LogLevel::kDebug:
      return;
    case daemon::LogLevel::kInfo:
      break;
    case daemon::LogLevel::kWarning:
      prefix = "warning: ";
      break;
    case daemon::LogLevel::kError:
      prefix = "error: ";
      break;
  }
  std::fprintf(stderr, "cairn run: %s%s\n", prefix, ShowPath(text).c_str());
  std::fflush(stderr);
}

}  // namespace

int RunCommand(Context& ctx, const RunArgs& o) {
  daemon::DaemonOptions d;
  for (const std::string& f : o.folders) d.folders.push_back(AbsolutePath(f));
  engine::SessionOptions base = ctx.MakeSessionOptions();
  // A secret typed at the prompt is asked once: the sessions of later
  // reloads take the same answer (it lives in this process's memory either
  // way, as the open repository's key does).
  if (base.ask_secret) {
    auto cached = std::make_shared<std::optional<std::string>>();
    base.ask_secret = [ask = base.ask_secret,
                       cached](const engine::SecretRequest& r) -> Result<std::string> {
      if (*cached) return **cached;
      auto secret = ask(r);
      if (secret.ok()) *cached = *secret;
      return secret;
    };
  }
  d.make_session = [base] { return engine::Session::Create(base); };
  d.hooks.log = LogLine;
  auto created = daemon::Daemon::Create(std::move(d));
  if (!created.ok()) return ctx.Fail(created.error());
  std::unique_ptr<daemon::Daemon> dm = std::move(*created);
  SetHangupHandler([&dm] { dm->RequestReload(); });
  Status st = dm->Run(ctx.Job().stop);
  SetHangupHandler({});
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

}  // namespace cairn::cli
