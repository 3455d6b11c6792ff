#include "web/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "base/time_util.h"
#include "engine/session.h"
#include "web/assets.h"
#include "web/server_impl.h"

namespace cairn::web {

using nlohmann::json;

namespace {

constexpr size_t kMaxBody = 1 << 20;  // request bodies: 1 MiB
constexpr const char* kCookie = "cairn_session";
constexpr int64_t kCookieMaxAge = 7 * 24 * 3600;

bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

bool StateChanging(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// What needs no credentials: the health check, the login, the dashboard's
// own files (they hold no data) and the API's description.
bool IsPublic(const httplib::Request& req) {
  const std::string& p = req.path;
  if (p == "/health" || p == "/api/openapi.json") return true;
  if (p == "/api/login" && req.method == "POST") return true;
  if (req.method != "GET" && req.method != "HEAD") return false;
  return !StartsWith(p, "/api/") && p != "/api" && p != "/metrics";
}

// The read-only token's endpoints.
bool ReadScopeAllows(const httplib::Request& req) {
  if (req.method != "GET" && req.method != "HEAD") return req.path == "/api/logout";
  return req.path == "/metrics" || req.path == "/api/status" || req.path == "/api/session";
}

// cpp-httplib listens with a backlog of 5 (compiled into Debian's library):
// a burst of new connections beyond it waits for SYN retries, seconds each.
// listen() again on the bound socket raises it (Linux updates the backlog of
// a listening socket); the socket is found as ours by its port.
void RaiseListenBacklog(int port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (dirent* e = ::readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == ::dirfd(dir)) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (bound == port) ::listen(fd, 1024);
  }
  ::closedir(dir);
}

}  // namespace

// ---- responses ----------------------------------------------------------------------

namespace {

// cpp-httplib 0.11 compresses a response with brotli at quality 11 whenever
// the client accepts "br" (browsers do over HTTPS only): 0.4 s for a 1 MB
// timeline, 20 times gzip's cost for a few percent fewer bytes. The server
// answers as if the client had not offered it. (The request is a handler's
// const view of the server's own mutable object; its encoding is read after
// routing, when the response is written.)
void DeclineBrotli(const httplib::Request& req) {
  if (!req.has_header("Accept-Encoding")) return;
  const std::string offered = req.get_header_value("Accept-Encoding");
  if (offered.find("br") == std::string::npos) return;
  std::string kept;
  size_t start = 0;
  while (start <= offered.size()) {
    size_t end = offered.find(',', start);
    if (end == std::string::npos) end = offered.size();
    std::string token = offered.substr(start, end - start);
    const size_t b = token.find_first_not_of(" \t");
    token = b == std::string::npos ? std::string() : token.substr(b);
    // httplib looks for the bytes "br" anywhere: drop every coding that has them.
    if (!token.empty() && token.find("br") == std::string::npos) {
      if (!kept.empty()) kept += ", ";
      kept += token;
    }
    start = end + 1;
  }
  auto& headers = const_cast<httplib::Request&>(req).headers;
  headers.erase("Accept-Encoding");
  if (!kept.empty()) headers.emplace("Accept-Encoding", kept);
}

}  // namespace

void SendJson(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, int status, std::string_view code,
               const std::string& message) {
  SendJson(res, status, json{{"error", message}, {"code", code}});
}

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kLocked:
    case StatusCode::kAlreadyExists:
    case StatusCode::kPreconditionFailed:
    case StatusCode::kCancelled:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnavailable:
    case StatusCode::kNoRepository:
      return 503;
    case StatusCode::kNoSpace:
      return 507;
    default:
      return 500;
  }
}

void SendStatus(httplib::Response& res, const Status& st) {
  SendError(res, HttpStatusOf(st), StatusCodeName(st.code()), st.message());
}

// ---- Server ---------------------------------------------------------------------------

Server::Impl::Impl(ServerOptions options)
    : o(std::move(options)), started_ns(o.started_ns != 0 ? o.started_ns : NowNs()) {}

Server::Impl::~Impl() { Stop(); }

void Server::Impl::Log(const std::string& line) const {
  if (o.log) o.log(line);
}

