// The dashboard's server as users start it: `cairn serve` and `cairn run`,
// the real binary on a free loopback port, a real HTTP client. The API's
// rules in detail are src/web/server_test.cc's; here: that both commands
// serve, with the token they generate, the daemon's state, and restores.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "e2e_util.h"
#include "testing/url_encode.h"

namespace cairn::e2e {
namespace {

using ::cairn::testing::UrlEncode;

using json = nlohmann::json;

// A port nothing listens on now (the kernel's choice, released at once).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

class WebE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreePort();
    ASSERT_NE(port_, 0);
    MakeDirs(docs());
    WriteFile(docs() + "/letter.txt", "Dear Ann,\n");
    WriteFile(settings(),
              "backup:\n  stability_seconds: 1\nweb:\n  port: " + std::to_string(port_) + "\n");
    ProcResult init = sb.Cairn({"init"});
    ASSERT_EQ(init.exit_code, 0) << init.Describe();
  }
  void TearDown() override {
    if (server_) {
      server_->Kill(SIGKILL);
      server_->Wait();
    }
  }
  std::string docs() const { return sb.Path("docs"); }
  std::string settings() const { return sb.Path("settings.yaml"); }
  std::string token_file() const { return sb.config_home() + "/cairn/web-token"; }

  httplib::Result Get(const std::string& path, bool auth = true) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    httplib::Headers h;
    if (auth) h.emplace("Authorization", "Bearer " + Token());
    return c.Get(path, h);
  }
  httplib::Result Post(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c.Post(path, {{"Authorization", "Bearer " + Token()}}, body.dump(), "application/json");
  }
  std::string Token() {
    std::string t = ReadFile(token_file());
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  // Starts `cairn ARGS` and waits until /health answers.
  void Start(const std::vector<std::string>& args) {
    server_.emplace(sb.SpawnCairn(args));
    ASSERT_TRUE(WaitUntil([&] {
      auto r = Get("/health", false);
      return r && (r->status == 200 || r->status == 503);
    })) << Stop().Describe();
  }
  ProcResult Stop() {
    if (!server_) return {};
    server_->Kill(SIGTERM);
    ProcResult r = server_->Wait();
    server_.reset();
    return r;
  }

  Sandbox sb;
  int port_ = 0;
  std::optional<Process> server_;
};

