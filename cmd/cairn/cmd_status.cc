// cairn status / pause / resume: talk to the running `cairn run` through its
// status socket (daemon/status_socket.h).
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <string>

#include "base/time_util.h"
#include "cmd/cairn/commands.h"
#include "daemon/status_socket.h"

namespace cairn::cli {
namespace {

using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t Num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// "12 s", "5 min", "3 h", "2 days"
std::string Age(uint64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " min";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " days";
}

// An RFC 3339 time from the daemon, shown in local time.
std::string When(const json& j, const char* key) {
  const std::string s = Str(j, key);
  if (s.empty()) return "";
  auto t = ParseTime(s);
  return t.ok() ? FormatLocal(*t) : s;
}

// The last successful backup of this device as the catalog knows it,
// without asking for a password (a status must not prompt): nullopt when it
// cannot be read.
std::optional<TimeNs> LastBackupFromCatalog(Context& ctx, std::string* why) {
  engine::SessionOptions o = ctx.MakeSessionOptions();
  o.ask_secret = nullptr;
  auto session = engine::Session::Create(o);
  if (!session.ok()) {
    *why = session.error().message();
    return std::nullopt;
  }
  auto runs = (*session)->Runs(50);
  if (!runs.ok()) {
    *why = runs.error().message();
    return std::nullopt;
  }
  for (const engine::RunSummary& r : *runs)
    if (r.complete && r.device == (*session)->device()) return r.end;
  *why = "no backup has completed yet";
  return std::nullopt;
}

int NotRunning(Context& ctx, const std::string& socket, const std::string& command) {
  std::string why;
  const std::optional<TimeNs> last = LastBackupFromCatalog(ctx, &why);
  const TimeNs now = NowNs();
  if (ctx.json()) {
    json out = {{"daemon_running", false}, {"socket", socket}};
    out["last_success"] = last ? json(FormatRfc3339(*last)) : json(nullptr);
    out["last_success_age_seconds"] =
        last && now >= *last ? json((now - *last) / 1'000'000'000) : json(nullptr);
    if (!last) out["last_success_unknown"] = why;
    ctx.PrintJson(out);
  } else {
    std::fprintf(stderr,
                 "cairn: no `cairn run` is running for this user (nothing answers at %s)%s\n",
                 socket.c_str(),
                 command == "status" ? ""
                                     : "; start it with `cairn run` or `systemctl --user "
                                       "start cairn`");
    if (command == "status") {
      if (last) {
        std::printf("not running; last backup: %s (%s ago)\n", FormatLocal(*last).c_str(),
                    Age(static_cast<uint64_t>((now - *last) / 1'000'000'000)).c_str());
      } else {
        std::printf("not running; last backup: unknown (%s)\n", why.c_str());
      }
      std::printf(
          "start continuous protection with `cairn run`, or as a service with "
          "`systemctl --user enable --now cairn`\n");
    }
  }
  return kExitNotRunning;
}

void PrintStatus(const json& s) {
  std::string folders;
  for (const auto& f : s.value("folders", json::array()))
    folders += (folders.empty() ? "" : ", ") + ShowPath(f.get<std::string>());
  const size_t n = s.value("folders", json::array()).size();
  std::printf("cairn run is protecting %zu folder%s (pid %lld, version %s, since %s)\n", n,
              n == 1 ? "" : "s", static_cast<long long>(s.value("pid", 0)),
              Str(s, "version").c_str(), When(s, "started").c_str());
  std::printf("  repository:   %s (device %s)\n", Str(s, "repository").c_str(),
              Str(s, "device").c_str());
  std::printf("  folders:      %s\n", folders.c_str());
  std::string watching = s.value("watching", false)   ? Str(s, "mechanism")
                         : s.value("starting", false) ? "starting (setting up the watches)"
                                                      : "not watching";
  if (Num(s, "watches") > 0) {
    watching += ", " + std::to_string(Num(s, "watches")) + " folder watches";
    if (Num(s, "watch_limit") > 0)
      watching += " (limit " + std::to_string(Num(s, "watch_limit")) + ")";
  }
  if (Num(s, "polled_trees") > 0)
    watching += ", " + std::to_string(Num(s, "polled_trees")) + " trees compared periodically";
  std::printf("  watching:     %s (watch_mode: %s)\n", watching.c_str(),
              Str(s, "watch_mode").c_str());
  std::string state = "idle";
  if (s.value("paused", false)) {
    const std::string until = When(s, "paused_until");
    state = until.empty() ? "PAUSED until `cairn resume`" : "PAUSED until " + until;
  } else if (!Str(s, "running").empty()) {
    state = "running a " + Str(s, "running");
  } else if (!Str(s, "retry_at").empty()) {
    state = "waiting to retry at " + When(s, "retry_at");
  }
  std::printf("  now:          %s\n", state.c_str());
  const uint64_t queued = Num(s, "queued");
  std::printf("  queue:        %llu change%s waiting\n", static_cast<unsigned long long>(queued),
              queued == 1 ? "" : "s");
  if (s.contains("last_success_age_seconds") && s["last_success_age_seconds"].is_number()) {
    std::printf("  last backup:  %s (%s ago)\n", When(s, "last_success").c_str(),
                Age(s["last_success_age_seconds"].get<uint64_t>()).c_str());
  } else {
    std::printf("  last backup:  none yet\n");
  }
  if (s.contains("last_run") && s["last_run"].is_object())
    std::printf("  last run:     %s (%s)\n", ShowPath(Str(s["last_run"], "summary")).c_str(),
                When(s["last_run"], "finished").c_str());
  std::string jobs;
  for (const auto& j : s.value("jobs", json::array()))
    jobs += (jobs.empty() ? "" : ", ") + Str(j, "name") + " " + When(j, "next_due");
  if (!jobs.empty()) std::printf("  next jobs:    %s\n", jobs.c_str());
  if (Num(s, "excluded_total") > 0)
    std::printf(
        "  excluded:     %llu files and folders since start (exclude_patterns, "
        ".cairnignore, cache folders, editors' temporary files)\n",
        static_cast<unsigned long long>(Num(s, "excluded_total")));
  if (Num(s, "skipped_total") > 0)
    std::printf(
        "  skipped:      %llu files since start (too large, or not a file, folder "
        "or link)\n",
        static_cast<unsigned long long>(Num(s, "skipped_total")));
  if (s.contains("disk_free_bytes") && s["disk_free_bytes"].is_number())
    std::printf("  disk:         %s free of %s\n",
                HumanBytes(s["disk_free_bytes"].get<uint64_t>()).c_str(),
                HumanBytes(Num(s, "disk_total_bytes")).c_str());
  for (const auto& w : s.value("warnings", json::array()))
    std::printf("  WARNING:      %s\n", ShowPath(w.get<std::string>()).c_str());
  for (const auto& w : s.value("notices", json::array()))
    std::printf("  notice:       %s\n", ShowPath(w.get<std::string>()).c_str());
  const auto errors = s.value("recent_errors", json::array());
  const size_t shown = std::min<size_t>(errors.size(), 5);
  for (size_t i = errors.size() - shown; i < errors.size(); ++i)
    std::printf("  error:        %s\n", ShowPath(errors[i].get<std::string>()).c_str());
  if (!Str(s, "log_file").empty()) std::printf("  log file:     %s\n", Str(s, "log_file").c_str());
}

int Call(Context& ctx, const daemon::StatusRequest& request) {
  const std::vector<std::string> sockets =
      daemon::SocketPathsToTry(engine::ProcessEnvironment(), ::geteuid());
  if (sockets.empty())
    return ctx.Fail(Status::InvalidArgument(
        "cannot tell where the daemon's status socket is: neither XDG_RUNTIME_DIR nor HOME is "
        "set"));
  Result<json> answer = Status::NotFound("");
  for (const std::string& socket : sockets) {
    answer = daemon::CallDaemon(socket, request);
    if (answer.ok() || answer.error().code() != StatusCode::kNotFound) break;
  }
  if (!answer.ok()) {
    if (answer.error().code() == StatusCode::kNotFound)
      return NotRunning(ctx, sockets.front(), request.cmd);
    return ctx.Fail(answer.error());
  }
  json s = std::move(*answer);
  if (!s.value("ok", false))
    return ctx.Fail(Status::InvalidArgument("the daemon refused: " + Str(s, "error")));
  s.erase("ok");
  s["daemon_running"] = true;
  if (ctx.json()) {
    ctx.PrintJson(s);
    return kExitOk;
  }
  if (request.cmd == "pause") {
    const std::string until = When(s, "paused_until");
    ctx.Info(until.empty() ? "paused until `cairn resume`; changes are queued meanwhile"
                           : "paused until " + until + "; changes are queued meanwhile");
  } else if (request.cmd == "resume") {
    const uint64_t queued = Num(s, "queued");
    if (!s.value("was_paused", true))
      ctx.Info("cairn run was not paused; nothing to resume");
    else
      ctx.Info("resumed; " + std::to_string(queued) +
               (queued == 1 ? " queued change follows" : " queued changes follow") + " now");
  } else {
    PrintStatus(s);
  }
  return kExitOk;
}

}  // namespace

Result<uint64_t> ParsePauseDuration(const std::string& text) {
  // 90s, 30m, 2h, 1d, or combined: 1h30m.
  if (text.empty())
    return Status::InvalidArgument("empty duration: say how long, e.g. 30m, 2h or 1h30m");
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    uint64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + static_cast<uint64_t>(text[i] - '0');
      if (n > 100'000'000) return Status::InvalidArgument("duration too long: '" + text + "'");
      ++i;
    }
    if (i == start || i == text.size())
      return Status::InvalidArgument("bad duration '" + text +
                                     "': write a number and a unit (s, m, h, d), e.g. 30m, 2h "
                                     "or 1h30m");
    switch (text[i]) {
      case 's':
        total += n;
        break;
      case 'm':
        total += n * 60;
        break;
      case 'h':
        total += n * 3600;
        break;
      case 'd':
        total += n * 86400;
        break;
      default:
        return Status::InvalidArgument("bad duration '" + text + "': unknown unit '" +
                                       std::string(1, text[i]) + "' (use s, m, h or d)");
    }
    ++i;
  }
  return total;
}

int StatusCommand(Context& ctx) { return Call(ctx, {"status", std::nullopt}); }

int PauseCommand(Context& ctx, const std::string& duration) {
  daemon::StatusRequest r{"pause", std::nullopt};
  if (!duration.empty()) {
    auto secs = ParsePauseDuration(duration);
    if (!secs.ok()) return ctx.Fail(secs.error());
    r.seconds = *secs;
  }
  return Call(ctx, r);
}

int ResumeCommand(Context& ctx) { return Call(ctx, {"resume", std::nullopt}); }

}  // namespace cairn::cli
