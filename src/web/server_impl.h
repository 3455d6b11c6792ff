// The server's insides, shared by server.cc (start, security, sessions,
// static files, events) and api.cc (the JSON endpoints). Not for other
// modules.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/views.h"
#include "web/auth.h"
#include "web/jobs.h"
#include "web/server.h"

namespace cairn::web {

// Who made a request, once authenticated.
struct Caller {
  Scope scope = Scope::kNone;
  // "token", "readonly-token" or "session:<first 8 hex of its id>": for the
  // audit log (never the secret itself).
  std::string who;
  bool by_cookie = false;
  std::string csrf;  // the cookie session's
  std::string session_id;
};

class Server::Impl {
 public:
  explicit Impl(ServerOptions options);
  ~Impl();

  Status Init();
  Status Listen();
  void Stop();

  // ---- server.cc ----
  std::shared_ptr<engine::Session> CurrentSession() const { return o.session(); }
  std::optional<Caller> Authenticate(const httplib::Request& req);
  void Log(const std::string& line) const;
  void Audit(const httplib::Request& req, const std::string& what);
  std::string ClientAddress(const httplib::Request& req) const;
  void RegisterSecurity();
  void RegisterPages();
  void RegisterEvents();
  // ---- api.cc ----
  void RegisterApi();
  nlohmann::json StatusJson(bool with_stats);
  // Session::Stats without the space figures, as computed at most about 5 s
  // ago: the status is asked for by every dashboard and scraper, and the
  // totals walk the catalog (about 0.1 s for 100k files). A stale value is
  // returned at once and recomputed in the background; only the first call
  // (and the first after a settings change) computes in the request.
  Result<engine::RepositoryStats> CachedStats();
  // The body of stats_refresher.
  void RefreshStats(std::stop_token stop);
  nlohmann::json HealthJson(int* http_status);
  std::string MetricsText();

  ServerOptions o;
  std::unique_ptr<httplib::Server> http;
  std::string host;
  int port = 0;
  bool tls = false;
  std::string token, readonly_token, token_file, readonly_token_file;
  OriginPolicy policy;
  SessionStore sessions;
  LoginLimiter limiter;
  JobManager jobs;
  int64_t started_ns = 0;
  std::atomic<int> streams{0};
  std::atomic<bool> stopping{false};  // Stop began: event streams end
  static constexpr int kMaxStreams = 8;
  std::atomic<bool> listener_done{false};  // listen_after_bind returned
  std::jthread listener;
  std::jthread status_publisher;

  std::mutex settings_mu;  // one settings change at a time
  std::mutex stats_mu;
  std::optional<engine::RepositoryStats> stats_cache;
  int64_t stats_at = 0;
  bool stats_refresh = false;  // the refresher is asked to recompute (under stats_mu)
  std::condition_variable_any stats_cv;
  // Recomputes the stats when asked, so that no request waits for it
  // (declared after what it uses: destroyed, i.e. joined, first).
  std::jthread stats_refresher;

  std::mutex metrics_mu;
  std::map<int, uint64_t> responses_by_code;
};

// ---- helpers shared by the handlers ----

// Sends `j` (invalid UTF-8 in strings replaced by U+FFFD) with `status`.
void SendJson(httplib::Response& res, int status, const nlohmann::json& j);
// {"error": message, "code": code} with `status`.
void SendError(httplib::Response& res, int status, std::string_view code,
               const std::string& message);
// An engine error as HTTP: NotFound 404, InvalidArgument 400, Locked 409, ...
void SendStatus(httplib::Response& res, const Status& st);
int HttpStatusOf(const Status& st);

}  // namespace cairn::web
