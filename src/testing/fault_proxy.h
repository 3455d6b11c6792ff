// FaultProxy: a fault-injecting HTTP/1.1 proxy on loopback, for tests.
// Test-only.
//
// It listens on 127.0.0.1 (an ephemeral port), serves each client connection
// on a thread of its own (keep-alive: any number of requests per
// connection), and forwards every request unchanged (request line, headers
// and body, byte for byte) to one upstream server (Azurite) over a fresh
// upstream connection, then relays the response as received. Bodies are
// framed by Content-Length or chunked transfer coding (Azurite answers
// chunked when it sends XML), or by the end of the connection.
//
// Tests arm rules at run time. Each rule matches requests by method, a
// substring of the request target (path and query as sent, still
// percent-encoded; e.g. "/data/", "comp=lease", "comp=block&" for Put Block
// but not Put Block List) and optionally a substring of the head; it lets
// `skip` matching requests through and then acts on the next `times` ones.
// A request gets the action of the first rule that fires on it; every
// matching rule counts it.
//
// Note for readers of the log: libcurl itself sends a request again, on a
// new connection and without telling its caller, when a reused connection
// dies before any byte of the answer (kResetBeforeForward, kLoseResponse),
// rewinding the body of uploads if it can.
//
// Every request is logged (method, target without SAS signature, action,
// whether it reached upstream, the status the client got) and counted, the
// faulted ones included.
//
// Thread-safety: every public method may be called from any thread while the
// proxy runs. The destructor stops it: it closes the listening socket,
// wakes every connection thread (stalled ones included) and joins them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"

namespace cairn::testing {

enum class FaultAction {
  kForward,  // no fault: forward and relay
  // Answer 503 ServerBusy with Retry-After and an Azure error body; not
  // forwarded. The connection stays usable.
  kServerBusy,
  // Answer 500 InternalError; not forwarded. The connection stays usable.
  kInternalError,
  // Reset the client connection (SO_LINGER 0: RST) without forwarding.
  kResetBeforeForward,
  // Forward (the request IS applied), read the whole response, then reset
  // the client connection instead of relaying it.
  kLoseResponse,
  // Read the request, forward nothing and answer nothing; hold the
  // connection until the client gives up, the proxy stops, or
  // FaultProxyOptions::stall_limit passes.
  kStall,
  // Forward, then relay the response head and only the first half of its
  // body, then close. Of a response without a body, the first half of the
  // head is sent (whole lines, the status line at least), then a reset.
  // Either way the client has received part of the answer, so it cannot
  // resend the request on its own without telling (libcurl does that when
  // a reused connection dies before any byte of the answer).
  kTruncateBody,
  // Answer 429 TooManyRequests (throttling) with Retry-After and an Azure
  // error body; not forwarded. The connection stays usable.
  kTooManyRequests,
};

std::string_view FaultActionName(FaultAction action);

struct FaultRule {
  std::string method;           // "" matches any
  std::string target_contains;  // "" matches any
  FaultAction action = FaultAction::kForward;
  int skip = 0;                 // matching requests let through before the rule fires
  int times = 1;                // matching requests it then fires on; < 0: every one
  int retry_after_seconds = 1;  // kServerBusy, kTooManyRequests: the Retry-After sent
  // "" matches any; else a substring of the request head as sent (request
  // line and headers, e.g. "x-ms-lease-action: acquire").
  std::string head_contains = "";
};

// One request as the proxy saw it.
struct ProxiedRequest {
  uint64_t connection = 0;  // client connection number, from 1
  std::string method;
  std::string target;        // path + query, the value of any sig= replaced by "REDACTED"
  std::string lease_action;  // the x-ms-lease-action of a lease request ("acquire", ...), else ""
  uint64_t request_body_bytes = 0;
  FaultAction action = FaultAction::kForward;
  int rule = -1;                               // index of the rule that fired, or -1
  bool forwarded = false;                      // it reached upstream (and was answered there)
  int upstream_status = 0;                     // what upstream answered; 0 when not forwarded
  int status = 0;                              // what the client got; 0: no (complete) answer
  std::chrono::steady_clock::time_point time;  // when the request was read
};

struct FaultProxyOptions {
  std::string upstream_host = "127.0.0.1";  // a numeric IPv4 address
  int upstream_port = 0;
  // The longest a kStall holds a connection; the proxy's destructor ends it
  // sooner.
  std::chrono::seconds stall_limit{120};
  // Upstream connect / read / write: no progress for this long is a failure
  // (the client connection is then reset).
  std::chrono::seconds upstream_timeout{60};
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1:0 and starts accepting.
  static Result<std::unique_ptr<FaultProxy>> Start(FaultProxyOptions options);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT"
  std::string Origin() const;

  // Arms a rule; returns its index (for Fired()).
  int AddRule(FaultRule rule);
  // Disarms every rule (their indexes are not reused).
  void ClearRules();
  // How many requests rule `index` acted on.
  int Fired(int index) const;

  // Every request so far, in the order they were read.
  std::vector<ProxiedRequest> Log() const;
  void ClearLog();
  // Requests with this method ("" any) whose target contains `target_contains`.
  size_t Count(std::string_view method = "", std::string_view target_contains = "") const;
  // As Count, only those that reached upstream.
  size_t CountForwarded(std::string_view method = "", std::string_view target_contains = "") const;
  // Request-body bytes of the requests that reached upstream.
  uint64_t ForwardedBodyBytes() const;
  // The log as text, one request a line, for failure messages.
  std::string Dump() const;

 private:
  struct RuleState {
    FaultRule rule;
    bool armed = true;
    int seen = 0;
    int fired = 0;
  };
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  class Connection;

  explicit FaultProxy(FaultProxyOptions options) : options_(std::move(options)) {}
  void AcceptLoop();
  void Serve(int fd, uint64_t id);
  // The action for a request, with the rule index that chose it.
  std::pair<FaultAction, int> Decide(std::string_view method, std::string_view target,
                                     std::string_view head);
  size_t Record(ProxiedRequest entry);  // returns its index in the log
  void Update(size_t index, bool forwarded, int upstream_status, int status);

  FaultProxyOptions options_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_read_ = -1;  // readable once the proxy stops
  int wake_write_ = -1;

  mutable std::mutex mu_;
  std::vector<RuleState> rules_;     // guarded by mu_
  std::vector<ProxiedRequest> log_;  // guarded by mu_
  size_t log_base_ = 0;              // guarded by mu_: entries dropped by ClearLog
  std::vector<Worker> workers_;      // guarded by mu_
  uint64_t next_connection_ = 1;     // guarded by mu_
  std::thread acceptor_;
};

}  // namespace cairn::testing