std::string Server::Impl::ClientAddress(const httplib::Request& req) const {
  return req.remote_addr.empty() ? "?" : req.remote_addr;
}

void Server::Impl::Audit(const httplib::Request& req, const std::string& what) {
  auto caller = Authenticate(req);
  Log("audit: " + what + " (by " + (caller ? caller->who : std::string("?")) + " from " +
      ClientAddress(req) + ")");
}

Status Server::Impl::Init() {
  if (!o.session) return Status::InvalidArgument("web server: no session");
  std::shared_ptr<engine::Session> session = o.session();
  if (!session) return Status::InvalidArgument("web server: no session");
  const config::Settings& s = session->settings();
  host = o.host.value_or(s.web_host);
  port = o.port.value_or(s.web_port);
  tls = !s.web_tls_cert.empty();
  if (!IsLoopbackHost(host) && !tls && !s.web_allow_insecure_remote) {
    return Status::InvalidArgument(
        "web.host is " + host +
        ", an address other machines can reach, but the dashboard restores any of your files: "
        "give it TLS (web.tls_cert and web.tls_key) or, on a network you trust, set "
        "web.allow_insecure_remote: true; or keep web.host: 127.0.0.1");
  }
  const std::string& dir = session->config().config_dir;
  token_file = s.web_token_file.empty() ? dir + "/web-token" : s.web_token_file;
  readonly_token_file =
      s.web_readonly_token_file.empty() ? dir + "/web-token-readonly" : s.web_readonly_token_file;
  CAIRN_ASSIGN_OR_RETURN(token, LoadOrCreateToken(token_file));
  CAIRN_ASSIGN_OR_RETURN(readonly_token, LoadOrCreateToken(readonly_token_file));
  if (SecretEquals(token, readonly_token)) {
    return Status::InvalidArgument("the web access tokens in " + token_file + " and " +
                                   readonly_token_file +
                                   " are the same; delete the read-only one to have it replaced");
  }
  if (tls) {
    auto ssl = std::make_unique<httplib::SSLServer>(s.web_tls_cert.c_str(), s.web_tls_key.c_str());
    if (!ssl->is_valid()) {
      return Status::InvalidArgument("cannot use the TLS certificate " + s.web_tls_cert +
                                     " with the key " + s.web_tls_key +
                                     ": check that both exist, are PEM and belong together");
    }
    http = std::move(ssl);
  } else {
    http = std::make_unique<httplib::Server>();
  }
  const size_t threads = std::max<size_t>(4, o.threads);
  http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http->set_payload_max_length(kMaxBody);
  http->set_read_timeout(std::chrono::seconds(5));
  http->set_write_timeout(std::chrono::seconds(30));
  // An idle keep-alive connection holds a thread (and a stop) this long.
  http->set_keep_alive_timeout(2);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second cairn could listen on the same port and take half the requests.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  // A keep-alive connection keeps its thread until it goes quiet: after 100
  // requests it must reconnect, so that 200 busy clients share the pool.
  http->set_keep_alive_max_count(100);
  // Answers leave at once: without it, Nagle's algorithm and the client's
  // delayed acknowledgement add ~40 ms to every small answer (measured:
  // bench/results/web.md).
  http->set_tcp_nodelay(true);
  RegisterSecurity();
  RegisterApi();
  RegisterEvents();
  RegisterPages();
  return Status::OK();
}

Status Server::Impl::Listen() {
  if (port == 0) {
    port = http->bind_to_any_port(host);
    if (port <= 0) return Status::IOError("cannot listen on " + host + ": no free port");
  } else if (!http->bind_to_port(host, port)) {
    return Status::AlreadyExists(
        "cannot listen on " + host + ":" + std::to_string(port) +
        ": the address is in use (another `cairn run` or `cairn serve`, or another program) or "
        "not this machine's; choose another web.port or web.host in the settings");
  }
  RaiseListenBacklog(port);
  const std::shared_ptr<engine::Session> session = o.session();
  policy = MakeOriginPolicy(host, port, tls, session->settings().web_allowed_hosts);
  listener = std::jthread([this] {
    http->listen_after_bind();
    listener_done = true;
  });
  // httplib's stop() does nothing until the accept loop has begun: a Stop
  // that came first (a server stopped right after Start, on a busy machine
  // where the listener thread had not run yet) left the loop running and
  // Stop waiting for it for ever. Serving means the loop runs.
  while (!http->is_running() && !listener_done)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  stats_refresher = std::jthread([this](std::stop_token stop) { RefreshStats(stop); });
  status_publisher = std::jthread([this](std::stop_token stop) {
    while (SleepUnlessStopped(stop, o.status_interval)) {
      if (streams.load() > 0) jobs.Publish("status", StatusJson(false));
    }
  });
  return Status::OK();
}

