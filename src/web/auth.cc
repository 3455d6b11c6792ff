#include "web/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/bytes.h"
#include "base/errno_status.h"

namespace cairn::web {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// "host:port", "[v6]:port", "host" -> (host lower case without brackets,
// port or -1); nullopt when malformed.
std::optional<std::pair<std::string, int>> SplitHostPort(std::string_view hp) {
  std::string_view host = hp, port;
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = hp.substr(1, close - 1);
    // Brackets hold an IPv6 address and nothing else (RFC 3986 IP-literal):
    // "[127.0.0.1]" or "[localhost]" name no host this server answers to.
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return std::nullopt;
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    size_t colon = hp.rfind(':');
    if (colon != std::string_view::npos) {
      if (hp.find(':') != colon) return std::nullopt;  // a bare IPv6 address
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
    }
  }
  if (host.empty()) return std::nullopt;
  int p = -1;
  if (!port.empty() || hp.ends_with(":")) {
    if (port.empty() || port.size() > 5) return std::nullopt;
    p = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return std::nullopt;
  }
  return std::make_pair(Lower(host), p);
}

bool HostPortMatches(const OriginPolicy& policy, std::string_view hp, bool tls) {
  auto split = SplitHostPort(hp);
  if (!split) return false;
  const int default_port = tls ? 443 : 80;
  const int port = split->second < 0 ? default_port : split->second;
  if (port != policy.port) return false;
  return std::find(policy.hosts.begin(), policy.hosts.end(), split->first) != policy.hosts.end();
}

}  // namespace

std::string NewToken() {
  uint8_t raw[32];
  // The kernel's CSPRNG; getrandom blocks only before it is seeded at boot.
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
    if (n > 0)
      got += static_cast<size_t>(n);
    else if (errno != EINTR)
      std::abort();  // no randomness: never hand out a guessable token
  }
  return HexEncode(ByteView(raw, sizeof raw));
}

Result<std::string> LoadOrCreateToken(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      return Status::PermissionDenied("the web access token " + path +
                                      " can be read by other users; run `chmod 600 " + path +
                                      "` (and replace the token if others may have read it)");
    }
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) line.clear();
    std::string_view token = Trim(line);
    bool printable = std::all_of(token.begin(), token.end(),
                                 [](unsigned char c) { return c > ' ' && c < 0x7f; });
    if (token.size() < 32 || token.size() > 512 || !printable) {
      return Status::InvalidArgument(
          "the web access token file " + path +
          " holds no token (32 to 512 printable characters on its first line); delete it and a new "
          "one is generated at the next start");
    }
    return std::string(token);
  }
  if (errno != ENOENT) return ErrnoStatus(errno, "read the web access token", path);
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return Status::IOError("creating " + p.parent_path().string() + ": " + ec.message());
    ::chmod(p.parent_path().c_str(), 0700);
  }
  const std::string token = NewToken();
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "write the web access token", tmp);
  const std::string text = token + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "write the web access token", path);
  }
  return token;
}

bool SecretEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// ---- SessionStore ---------------------------------------------------------------

SessionStore::SessionStore(std::chrono::seconds idle, size_t max_sessions)
    : idle_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(idle).count()),
      max_(std::max<size_t>(1, max_sessions)) {}

SessionStore::Session SessionStore::Create(TimeNs now) {
  Session s{NewToken(), NewToken(), now};
  std::lock_guard lock(mu_);
  while (sessions_.size() >= max_) {
    auto oldest = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    sessions_.erase(oldest);
  }
  sessions_[s.id] = s;
  return s;
}

std::optional<SessionStore::Session> SessionStore::Find(std::string_view id, TimeNs now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  // Compared in constant time too: the map lookup already matched, but a
  // session id is a secret and this keeps the contract obvious.
  if (!SecretEquals(it->first, id)) return std::nullopt;
  if (now - it->second.last_used > idle_ns_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = std::max(it->second.last_used, now);
  return it->second;
}

void SessionStore::Remove(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) sessions_.erase(it);
}

