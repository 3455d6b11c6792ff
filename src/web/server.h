// The web server: the dashboard and the REST API of docs/api.md, served by
// `cairn run` (beside the daemon) and `cairn serve` (alone).
//
// cpp-httplib (Debian's libcpp-httplib, built with OpenSSL) serves HTTP and
// HTTPS: a small, well-kept library with a bounded thread pool, request
// size limits and read/write timeouts, which is all a single-user
// dashboard on loopback needs; an event loop framework (Boost.Beast,
// Drogon) would add much more code to trust for no gain here.
//
// Every request passes the rules of auth.h before a handler sees it (Host,
// Origin, authentication, scope, CSRF); handlers call the engine only
// through engine::Session (the current one: under `cairn run` a settings
// reload replaces it) and, under `cairn run`, the daemon through
// ServiceControl. Long operations run as jobs (jobs.h).
//
// Thread-safety: Start, the accessors and the destructor from one thread;
// requests are served on the server's own threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace cairn::engine {
class Session;
}

namespace cairn::web {

// What `cairn run` adds to the server: the daemon's state and controls.
// cmd/cairn implements it over daemon::Service. Called from the server's
// threads.
class ServiceControl {
 public:
  virtual ~ServiceControl() = default;
  // The daemon's status, as `cairn status --json` gives it (secrets masked).
  virtual nlohmann::json Snapshot() = 0;
  // cairn pause (nullopt: until resumed) and cairn resume.
  virtual void Pause(std::optional<std::chrono::seconds> how_long) = 0;
  virtual void Resume() = 0;
  // The newest `lines` lines of the daemon's log file (empty: none).
  virtual std::vector<std::string> LogTail(size_t lines) = 0;
};

struct ServerOptions {
  // The session every request calls (required).
  std::function<std::shared_ptr<engine::Session>()> session;
  ServiceControl* service = nullptr;  // null under `cairn serve`
  // Where the server's own lines go: its address, refusals worth knowing,
  // and the audit log (every restore, download, cleanup, settings change
  // and login, with who). Never a token. Empty: nowhere.
  std::function<void(const std::string&)> log;
  std::string version;
  // Applies a settings file that PUT /api/settings changed: under `cairn
  // run` the daemon's reload (SIGHUP's), under `cairn serve` a new session.
  // Empty: the change is written but applied at the next start.
  std::function<Status()> reload_settings;
  // Instead of the settings' web.host / web.port (tests: port 0 = any free
  // port, see Server::port).
  std::optional<std::string> host;
  std::optional<int> port;
  // The pool serving connections: each open connection holds one thread
  // while it is read (at most the read timeout, 5 s, when it sends nothing).
  size_t threads = 64;
  // How often GET /api/events streams get a "status" event.
  std::chrono::milliseconds status_interval{std::chrono::seconds(5)};
  // How old the repository's totals in /api/status and /metrics may get
  // before they are recomputed (in the background: no request waits).
  std::chrono::milliseconds stats_max_age{std::chrono::seconds(5)};
  // When the process started (health: a service that has not backed up
  // yet is healthy for health_max_age_minutes after it). 0: now.
  int64_t started_ns = 0;
};

class Server {
 public:
  // Reads (or creates) the access tokens, checks the TLS rule (a
  // non-loopback host needs web.tls_cert/tls_key or
  // web.allow_insecure_remote: InvalidArgument saying so), binds (an
  // address in use is AlreadyExists naming it) and starts serving.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options);
  // Stops: running jobs are cancelled and waited for, event streams end,
  // the listener closes.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  std::string url() const;        // "http://127.0.0.1:5000/"
  std::string login_url() const;  // url() + "?token=..." (holds the secret: for the console only)
  const std::string& token_file() const;
  const std::string& readonly_token_file() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::web