TEST_F(WebE2eTest, ServeGeneratesItsTokenAndServesTheRepository) {
  ASSERT_EQ(sb.Cairn({"backup", docs()}).exit_code, 0);
  Start({"--config", settings(), "serve"});
  struct stat st {};
  ASSERT_EQ(::stat(token_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Token().size(), 64u);
  EXPECT_EQ(Get("/api/status", false)->status, 401);
  auto status = Get("/api/status");
  ASSERT_EQ(status->status, 200) << status->body;
  json s = json::parse(status->body);
  EXPECT_EQ(s["mode"], "serve");
  EXPECT_EQ(s["device"], Sandbox::kDevice);
  EXPECT_TRUE(s["protected"]) << s.dump();
  // The dashboard itself, from the binary.
  auto page = Get("/", false);
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  auto api = Get("/api/openapi.json", false);
  ASSERT_EQ(api->status, 200);
  EXPECT_TRUE(json::parse(api->body)["paths"].contains("/api/restore/{id}"));

  auto versions = Get("/api/versions?path=" + UrlEncode(docs() + "/letter.txt"));
  ASSERT_EQ(versions->status, 200) << versions->body;
  const std::string id = json::parse(versions->body)["versions"][0]["id"];
  auto dl = Get("/api/download/" + id);
  ASSERT_EQ(dl->status, 200);
  EXPECT_EQ(dl->body, "Dear Ann,\n");

  ProcResult r = Stop();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  // Not a terminal: the address and the token's file, never the token.
  EXPECT_NE(r.err.find("http://127.0.0.1:" + std::to_string(port_) + "/"), std::string::npos)
      << r.Describe();
  EXPECT_EQ(r.err.find(Token()), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("audit: download " + docs() + "/letter.txt"), std::string::npos)
      << r.Describe();
}

TEST_F(WebE2eTest, RunServesTheDaemonsStateAndRestoresYesterdaysVersion) {
  Start({"--config", settings(), "run", docs()});
  // The catch-up pass backs the letter up.
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Get("/api/status");
    return r && r->status == 200 && json::parse(r->body)["protected"] == true;
  }));
  json s = json::parse(Get("/api/status")->body);
  EXPECT_EQ(s["mode"], "run");
  EXPECT_TRUE(s["watching"]);
  EXPECT_EQ(s["starting"], false);  // present, and over once watching
  EXPECT_EQ(s["folders"], json::array({docs()}));
  // The file changes; the daemon protects the change within seconds.
  WriteFile(docs() + "/letter.txt", "Dear Ann, I was wrong.\n");
  const std::string q = "/api/versions?path=" + UrlEncode(docs() + "/letter.txt");
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Get(q);
    return r && r->status == 200 && json::parse(r->body)["versions"].size() == 2;
  }));
  const std::string first = json::parse(Get(q)->body)["versions"][0]["id"];
  auto job = Post("/api/restore/" + first, {{"overwrite", true}});
  ASSERT_EQ(job->status, 202) << job->body;
  const std::string job_id = json::parse(job->body)["id"];
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Get("/api/jobs/" + job_id);
    return r && r->status == 200 && json::parse(r->body)["state"] != "running";
  }));
  json done = json::parse(Get("/api/jobs/" + job_id)->body);
  EXPECT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(ReadFile(docs() + "/letter.txt"), "Dear Ann,\n");
  // Pause and resume through the API reach the daemon.
  auto paused = Post("/api/pause", {{"seconds", 3600}});
  ASSERT_EQ(paused->status, 200) << paused->body;
  EXPECT_TRUE(json::parse(Get("/api/status")->body)["paused"]);
  ASSERT_EQ(Post("/api/resume", json::object())->status, 200);
  EXPECT_FALSE(json::parse(Get("/api/status")->body)["paused"]);
  auto log = Get("/api/log?lines=50");
  ASSERT_EQ(log->status, 200);
  EXPECT_NE(log->body.find("audit: restore"), std::string::npos) << log->body;
  ProcResult r = Stop();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

TEST_F(WebE2eTest, ASecondServerOnTheSamePortIsRefused) {
  Start({"--config", settings(), "serve"});
  ProcResult second = sb.Cairn({"--config", settings(), "serve"});
  EXPECT_EQ(second.exit_code, 1) << second.Describe();
  EXPECT_NE(second.err.find("in use"), std::string::npos) << second.Describe();
  EXPECT_EQ(Stop().exit_code, 0);
}

TEST_F(WebE2eTest, APortInUseLeavesProtectionRunning) {
  // Something else holds the port: `cairn serve` fails, `cairn run` goes on without a dashboard.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ProcResult serve = sb.Cairn({"--config", settings(), "serve"});
  EXPECT_EQ(serve.exit_code, 1) << serve.Describe();
  EXPECT_NE(serve.err.find("in use"), std::string::npos) << serve.Describe();
  server_.emplace(sb.SpawnCairn({"--config", settings(), "run", docs()}));
  ASSERT_TRUE(WaitUntil([&] {
    return server_->ErrSoFar().find("the dashboard is not served") != std::string::npos;
  })) << Stop().Describe();
  ASSERT_TRUE(WaitUntil([&] {
    ProcResult v = sb.Cairn({"--json", "versions", docs() + "/letter.txt"});
    return v.exit_code == 0;
  }));
  ::close(fd);
  EXPECT_EQ(Stop().exit_code, 0);
}

}  // namespace
}  // namespace cairn::e2e
