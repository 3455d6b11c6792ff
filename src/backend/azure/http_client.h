// A small HTTP/1.1 client over libcurl for the blob service.
//
// Connections are reused: finished easy handles (each with its own live
// connections) go back to a pool and the next request takes one. Uploads
// always send Content-Length (never chunked) and never "Expect:
// 100-continue"; no Content-Type is added. Bandwidth limits pace the body
// bytes of all requests together (a token bucket per direction). A failure of the transport
// (refused, reset, timeout, DNS) is an Unavailable (retryable) Status naming
// the URL without its query string (which may hold a SAS); any HTTP answer,
// error statuses included, is a response.
// Thread-safety: Send may be called from many threads at once.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/azure/signing.h"
#include "base/bytes.h"
#include "base/mutex.h"
#include "base/rate_limiter.h"

namespace cairn::backend::azure {

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, DELETE
  std::string url;     // complete, query included
  HeaderList headers;  // sent as given
  ByteView body;       // PUT only; must outlive Send
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  Bytes body;

  // The value of a header (name in lower case), or "".
  std::string Header(const std::string& lower_name) const;
};

struct HttpOptions {
  std::chrono::seconds connect_timeout{10};
  // A transfer that moves no byte for this long is abandoned (Unavailable).
  std::chrono::seconds stall_timeout{60};
  size_t max_idle_handles = 16;
  // Bandwidth limits over all requests of the client; 0 = unlimited.
  uint64_t upload_limit_bytes_per_s = 0;
  uint64_t download_limit_bytes_per_s = 0;
};

// The URL without its query string, for messages.
std::string UrlForMessages(const std::string& url);

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> Take() EXCLUDES(mu_);
  void Give(std::unique_ptr<Handle> handle) EXCLUDES(mu_);

  HttpOptions options_;
  std::unique_ptr<RateLimiter> upload_limit_, download_limit_;  // null: unlimited
  Mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_ GUARDED_BY(mu_);
};

}  // namespace cairn::backend::azure