size_t SessionStore::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

// ---- LoginLimiter ---------------------------------------------------------------

LoginLimiter::LoginLimiter(size_t max_failures, std::chrono::seconds window)
    : max_(std::max<size_t>(1, max_failures)),
      window_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(window).count()) {}

bool LoginLimiter::Allowed(const std::string& address, TimeNs now, int64_t* retry_after) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return true;
  std::vector<TimeNs>& f = it->second;
  std::erase_if(f, [&](TimeNs t) { return now - t >= window_ns_; });
  if (f.empty()) {
    failures_.erase(it);
    return true;
  }
  if (f.size() < max_) return true;
  if (retry_after != nullptr) {
    const int64_t wait_ns = f.front() + window_ns_ - now;
    *retry_after = std::max<int64_t>(1, (wait_ns + 999'999'999) / 1'000'000'000);
  }
  return false;
}

void LoginLimiter::Failed(const std::string& address, TimeNs now) {
  std::lock_guard lock(mu_);
  if (failures_.size() >= 10'000 && !failures_.contains(address)) {
    // A flood of addresses: forget the oldest-failing one rather than grow.
    auto oldest = std::min_element(
        failures_.begin(), failures_.end(),
        [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
    failures_.erase(oldest);
  }
  std::vector<TimeNs>& f = failures_[address];
  f.push_back(now);
  if (f.size() > max_) f.erase(f.begin(), f.end() - static_cast<ptrdiff_t>(max_));
}

// ---- Host and Origin ------------------------------------------------------------

bool IsLoopbackHost(std::string_view host) {
  std::string h = Lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h == "::1") return true;
  // 127.0.0.0/8 written as four numbers 0-255 ("127..." or "127.999.0.1"
  // name no address).
  in_addr a{};
  return h.starts_with("127.") && inet_pton(AF_INET, h.c_str(), &a) == 1;
}

OriginPolicy MakeOriginPolicy(const std::string& bound_host, int port, bool tls,
                              const std::vector<std::string>& allowed_hosts) {
  OriginPolicy p;
  p.port = port;
  p.tls = tls;
  auto add = [&p](std::string h) {
    h = Lower(h);
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (!h.empty() && std::find(p.hosts.begin(), p.hosts.end(), h) == p.hosts.end())
      p.hosts.push_back(std::move(h));
  };
  // 0.0.0.0 and :: are not names a browser uses for this server; the
  // machine's names must then come from web.allowed_hosts.
  if (bound_host != "0.0.0.0" && bound_host != "::") add(bound_host);
  if (IsLoopbackHost(bound_host) || bound_host == "0.0.0.0" || bound_host == "::") {
    add("127.0.0.1");
    add("localhost");
    add("::1");
  }
  for (const std::string& h : allowed_hosts) add(h);
  return p;
}

bool HostAllowed(const OriginPolicy& policy, std::string_view host_header) {
  return HostPortMatches(policy, Trim(host_header), policy.tls);
}

bool OriginAllowed(const OriginPolicy& policy, std::string_view origin) {
  origin = Trim(origin);
  const std::string_view scheme = policy.tls ? "https://" : "http://";
  if (origin.size() <= scheme.size() || Lower(origin.substr(0, scheme.size())) != scheme)
    return false;
  std::string_view rest = origin.substr(scheme.size());
  if (rest.find('/') != std::string_view::npos) return false;  // an origin has no path
  return HostPortMatches(policy, rest, policy.tls);
}

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = Trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (Trim(part.substr(0, eq)) == name) return std::string(Trim(part.substr(eq + 1)));
  }
  return {};
}

std::optional<std::string> BearerToken(std::string_view authorization) {
  authorization = Trim(authorization);
  if (authorization.size() < 7 || Lower(authorization.substr(0, 7)) != "bearer ")
    return std::nullopt;
  std::string_view token = Trim(authorization.substr(7));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

}  // namespace cairn::web
