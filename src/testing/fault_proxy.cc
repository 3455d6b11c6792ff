#include "testing/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>

#include "base/bytes.h"
#include "base/errno_status.h"

namespace cairn::testing {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxHead = 64 << 10;
constexpr int kForever = -1;  // poll timeout

std::string Errno(const char* what) { return std::string(what) + ": " + ErrnoText(errno); }

int Millis(std::chrono::seconds s) { return static_cast<int>(s.count() * 1000); }

void SetNoDelay(int fd) {
  int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// The target with the value of a sig= query parameter (a SAS signature)
// replaced.
std::string Redact(std::string_view target) {
  std::string out(target);
  size_t q = out.find('?');
  if (q == std::string::npos) return out;
  size_t pos = q + 1;
  while (pos < out.size()) {
    size_t amp = out.find('&', pos);
    size_t end = amp == std::string::npos ? out.size() : amp;
    if (out.compare(pos, 4, "sig=") == 0) {
      out.replace(pos + 4, end - pos - 4, "REDACTED");
      end = pos + 4 + 8;
    }
    pos = end + 1;
  }
  return out;
}

std::string HttpDateNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// An HTTP message head, parsed.
struct Head {
  std::string raw;                             // start line through the blank line, as received
  std::string first;                           // the start line
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

bool ParseHead(std::string raw, Head* head) {
  head->raw = std::move(raw);
  std::string_view rest(head->raw);
  size_t eol = rest.find("\r\n");
  if (eol == std::string_view::npos) return false;
  head->first = std::string(rest.substr(0, eol));
  rest.remove_prefix(eol + 2);
  while (true) {
    eol = rest.find("\r\n");
    if (eol == std::string_view::npos || eol == 0) break;
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    head->headers[AsciiLower(TrimSpace(line.substr(0, colon)))] =
        std::string(TrimSpace(line.substr(colon + 1)));
  }
  return true;
}

enum class Framing { kNone, kLength, kChunked, kUntilClose };

struct BodyFraming {
  Framing framing = Framing::kNone;
  uint64_t length = 0;
};

BodyFraming RequestFraming(const Head& head) {
  if (AsciiLower(head.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    return {Framing::kChunked, 0};
  }
  std::string cl = head.Header("content-length");
  if (!cl.empty()) return {Framing::kLength, std::strtoull(cl.c_str(), nullptr, 10)};
  return {};
}

BodyFraming ResponseFraming(const Head& head, std::string_view request_method, int status) {
  if (request_method == "HEAD" || status / 100 == 1 || status == 204 || status == 304) return {};
  if (AsciiLower(head.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    return {Framing::kChunked, 0};
  }
  std::string cl = head.Header("content-length");
  if (!cl.empty()) return {Framing::kLength, std::strtoull(cl.c_str(), nullptr, 10)};
  return {Framing::kUntilClose, 0};
}

int StatusOf(const Head& response) {
  // "HTTP/1.1 201 Created"
  size_t sp = response.first.find(' ');
  if (sp == std::string::npos) return 0;
  return std::atoi(response.first.c_str() + sp + 1);
}

// A canned Azure-style error response.
std::string ErrorResponse(int status, std::string_view reason, std::string_view code,
                          std::string_view message, int retry_after, bool head_request) {
  static std::atomic<uint64_t> request_counter{0};
  char request_id[40];
  std::snprintf(request_id, sizeof(request_id), "00000000-fa17-4000-8000-%012llu",
                static_cast<unsigned long long>(request_counter.fetch_add(1) % 1000000000000));
  std::string body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" + std::string(code) +
                     "</Code><Message>" + std::string(message) +
                     "\nRequestId:" + std::string(request_id) + "\nTime:" + HttpDateNow() +
                     "</Message></Error>";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Content-Type: application/xml\r\n";
  out += "Server: cairn-fault-proxy\r\n";
  out += "x-ms-error-code: " + std::string(code) + "\r\n";
  out += "x-ms-request-id: " + std::string(request_id) + "\r\n";
  out += "x-ms-version: 2023-11-03\r\n";
  out += "Date: " + HttpDateNow() + "\r\n";
  if (retry_after >= 0) out += "Retry-After: " + std::to_string(retry_after) + "\r\n";
  out += "\r\n";
  if (!head_request) out += body;
  return out;
}

}  // namespace

std::string_view FaultActionName(FaultAction action) {
  switch (action) {
    case FaultAction::kForward:
      return "forward";
    case FaultAction::kServerBusy:
      return "server-busy";
    case FaultAction::kInternalError:
      return "internal-error";
    case FaultAction::kResetBeforeForward:
      return "reset-before-forward";
    case FaultAction::kLoseResponse:
      return "lose-response";
    case FaultAction::kStall:
      return "stall";
    case FaultAction::kTruncateBody:
      return "truncate-body";
    case FaultAction::kTooManyRequests:
      return "too-many-requests";
  }
  return "?";
}

// A non-blocking socket with a read buffer. Every wait also watches the
// proxy's wake pipe, so stopping the proxy ends it at once.
class FaultProxy::Connection {
 public:
  Connection(int fd, int wake) : fd_(fd), wake_(wake) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to host:port (numeric IPv4).
  static std::unique_ptr<Connection> Dial(const std::string& host, int port, int wake,
                                          int timeout_ms) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return nullptr;
    auto conn = std::make_unique<Connection>(fd, wake);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return nullptr;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (errno != EINPROGRESS || !conn->Wait(POLLOUT, timeout_ms)) return nullptr;
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return nullptr;
    }
    SetNoDelay(fd);
    return conn;
  }

  // Waits until `events` are ready on the socket: false on stop, timeout,
  // or error.
  bool Wait(short events, int timeout_ms) {
    pollfd fds[2] = {{fd_, events, 0}, {wake_, POLLIN, 0}};
    while (true) {
      int n = ::poll(fds, 2, timeout_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      if (fds[1].revents != 0) return false;
      return fds[0].revents != 0;  // POLLHUP/POLLERR too: the next call reports it
    }
  }

  // Reads what is available into the buffer: > 0 bytes read, 0 at the end
  // of the stream, < 0 on error, stop or timeout.
  ssize_t Fill(int timeout_ms) {
    char chunk[64 << 10];
    while (true) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
        return n;
      }
      if (n == 0) return 0;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!Wait(POLLIN, timeout_ms)) return -1;
    }
  }