void Server::Impl::Stop() {
  stopping = true;
  jobs.Shutdown();  // streams end, jobs are asked to stop
  for (std::jthread* t : {&status_publisher, &stats_refresher}) {
    if (t->joinable()) {
      t->request_stop();
      t->join();
    }
  }
  if (http) http->stop();
  if (listener.joinable()) listener.join();
}

std::optional<Caller> Server::Impl::Authenticate(const httplib::Request& req) {
  if (req.has_header("Authorization")) {
    auto bearer = BearerToken(req.get_header_value("Authorization"));
    if (!bearer) return std::nullopt;
    if (SecretEquals(*bearer, token)) return Caller{Scope::kFull, "token", false, "", ""};
    if (SecretEquals(*bearer, readonly_token))
      return Caller{Scope::kRead, "readonly-token", false, "", ""};
    return std::nullopt;
  }
  const std::string id = CookieValue(req.get_header_value("Cookie"), kCookie);
  if (id.empty()) return std::nullopt;
  auto s = sessions.Find(id, NowNs());
  if (!s) return std::nullopt;
  return Caller{Scope::kFull, "session:" + s->id.substr(0, 8), true, s->csrf, s->id};
}

void Server::Impl::RegisterSecurity() {
  http->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    DeclineBrotli(req);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                   "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                   "base-uri 'none'; form-action 'self'");
    // DNS rebinding: a hostile name resolving to this machine still names
    // itself in Host.
    const std::string host_header = req.get_header_value("Host");
    if (!HostAllowed(policy, host_header)) {
      SendError(res, 421, "wrong host",
                "this server answers to " + std::string(tls ? "https" : "http") + "://" +
                    (policy.hosts.empty() ? host : policy.hosts.front()) + ":" +
                    std::to_string(port) + " only, not to host '" + host_header +
                    "'; add the name to web.allowed_hosts if it is yours");
      return R::Handled;
    }
    // A page of another site may make the browser send requests here, but
    // the browser names that site in Origin.
    if (req.has_header("Origin") && !OriginAllowed(policy, req.get_header_value("Origin"))) {
      SendError(res, 403, "forbidden",
                "requests from another site's pages (Origin " + req.get_header_value("Origin") +
                    ") are refused");
      return R::Handled;
    }
    if (IsPublic(req)) return R::Unhandled;
    const std::string address = ClientAddress(req);
    int64_t retry_after = 0;
    std::optional<Caller> caller = Authenticate(req);
    if (!caller) {
      const bool tried = req.has_header("Authorization");
      if (tried && !limiter.Allowed(address, NowNs(), &retry_after)) {
        res.set_header("Retry-After", std::to_string(retry_after));
        SendError(res, 429, "too many requests",
                  "too many wrong access tokens from " + address + "; try again in " +
                      std::to_string(retry_after) + " s");
        return R::Handled;
      }
      if (tried) limiter.Failed(address, NowNs());
      SendError(res, 401, "unauthenticated",
                tried ? "the access token is wrong; it is in the file " + token_file
                      : "log in first: open the link `cairn run` or `cairn serve` printed, or send "
                        "`Authorization: Bearer TOKEN` with the token from " +
                            token_file);
      return R::Handled;
    }
    if (caller->scope == Scope::kRead && !ReadScopeAllows(req)) {
      SendError(res, 403, "forbidden",
                "the read-only token gives /metrics and /api/status only; use the full token for "
                "this");
      return R::Handled;
    }
    // A cookie session needs its CSRF token on every API request: the
    // cookie alone could have been sent here by a page of another port of
    // this machine (cookies do not tell ports apart), the token lives in
    // this origin's storage only. GET may pass it as ?csrf= (downloads,
    // event streams, which cannot set headers).
    if (caller->by_cookie) {
      std::string sent = req.get_header_value("X-CSRF-Token");
      if (sent.empty() && !StateChanging(req.method)) sent = req.get_param_value("csrf");
      if (sent.empty() || !SecretEquals(sent, caller->csrf)) {
        SendError(res, 403, "forbidden",
                  "this request lacks the session's CSRF token (header X-CSRF-Token); reload the "
                  "dashboard, or log in again");
        return R::Handled;
      }
    }
    return R::Unhandled;
  });
  http->set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(metrics_mu);
    ++responses_by_code[res.status];
  });
  http->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // httplib's own refusals (413 for a body above the limit, 404 for an
    // unknown route, 400 for a malformed request) as JSON too.
    if (!res.body.empty() || res.content_length_ > 0) return;
    switch (res.status) {
      case 413:
        SendError(res, 413, "too large", "the request body is larger than 1 MiB");
        break;
      case 404:
        SendError(res, 404, "not found", "no such endpoint: " + req.method + " " + req.path);
        break;
      case 416:
        SendError(res, 416, "invalid argument", "the requested range is not in the file");
        break;
      default:
        SendError(res, res.status, res.status < 500 ? "invalid argument" : "internal",
                  "the request could not be served (HTTP " + std::to_string(res.status) + ")");
    }
  });
  http->set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, const std::exception_ptr& ep) {
        std::string what = "unknown error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        Log("web: " + req.method + " " + req.path + " failed: " + what);
        SendError(res, 500, "internal", "the server failed to answer: " + what);
      });
}

