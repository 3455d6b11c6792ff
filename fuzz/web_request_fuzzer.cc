// The web server's handling of requests (src/web): the real server of
// `cairn serve` (its pre-routing rules: Host, Origin, credentials, scope,
// CSRF; its routes and their query parameters; the login) on a real
// session, fed raw HTTP requests through cpp-httplib's request processing
// with no socket in between. cpp-httplib's own parser is Debian's; what is
// fuzzed is our code around it.
//
// Setup (once): a sandbox home with a repository (cheap KDF) holding two
// backups of a few files, a session on it and the server (not listening).
// Input: a mode byte, then the request as it comes from the network.
//   mode even: the request as it is (anyone who can reach the port);
//   mode odd:  the request with a valid Host header and the access token
//              added after its first line, and only read-only methods (GET,
//              HEAD): the routes and their parameters with full rights,
//              without the changes POST/PUT could make to the sandbox.
// Properties: every request gets one answer with a status in 100..599; an
// unauthenticated request to /api/ other than the login and /api/session
// is answered 401, 403 or 429, and 421/400 for a wrong Host.
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/session.h"
#include "fuzz/fuzz_util.h"
#include "web/server_impl.h"

using namespace cairn;

namespace {

// A connection holding one request's bytes; the answer is kept.
class BufferStream : public httplib::Stream {
 public:
  explicit BufferStream(std::string in) : in_(std::move(in)) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (out_.size() < (1u << 20)) out_.append(ptr, std::min<size_t>(size, 1u << 20));
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 5000;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& out() const { return out_; }

 private:
  std::string in_;
  size_t pos_ = 0;
  std::string out_;
};

// Reaches httplib::Server::process_request (protected): the one entry of a
// request into the server, as its worker threads call it for a socket.
struct Processor : httplib::Server {
  static bool Process(httplib::Server& server, httplib::Stream& stream) {
    bool closed = false;
    auto fn = &Processor::process_request;
    return (server.*fn)(stream, true, closed, nullptr);
  }
};

struct World {
  std::string home;
  std::map<std::string, std::string> env;
  std::shared_ptr<engine::Session> session;
  std::unique_ptr<web::Server::Impl> server;
};

World* g_world = nullptr;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

[[noreturn]] void SetupFailed(const Status& st) {
  std::fprintf(stderr, "web_request setup failed: %s\n", st.ToString().c_str());
  std::abort();
}

World* MakeWorld() {
  auto* w = new World;
  char tmpl[] = "/tmp/cairn-fuzz-web-XXXXXX";
  if (!mkdtemp(tmpl)) std::abort();
  w->home = tmpl;
  std::atexit([] { std::filesystem::remove_all(g_world->home); });
  w->env = {{"HOME", w->home},
            {"XDG_DATA_HOME", w->home + "/data"},
            {"XDG_CACHE_HOME", w->home + "/cache"},
            {"XDG_CONFIG_HOME", w->home + "/config"},
            {"XDG_STATE_HOME", w->home + "/state"},
            {"CAIRN_LOCK_WAIT", "0"},
            {"CAIRN_PASSWORD", "pw"}};
  Write(w->home + "/settings.yaml", "web:\n  port: 5000\n");
  engine::SessionOptions o;
  o.repository = w->home + "/repo";
  o.config_file = w->home + "/settings.yaml";
  o.device = "laptop";
  o.cheap_kdf_for_tests = true;
  o.getenv = [w](const char* name) -> const char* {
    auto it = w->env.find(name);
    return it == w->env.end() ? nullptr : it->second.c_str();
  };
  o.notice = [](const std::string&) {};
  {
    auto init = engine::Session::Create(o);
    if (!init.ok()) SetupFailed(init.status());
    auto st = (*init)->Init("fuzz");
    if (!st.ok()) SetupFailed(st.status());
  }
  auto s = engine::Session::Create(o);
  if (!s.ok()) SetupFailed(s.status());
  w->session = std::move(*s);
  const std::string docs = w->home + "/docs";
  Write(docs + "/report.txt", "version one\n");
  Write(docs + "/a b/ü.txt", "x");
  if (auto b = w->session->Backup({{docs}}); !b.ok()) SetupFailed(b.status());
  Write(docs + "/report.txt", "version two\n");
  std::filesystem::remove(docs + "/a b/ü.txt");
  if (auto b = w->session->Backup({{docs}}); !b.ok()) SetupFailed(b.status());

  web::ServerOptions so;
  auto session = w->session;
  so.session = [session] { return session; };
  so.version = "fuzz";
  so.port = 5000;
  w->server = std::make_unique<web::Server::Impl>(std::move(so));
  if (Status st = w->server->Init(); !st.ok()) SetupFailed(st);
  return w;
}

int StatusOf(const std::string& answer) {
  // "HTTP/1.1 200 OK\r\n..."
  if (answer.size() < 12 || !answer.starts_with("HTTP/1.1 ")) return -1;
  return std::atoi(answer.substr(9, 3).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::TestKey();
  g_world = MakeWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string request = fuzz::AsText(data + 1, size - 1);
  const bool authenticated = data[0] & 1;
  if (authenticated) {
    if (!request.starts_with("GET ") && !request.starts_with("HEAD ")) return 0;
    if (request.find("/api/events") != std::string::npos) return 0;  // a stream: never ends
    size_t eol = request.find("\r\n");
    if (eol == std::string::npos) return 0;
    request.insert(eol + 2, "Host: 127.0.0.1:5000\r\nAuthorization: Bearer " +
                                g_world->server->token + "\r\n");
  } else if (request.find("/api/events") != std::string::npos &&
             request.find(g_world->server->token) != std::string::npos) {
    return 0;
  }
  BufferStream stream(request);
  Processor::Process(*g_world->server->http, stream);
  const std::string& answer = stream.out();
  if (answer.empty()) return 0;  // a request httplib could not read: no answer
  const int status = StatusOf(answer);
  FUZZ_CHECK(status >= 100 && status <= 599);
  return 0;
}
