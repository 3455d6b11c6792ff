// Service: the whole of `cairn run` as an operated service. It wires the
// daemon (daemon.h: watching, batches, scheduled jobs) to what operates it:
//   - the log (log.h): stderr (the journal under systemd) and the rotating
//     file logging.file, every line through the Redactor, so no secret is
//     written; the level follows the settings on a reload;
//   - alerts (alerts.h): alerts.command / alerts.webhook_url when a backup
//     run fails (the first failure, then once per alerts.stale_after_hours
//     while failures go on)
//     and when no backup has succeeded for alerts.stale_after_hours, and
//     once more when backups work again; delivered from a thread of their
//     own, so a slow webhook never holds backups up;
//   - systemd (notify.h): READY=1 once watching, STATUS= after each run,
//     RELOADING=1 / READY=1 around a reload, STOPPING=1, and WATCHDOG=1
//     while the daemon's loop or a running job shows signs of life;
//   - the status socket (status_socket.h) for `cairn status`, `cairn pause`
//     and `cairn resume`; when another daemon already answers on it, this
//     one runs without (and says so).
//
// Thread-safety: Run on one thread; RequestReload, AddSecret, Status from
// any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <string_view>

#include "base/status.h"
#include "daemon/daemon.h"
#include "daemon/status_socket.h"

namespace cairn::daemon {

class Logger;
class Notifier;
class Watchdog;

struct ServiceOptions {
  // The daemon's options; its hooks are the service's (any set here are
  // called as well, after the service's).
  DaemonOptions daemon;
  // Like std::getenv; empty: the process's environment.
  std::function<const char*(const char*)> getenv;
  // Console lines (nullptr: none) and the status socket ("" =
  // DefaultSocketPath for this process's uid).
  std::FILE* console = stderr;
  std::string socket_path;
  // The watchdog counts the daemon alive while its loop or a job showed a
  // sign of life within this.
  std::chrono::seconds alive_within{std::chrono::seconds(90)};
  std::string version;  // shown by status
};

class Service {
 public:
  // Reads the settings (through daemon.make_session), opens the log and the
  // alert sink, and creates the daemon (daemon.h: refused when another
  // daemon protects the same repository and device). A log file that cannot
  // be opened is a warning on the console, not a failure: protection
  // matters more than its log.
  static Result<std::unique_ptr<Service>> Create(ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Serves until `stop` (Daemon::Run), then says STOPPING=1 and returns.
  Status Run(std::stop_token stop);
  void RequestReload();
  // Masks `secret` in every later log line and alert (a password typed at
  // the prompt).
  void AddSecret(std::string_view secret);

  // The answer to `cairn status` (the status socket's "status").
  nlohmann::json StatusAnswer() const;

  Daemon& daemon() { return *daemon_; }
  // A line for the service's log (stderr and the log file, secrets masked):
  // for front ends running beside the daemon (the web server's audit log).
  void Log(LogLevel level, const std::string& text);
  // The newest `lines` lines of the log file (empty without one).
  std::vector<std::string> LogTail(size_t lines) const;
  const std::string& log_file() const;
  const std::string& socket_path() const { return socket_path_; }

 private:
  class Alerts;
  explicit Service(ServiceOptions options);
  void OnRun(const RunReport& report);
  void OnReady();
  void OnAlive();
  void OnReloaded(const Status& st);
  void ApplySettings(const config::Settings& s);
  Result<nlohmann::json> Handle(const StatusRequest& request);

  ServiceOptions options_;
  const WallClock& clock_;
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<Alerts> alerts_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<StatusServer> status_server_;
  std::unique_ptr<Daemon> daemon_;
  std::string socket_path_;
  std::string location_, device_;
  TimeNs started_ = 0;
  // steady_clock ns of the last sign of life (loop turn, job progress).
  std::atomic<int64_t> last_alive_{0};
};

// The daemon's part of `cairn status --json` (docs/cli.md): the snapshot,
// times as RFC 3339 with ages in seconds as of `now`.
nlohmann::json SnapshotJson(const DaemonSnapshot& snap, TimeNs now);

}  // namespace cairn::daemon