void Server::Impl::RegisterPages() {
  // Login: the link `cairn run` prints (/?token=...) and the login page's form.
  auto start_session = [this](httplib::Response& res) {
    SessionStore::Session s = sessions.Create(NowNs());
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + s.id +
                                     "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(kCookieMaxAge) + (tls ? "; Secure" : ""));
    return s;
  };
  http->Post("/api/login", [this, start_session](const httplib::Request& req,
                                                 httplib::Response& res) {
    const std::string address = ClientAddress(req);
    int64_t retry_after = 0;
    if (!limiter.Allowed(address, NowNs(), &retry_after)) {
      res.set_header("Retry-After", std::to_string(retry_after));
      SendError(res, 429, "too many requests",
                "too many wrong access tokens; try again in " + std::to_string(retry_after) + " s");
      return;
    }
    json body = json::parse(req.body, nullptr, false);
    std::string given = body.is_object() && body.contains("token") && body["token"].is_string()
                            ? body["token"].get<std::string>()
                            : std::string();
    // Pasted with spaces or a newline around it.
    while (!given.empty() && std::isspace(static_cast<unsigned char>(given.back())))
      given.pop_back();
    while (!given.empty() && std::isspace(static_cast<unsigned char>(given.front())))
      given.erase(0, 1);
    if (given.empty() || !SecretEquals(given, token)) {
      limiter.Failed(address, NowNs());
      Log("web: a login with a wrong access token from " + address);
      SendError(res, 401, "unauthenticated",
                "that is not the access token; it is in the file " + token_file +
                    " (or use the link `cairn run` printed)");
      return;
    }
    SessionStore::Session s = start_session(res);
    Log("audit: login (session:" + s.id.substr(0, 8) + " from " + address + ")");
    SendJson(res, 200,
             {{"authenticated", true},
              {"scope", "full"},
              {"who", "session:" + s.id.substr(0, 8)},
              {"csrf", s.csrf}});
  });
  http->Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = CookieValue(req.get_header_value("Cookie"), kCookie);
    if (!id.empty()) sessions.Remove(id);
    res.set_header("Set-Cookie", std::string(kCookie) +
                                     "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
                                     (tls ? "; Secure" : ""));
    res.status = 204;
  });
  http->Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
    auto caller = Authenticate(req);
    SendJson(res, 200,
             {{"authenticated", true},
              {"scope", caller->scope == Scope::kFull ? "full" : "read"},
              {"who", caller->who},
              {"device", CurrentSession()->device()},
              {"version", o.version},
              {"mode", o.service != nullptr ? "run" : "serve"}});
  });

  // The dashboard's files; any other path is the page itself (its router
  // shows /login, /files, ...).
  http->Get(R"(/.*)", [this, start_session](const httplib::Request& req, httplib::Response& res) {
    if (StartsWith(req.path, "/api/") || req.path == "/api") {
      SendError(res, 404, "not found", "no such endpoint: GET " + req.path);
      return;
    }
    if (req.has_param("token")) {
      // The login link: a session, and the token out of the address bar.
      // The CSRF token goes to the page in the fragment (never sent to a
      // server, not in logs); the page keeps it in this origin's storage.
      const std::string address = ClientAddress(req);
      int64_t retry_after = 0;
      if (!limiter.Allowed(address, NowNs(), &retry_after)) {
        res.set_header("Retry-After", std::to_string(retry_after));
        SendError(
            res, 429, "too many requests",
            "too many wrong access tokens; try again in " + std::to_string(retry_after) + " s");
        return;
      }
      if (!SecretEquals(req.get_param_value("token"), token)) {
        limiter.Failed(address, NowNs());
        Log("web: a login link with a wrong access token from " + address);
        res.set_redirect("/#/login?failed=1", 303);
        return;
      }
      SessionStore::Session s = start_session(res);
      Log("audit: login by link (session:" + s.id.substr(0, 8) + " from " + address + ")");
      res.set_redirect("/#csrf=" + s.csrf, 303);
      return;
    }
    const Asset* asset = FindAsset(req.path);
    if (asset == nullptr) asset = FindAsset("/index.html");
    if (asset == nullptr) {
      SendError(res, 500, "internal", "the dashboard's files are missing from this build");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_content(asset->data.data(), asset->data.size(), std::string(asset->content_type));
  });
}

