#include "backend/azure/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cairn::backend::azure {

namespace {

// curl_global_init is not thread-safe; run it once before any handle.
void GlobalInit() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

struct UploadState {
  ByteView body;
  size_t pos = 0;
  RateLimiter* limit = nullptr;
};

size_t ReadBody(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* st = static_cast<UploadState*>(userdata);
  size_t n = std::min(size * nitems, st->body.size() - st->pos);
  if (st->limit != nullptr && n > 0) {
    // Small slices: each wait stays far below the stall timeout.
    n = std::min<size_t>(n, st->limit->SliceBytes());
    st->limit->Acquire(n);
  }
  if (n > 0) std::memcpy(buffer, st->body.data() + st->pos, n);
  st->pos += n;
  return n;
}

// libcurl rewinds the body to send a request again on a fresh connection
// when a reused one died before the answer came. Once body bytes went out,
// the service may have applied the request, and a silent resend would turn
// our own applied write into an apparent conflict (409/412) that nobody
// recognises as ours. So only a body not yet started may be rewound; any
// other rewind fails the request (CURLE_SEND_FAIL_REWIND, retryable), and
// RetryBackend, knowing the outcome is unknown, checks what is stored.
int SeekBody(void* userdata, curl_off_t offset, int origin) {
  auto* st = static_cast<UploadState*>(userdata);
  if (origin != SEEK_SET || offset != 0 || st->pos != 0) return CURL_SEEKFUNC_FAIL;
  return CURL_SEEKFUNC_OK;
}

struct DownloadState {
  HttpResponse* resp;
  RateLimiter* limit = nullptr;
};

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* st = static_cast<DownloadState*>(userdata);
  st->resp->body.insert(st->resp->body.end(), reinterpret_cast<uint8_t*>(ptr),
                        reinterpret_cast<uint8_t*>(ptr) + size * nmemb);
  // Not reading on while over budget slows the sender down (TCP).
  if (st->limit != nullptr) st->limit->Acquire(size * nmemb);
  return size * nmemb;
}

struct HeaderState {
  HttpResponse* resp;
  bool expect_body;  // false for HEAD: its Content-Length announces no body
};

size_t WriteHeader(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* state = static_cast<HeaderState*>(userdata);
  HttpResponse* resp = state->resp;
  std::string_view line(buffer, size * nitems);
  if (line.starts_with("HTTP/")) {
    resp->headers.clear();  // a new response (after 100 Continue)
    return size * nitems;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * nitems;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  resp->headers[name] = std::string(value);
  if (name == "content-length" && state->expect_body) {
    // Reserve for the body; bounded so a lying header cannot exhaust memory.
    unsigned long long n = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (n > 0 && n <= (1ull << 31)) resp->body.reserve(static_cast<size_t>(n));
  }
  return size * nitems;
}

class SlistGuard {
 public:
  ~SlistGuard() { curl_slist_free_all(list_); }
  void Append(const std::string& s) { list_ = curl_slist_append(list_, s.c_str()); }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

}  // namespace

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string UrlForMessages(const std::string& url) { return url.substr(0, url.find('?')); }

struct HttpClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient(HttpOptions options) : options_(options) {
  GlobalInit();
  if (options_.upload_limit_bytes_per_s > 0) {
    upload_limit_ = std::make_unique<RateLimiter>(options_.upload_limit_bytes_per_s);
  }
  if (options_.download_limit_bytes_per_s > 0) {
    download_limit_ = std::make_unique<RateLimiter>(options_.download_limit_bytes_per_s);
  }
}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Handle> HttpClient::Take() {
  {
    MutexLock lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Handle> h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->curl = curl_easy_init();
  if (h->curl == nullptr) return nullptr;
  return h;
}

void HttpClient::Give(std::unique_ptr<Handle> handle) {
  MutexLock lock(mu_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  std::unique_ptr<Handle> handle = Take();
  if (handle == nullptr) return Status::IOError("cannot create an HTTP handle (out of memory?)");
  CURL* c = handle->curl;
  // Keeps the handle's live connections and caches, forgets the options.
  curl_easy_reset(c);

  HttpResponse resp;
  UploadState upload{request.body, 0, upload_limit_.get()};
  DownloadState download{&resp, download_limit_.get()};
  HeaderState header_state{&resp, request.method != "HEAD"};
  SlistGuard headers;
  for (const auto& [name, value] : request.headers) headers.Append(name + ": " + value);
  headers.Append("Expect:");  // no 100-continue round trip
  headers.Append("Accept:");

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &header_state);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &download);
  if (download_limit_ != nullptr) {
    // Small receive slices, so each wait stays short.
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE,
                     static_cast<long>(std::clamp<uint64_t>(download_limit_->SliceBytes(), 1024,
                                                            CURL_MAX_READ_SIZE)));
  }
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    // UPLOAD sends Content-Length from INFILESIZE (0 included), never chunks.
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(c, CURLOPT_READDATA, &upload);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, &SeekBody);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &upload);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    std::string what = error[0] != '\0' ? error : curl_easy_strerror(rc);
    // Do not keep a handle whose connection broke.
    std::string msg = "cannot reach " + UrlForMessages(request.url) + ": " + what;
    if (rc == CURLE_SEND_FAIL_REWIND) {
      msg = "the connection to " + UrlForMessages(request.url) +
            " broke after the request was sent; it may have been applied";
    }
    switch (rc) {
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        return Status::InvalidArgument(msg);
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        return Status::IOError(msg + " (the server's TLS certificate is not trusted)");
      default:
        return Status::Unavailable(msg);
    }
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  Give(std::move(handle));
  return resp;
}

}  // namespace cairn::backend::azure