  bool WriteAll(std::string_view data, int timeout_ms) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!Wait(POLLOUT, timeout_ms)) return false;
        continue;
      }
      return false;
    }
    return true;
  }

  enum class Got { kOk, kEnd, kError };

  // Reads a message head. kEnd: the peer closed before sending a byte of it.
  Got ReadHead(Head* head, int timeout_ms) {
    size_t searched = 0;
    while (true) {
      size_t end = buf_.find("\r\n\r\n", searched > 3 ? searched - 3 : 0);
      if (end != std::string::npos) {
        if (!ParseHead(Take(end + 4), head)) return Got::kError;
        return Got::kOk;
      }
      searched = buf_.size();
      if (buf_.size() > kMaxHead) return Got::kError;
      ssize_t n = Fill(timeout_ms);
      if (n == 0) return buf_.empty() ? Got::kEnd : Got::kError;
      if (n < 0) return Got::kError;
    }
  }

  // Reads a body framed as `f`; `body` gets its bytes as sent (the chunked
  // coding included).
  bool ReadBody(BodyFraming f, std::string* body, int timeout_ms) {
    switch (f.framing) {
      case Framing::kNone:
        body->clear();
        return true;
      case Framing::kLength:
        if (!Need(f.length, timeout_ms)) return false;
        *body = Take(f.length);
        return true;
      case Framing::kUntilClose:
        while (true) {
          ssize_t n = Fill(timeout_ms);
          if (n == 0) break;
          if (n < 0) return false;
        }
        *body = Take(buf_.size());
        return true;
      case Framing::kChunked: {
        size_t pos = 0;
        while (true) {
          size_t eol = FindCrlf(pos, timeout_ms);
          if (eol == std::string::npos) return false;
          uint64_t size = std::strtoull(buf_.c_str() + pos, nullptr, 16);
          pos = eol + 2;
          if (size == 0) {
            // Trailers, up to the empty line.
            while (true) {
              eol = FindCrlf(pos, timeout_ms);
              if (eol == std::string::npos) return false;
              bool last = eol == pos;
              pos = eol + 2;
              if (last) break;
            }
            break;
          }
          if (!Need(pos + size + 2, timeout_ms)) return false;
          pos += size + 2;
        }
        *body = Take(pos);
        return true;
      }
    }
    return false;
  }

  // Ends the connection with a reset (RST) instead of an orderly close.
  void Reset() {
    if (fd_ < 0) return;
    linger l{1, 0};
    (void)::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    Close();
  }

  // An orderly close: FIN after what was sent.
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool Need(uint64_t n, int timeout_ms) {
    while (buf_.size() < n) {
      if (Fill(timeout_ms) <= 0) return false;
    }
    return true;
  }
  size_t FindCrlf(size_t from, int timeout_ms) {
    while (true) {
      size_t eol = buf_.find("\r\n", from);
      if (eol != std::string::npos) return eol;
      if (buf_.size() - from > kMaxHead) return std::string::npos;
      if (Fill(timeout_ms) <= 0) return std::string::npos;
    }
  }
  std::string Take(size_t n) {
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  int fd_;
  int wake_;
  std::string buf_;
};

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(FaultProxyOptions options) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy(std::move(options)));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) return Status::IOError(Errno("pipe2"));
  proxy->wake_read_ = pipefd[0];
  proxy->wake_write_ = pipefd[1];
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::IOError(Errno("socket"));
  proxy->listen_fd_ = fd;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::IOError(Errno("bind 127.0.0.1:0"));
  }
  if (::listen(fd, 128) != 0) return Status::IOError(Errno("listen"));
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::IOError(Errno("getsockname"));
  }
  proxy->port_ = ntohs(addr.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

FaultProxy::~FaultProxy() {
  if (wake_write_ >= 0) {
    // Never read: the pipe stays readable, so every wait ends.
    char c = 's';
    (void)!::write(wake_write_, &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<Worker> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (Worker& w : workers) w.thread.join();
  for (int fd : {listen_fd_, wake_read_, wake_write_}) {
    if (fd >= 0) ::close(fd);
  }
}

std::string FaultProxy::Origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultProxy::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    int n = ::poll(fds, 2, kForever);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;  // EAGAIN, or the client already went away
    SetNoDelay(fd);
    std::lock_guard lock(mu_);
    // Reap the threads of connections that ended.
    std::erase_if(workers_, [](Worker& w) {
      if (!w.done->load()) return false;
      w.thread.join();
      return true;
    });
    uint64_t id = next_connection_++;
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers_.push_back(Worker{std::thread([this, fd, id, done] {
                                Serve(fd, id);
                                done->store(true);
                              }),
                              done});
  }
}

std::pair<FaultAction, int> FaultProxy::Decide(std::string_view method, std::string_view target,
                                               std::string_view head) {
  std::lock_guard lock(mu_);
  std::pair<FaultAction, int> chosen{FaultAction::kForward, -1};
  for (size_t i = 0; i < rules_.size(); ++i) {
    RuleState& r = rules_[i];
    if (!r.armed) continue;
    if (!r.rule.method.empty() && r.rule.method != method) continue;
    if (target.find(r.rule.target_contains) == std::string_view::npos) continue;
    if (head.find(r.rule.head_contains) == std::string_view::npos) continue;
    int n = r.seen++;
    if (chosen.second >= 0 || n < r.rule.skip) continue;
    if (r.rule.times >= 0 && r.fired >= r.rule.times) continue;
    ++r.fired;
    chosen = {r.rule.action, static_cast<int>(i)};
  }
  return chosen;
}

size_t FaultProxy::Record(ProxiedRequest entry) {
  std::lock_guard lock(mu_);
  log_.push_back(std::move(entry));
  return log_base_ + log_.size() - 1;
}

void FaultProxy::Update(size_t index, bool forwarded, int upstream_status, int status) {
  std::lock_guard lock(mu_);
  if (index < log_base_) return;  // cleared meanwhile
  ProxiedRequest& e = log_[index - log_base_];
  e.forwarded = forwarded;
  e.upstream_status = upstream_status;
  e.status = status;
}

void FaultProxy::Serve(int fd, uint64_t id) {
  Connection client(fd, wake_read_);
  const int upstream_ms = Millis(options_.upstream_timeout);
  while (true) {
    Head req;
    if (client.ReadHead(&req, kForever) != Connection::Got::kOk) return;
    std::string body;
    if (!client.ReadBody(RequestFraming(req), &body, upstream_ms)) return;
    // "PUT /devstoreaccount1/c/blob?comp=block&blockid=... HTTP/1.1"
    size_t sp1 = req.first.find(' ');
    size_t sp2 = req.first.rfind(' ');
    if (sp1 == std::string::npos || sp2 <= sp1) return;
    std::string method = req.first.substr(0, sp1);
    std::string target = req.first.substr(sp1 + 1, sp2 - sp1 - 1);
    auto [action, rule] = Decide(method, target, req.raw);

    ProxiedRequest entry;
    entry.connection = id;
    entry.method = method;
    entry.target = Redact(target);
    entry.lease_action = req.Header("x-ms-lease-action");
    entry.request_body_bytes = body.size();
    entry.action = action;
    entry.rule = rule;
    entry.time = Clock::now();
    const size_t index = Record(std::move(entry));
    const bool head_request = method == "HEAD";
    const bool client_closes = AsciiLower(req.Header("connection")) == "close";

    switch (action) {
      case FaultAction::kServerBusy:
      case FaultAction::kTooManyRequests:
      case FaultAction::kInternalError: {
        int retry_after = -1;
        if (action != FaultAction::kInternalError) {
          std::lock_guard lock(mu_);
          retry_after = rules_[static_cast<size_t>(rule)].rule.retry_after_seconds;
        }
        int status = 500;
        std::string answer;
        if (action == FaultAction::kServerBusy) {
          status = 503;
          answer = ErrorResponse(503, "The server is busy.", "ServerBusy", "The server is busy.",
                                 retry_after, head_request);
        } else if (action == FaultAction::kTooManyRequests) {
          status = 429;
          answer = ErrorResponse(429, "Too Many Requests", "TooManyRequests",
                                 "The request rate is over the account limit.", retry_after,
                                 head_request);
        } else {
          answer = ErrorResponse(500, "Server encountered an internal error.", "InternalError",
                                 "Server encountered an internal error. Please try again after "
                                 "some time.",
                                 -1, head_request);
        }
        // Logged before the client can see the answer (and act on it).
        Update(index, false, 0, status);
        if (!client.WriteAll(answer, upstream_ms)) {
          Update(index, false, 0, 0);
          return;
        }
        if (client_closes) return;
        continue;
      }
      case FaultAction::kResetBeforeForward:
        Update(index, false, 0, 0);
        client.Reset();
        return;
      case FaultAction::kStall: {
        Update(index, false, 0, 0);
        // Until the client gives up (readable: its FIN or more bytes), the
        // proxy stops, or the limit passes.
        (void)client.Wait(POLLIN, Millis(options_.stall_limit));
        client.Reset();
        return;
      }
      case FaultAction::kForward:
      case FaultAction::kLoseResponse:
      case FaultAction::kTruncateBody:
        break;
    }

    // To upstream over a connection of its own; interim (1xx) answers are
    // relayed and the final one read whole.
    std::unique_ptr<Connection> up =
        Connection::Dial(options_.upstream_host, options_.upstream_port, wake_read_, upstream_ms);
    if (up == nullptr || !up->WriteAll(req.raw, upstream_ms) || !up->WriteAll(body, upstream_ms)) {
      client.Reset();
      return;
    }
    Head resp;
    std::string resp_body;
    int status = 0;
    while (true) {
      if (up->ReadHead(&resp, upstream_ms) != Connection::Got::kOk) {
        client.Reset();
        return;
      }
      status = StatusOf(resp);
      if (status / 100 != 1) break;
      if (action == FaultAction::kForward && !client.WriteAll(resp.raw, upstream_ms)) return;
    }
    BodyFraming framing = ResponseFraming(resp, method, status);
    if (!up->ReadBody(framing, &resp_body, upstream_ms)) {
      client.Reset();
      return;
    }
    up.reset();

    if (action == FaultAction::kLoseResponse) {
      Update(index, true, status, 0);
      client.Reset();
      return;
    }
    if (action == FaultAction::kTruncateBody) {
      Update(index, true, status, 0);
      if (resp_body.empty()) {
        // Nothing to cut but the head. A client may take a head ended by
        // FIN as complete, so: its first half in whole lines (the status
        // line at least), a moment to read them, then a reset.
        std::string_view head(resp.raw);
        size_t cut = head.find("\r\n") + 2;
        for (size_t next; (next = head.find("\r\n", cut)) != std::string_view::npos &&
                          next + 2 <= head.size() / 2;) {
          cut = next + 2;
        }
        if (client.WriteAll(head.substr(0, cut), upstream_ms)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        client.Reset();
      } else {
        if (client.WriteAll(resp.raw, upstream_ms)) {
          (void)client.WriteAll(std::string_view(resp_body).substr(0, resp_body.size() / 2),
                                upstream_ms);
        }
        client.Close();
      }
      return;
    }
    Update(index, true, status, status);
    if (!client.WriteAll(resp.raw, upstream_ms) || !client.WriteAll(resp_body, upstream_ms)) {
      Update(index, true, status, 0);
      return;
    }
    if (client_closes || framing.framing == Framing::kUntilClose ||
        AsciiLower(resp.Header("connection")) == "close") {
      return;
    }
  }
}

int FaultProxy::AddRule(FaultRule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back(RuleState{std::move(rule)});
  return static_cast<int>(rules_.size() - 1);
}

void FaultProxy::ClearRules() {
  std::lock_guard lock(mu_);
  for (RuleState& r : rules_) r.armed = false;
}

int FaultProxy::Fired(int index) const {
  std::lock_guard lock(mu_);
  if (index < 0 || static_cast<size_t>(index) >= rules_.size()) return 0;
  return rules_[static_cast<size_t>(index)].fired;
}

std::vector<ProxiedRequest> FaultProxy::Log() const {
  std::lock_guard lock(mu_);
  return log_;
}

void FaultProxy::ClearLog() {
  std::lock_guard lock(mu_);
  log_base_ += log_.size();
  log_.clear();
}

size_t FaultProxy::Count(std::string_view method, std::string_view target_contains) const {
  std::lock_guard lock(mu_);
  return std::count_if(log_.begin(), log_.end(), [&](const ProxiedRequest& r) {
    return (method.empty() || r.method == method) &&
           r.target.find(target_contains) != std::string::npos;
  });
}

size_t FaultProxy::CountForwarded(std::string_view method, std::string_view target_contains) const {
  std::lock_guard lock(mu_);
  return std::count_if(log_.begin(), log_.end(), [&](const ProxiedRequest& r) {
    return r.forwarded && (method.empty() || r.method == method) &&
           r.target.find(target_contains) != std::string::npos;
  });
}

uint64_t FaultProxy::ForwardedBodyBytes() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (const ProxiedRequest& r : log_) {
    if (r.forwarded) total += r.request_body_bytes;
  }
  return total;
}

std::string FaultProxy::Dump() const {
  std::vector<ProxiedRequest> log = Log();
  std::ostringstream out;
  if (log.empty()) return "(no requests)\n";
  const Clock::time_point t0 = log.front().time;
  for (const ProxiedRequest& r : log) {
    out << "+" << std::chrono::duration_cast<std::chrono::milliseconds>(r.time - t0).count()
        << "ms #" << r.connection << " " << r.method << " " << r.target << " ("
        << r.request_body_bytes << " B) ";
    if (!r.lease_action.empty()) out << "lease " << r.lease_action << " ";
    out << FaultActionName(r.action);
    if (r.rule >= 0) out << "[rule " << r.rule << "]";
    out << (r.forwarded ? " upstream " + std::to_string(r.upstream_status) : " not-forwarded")
        << " -> " << (r.status == 0 ? std::string("no answer") : std::to_string(r.status)) << "\n";
  }
  return out.str();
}

}  // namespace cairn::testing