void Server::Impl::RegisterEvents() {
  http->Get("/api/events", [this](const httplib::Request&, httplib::Response& res) {
    if (streams.load() >= kMaxStreams) {
      SendError(res, 503, "unavailable",
                "too many event streams are open (" + std::to_string(kMaxStreams) +
                    "); close other dashboard tabs");
      return;
    }
    ++streams;
    auto last = std::make_shared<uint64_t>(jobs.LastSeq());
    auto first = std::make_shared<bool>(true);
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, last, first](size_t, httplib::DataSink& sink) {
          if (*first) {
            *first = false;
            std::string hello =
                "retry: 3000\nevent: status\ndata: " +
                StatusJson(false).dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
            return sink.write(hello.data(), hello.size());
          }
          std::vector<WebEvent> events = jobs.EventsAfter(*last, std::chrono::seconds(15));
          std::string out;
          for (const WebEvent& e : events) {
            *last = std::max(*last, e.seq);
            out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type +
                   "\ndata: " + e.data.dump(-1, ' ', false, json::error_handler_t::replace) +
                   "\n\n";
          }
          if (stopping.load()) {
            sink.done();
            return true;
          }
          if (out.empty()) out = ": keep-alive\n\n";
          if (!sink.is_writable()) return false;
          return sink.write(out.data(), out.size());
        },
        [this](bool) { --streams; });
  });
}

// ---- Server (public) --------------------------------------------------------------------

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  CAIRN_RETURN_IF_ERROR(impl->Init());
  CAIRN_RETURN_IF_ERROR(impl->Listen());
  impl->Log("dashboard: " + std::string(impl->tls ? "https" : "http") + "://" +
            (impl->host.find(':') != std::string::npos ? "[" + impl->host + "]" : impl->host) +
            ":" + std::to_string(impl->port) + "/ (access token in " + impl->token_file + ")");
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }

std::string Server::url() const {
  std::string h = impl_->host;
  if (h == "0.0.0.0" || h == "::") h = "127.0.0.1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return std::string(impl_->tls ? "https" : "http") + "://" + h + ":" +
         std::to_string(impl_->port) + "/";
}

std::string Server::login_url() const { return url() + "?token=" + impl_->token; }
const std::string& Server::token_file() const { return impl_->token_file; }
const std::string& Server::readonly_token_file() const { return impl_->readonly_token_file; }

}  // namespace cairn::web
