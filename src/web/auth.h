// Who may talk to the dashboard and API (docs/api.md, "Authentication" and
// "Safety rules"): access tokens, cookie sessions with their CSRF tokens,
// the limit on failed logins, and the Host and Origin checks that keep
// hostile web pages and DNS rebinding out.
//
// Pure logic with no HTTP in it, so that each rule is tested alone
// (auth_test.cc); server.cc applies them to every request.
//
// Thread-safety: SessionStore and LoginLimiter are internally locked; the
// free functions are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time_util.h"

namespace cairn::web {

// What a request may do: kRead is the read-only token's (GET /metrics and
// GET /api/status), kFull everything.
enum class Scope { kNone, kRead, kFull };

// A fresh access token: 32 random bytes as 64 hex digits.
std::string NewToken();

// The token in `path`, or, when the file does not exist, a new one written
// there (mode 0600, its folder created 0700; written to a temporary file and
// renamed, so a crash leaves no half token). A file that exists but holds no
// token (empty, or not 32..512 printable characters on its first line) is
// InvalidArgument naming it; one readable by others is PermissionDenied
// (the token restores any file: keep it 0600).
Result<std::string> LoadOrCreateToken(const std::string& path);

// Compares secrets in time independent of where they differ.
bool SecretEquals(std::string_view a, std::string_view b);

// Cookie sessions: a random id (the cookie) -> its CSRF token. A session
// ends `idle` after its last use, on logout, or when the server restarts
// (they live in memory only). At most `max_sessions`; beyond that the least
// recently used goes.
class SessionStore {
 public:
  struct Session {
    std::string id;    // the cookie's value (64 hex digits)
    std::string csrf;  // the X-CSRF-Token state-changing requests must carry
    TimeNs last_used = 0;
  };
  explicit SessionStore(std::chrono::seconds idle = std::chrono::hours(24 * 7),
                        size_t max_sessions = 1000);
  Session Create(TimeNs now);
  // The session with this id, its last use set to `now`; nullopt when there
  // is none or it expired (then it is removed).
  std::optional<Session> Find(std::string_view id, TimeNs now);
  void Remove(std::string_view id);
  size_t size() const;

 private:
  const int64_t idle_ns_;
  const size_t max_;
  mutable std::mutex mu_;
  std::map<std::string, Session, std::less<>> sessions_;
};

// Failed logins per client address: at most `max_failures` within `window`;
// beyond that Allowed answers false (with how long to wait) until the
// oldest failure leaves the window. Remembers at most 10,000 addresses.
class LoginLimiter {
 public:
  explicit LoginLimiter(size_t max_failures = 10,
                        std::chrono::seconds window = std::chrono::seconds(60));
  // False when `address` must wait; *retry_after (seconds, >= 1) then says
  // how long.
  bool Allowed(const std::string& address, TimeNs now, int64_t* retry_after);
  void Failed(const std::string& address, TimeNs now);

 private:
  const size_t max_;
  const int64_t window_ns_;
  std::mutex mu_;
  std::map<std::string, std::vector<TimeNs>> failures_;
};

// Which Host and Origin values name this server.
struct OriginPolicy {
  // Host names or addresses (lower case; IPv6 without brackets) a request
  // may name: the bound address, on loopback also 127.0.0.1, localhost and
  // ::1, and web.allowed_hosts.
  std::vector<std::string> hosts;
  int port = 0;
  bool tls = false;
};

// True for 127.0.0.0/8, ::1 and localhost (what only this machine reaches).
bool IsLoopbackHost(std::string_view host);

OriginPolicy MakeOriginPolicy(const std::string& bound_host, int port, bool tls,
                              const std::vector<std::string>& allowed_hosts);

// The Host header names this server: an allowed host with our port (or no
// port when ours is the scheme's default). Case-insensitive; "[::1]:5000"
// for IPv6. An empty header is refused.
bool HostAllowed(const OriginPolicy& policy, std::string_view host_header);

// The Origin header names the dashboard itself: our scheme, an allowed host
// and our port. "null" (sandboxed frames, file:// pages) is refused.
bool OriginAllowed(const OriginPolicy& policy, std::string_view origin);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), "" if absent.
std::string CookieValue(std::string_view header, std::string_view name);

// "Bearer X" -> "X"; nullopt when the header is not a Bearer credential.
std::optional<std::string> BearerToken(std::string_view authorization);

}  // namespace cairn::web
