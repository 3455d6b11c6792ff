#include "daemon/status_socket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/errno_status.h"
#include "testing/assert_ok.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;
using ::cairn::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr uid_t kNobody = 65534;

std::function<const char*(const char*)> FakeEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

// A daemon's side: answers status with a count, records pause/resume.
class FakeDaemon {
 public:
  Result<nlohmann::json> Handle(const StatusRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(r);
    if (r.cmd == "status") return nlohmann::json{{"watching", true}, {"queue", 3}};
    if (r.cmd == "pause") {
      paused_ = true;
      return nlohmann::json{{"paused", true}};
    }
    if (fail_resume_) return Status::Unavailable("cannot resume: the repository is unreachable");
    paused_ = false;
    return nlohmann::json{{"paused", false}};
  }
  StatusHandler handler() {
    return [this](const StatusRequest& r) { return Handle(r); };
  }
  std::vector<StatusRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  bool paused() {
    std::lock_guard<std::mutex> lock(mu_);
    return paused_;
  }
  void FailResume() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_resume_ = true;
  }

 private:
  std::mutex mu_;
  std::vector<StatusRequest> requests_;
  bool paused_ = false;
  bool fail_resume_ = false;
};

std::unique_ptr<StatusServer> StartServer(const std::string& path, FakeDaemon& daemon,
                                          std::chrono::milliseconds io_timeout = 2s) {
  StatusServerOptions o;
  o.path = path;
  o.io_timeout = io_timeout;
  Result<std::unique_ptr<StatusServer>> r = StatusServer::Start(o, daemon.handler());
  EXPECT_OK(r);
  return r.ok() ? std::move(r).value() : nullptr;
}

// Sends raw bytes and returns the raw answer line.
std::string RawCall(const std::string& path, const std::string& bytes) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << ErrnoText(errno);
  EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, n);
  ::close(fd);
  return answer;
}

// Binds a socket at `path` and closes it without removing the file: what a
// daemon killed with SIGKILL leaves behind.
void LeaveStaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << ErrnoText(errno);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::close(fd);
  ASSERT_TRUE(fs::is_socket(path));
}

TEST(StatusSocket, StatusPauseResume) {
  TempDir dir;
  std::string path = dir.Sub("run/cairn/daemon.sock");
  FakeDaemon daemon;
  auto server = StartServer(path, daemon);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->path(), path);

  Result<nlohmann::json> status = CallDaemon(path, {"status", std::nullopt});
  ASSERT_OK(status);
  EXPECT_EQ((*status)["ok"], true);
  EXPECT_EQ((*status)["watching"], true);
  EXPECT_EQ((*status)["queue"], 3);

  Result<nlohmann::json> pause = CallDaemon(path, {"pause", 600});
  ASSERT_OK(pause);
  EXPECT_EQ((*pause)["ok"], true);
  EXPECT_TRUE(daemon.paused());
  Result<nlohmann::json> resume = CallDaemon(path, {"resume", std::nullopt});
  ASSERT_OK(resume);
  EXPECT_FALSE(daemon.paused());
  ASSERT_OK(CallDaemon(path, {"pause", std::nullopt}));

  std::vector<StatusRequest> seen = daemon.requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].cmd, "pause");
  EXPECT_EQ(seen[1].seconds, 600u);
  EXPECT_FALSE(seen[3].seconds.has_value());
}

TEST(StatusSocket, FolderAndSocketArePrivate) {
  TempDir dir;
  std::string folder = dir.Sub("cairn");
  ASSERT_EQ(::mkdir(folder.c_str(), 0755), 0);  // an existing, too open folder
  FakeDaemon daemon;
  auto server = StartServer(folder + "/daemon.sock", daemon);
  ASSERT_NE(server, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(folder.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::lstat((folder + "/daemon.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(StatusSocket, HandlerErrorIsAnAnswer) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  FakeDaemon daemon;
  daemon.FailResume();
  auto server = StartServer(path, daemon);
  ASSERT_NE(server, nullptr);
  Result<nlohmann::json> r = CallDaemon(path, {"resume", std::nullopt});
  ASSERT_OK(r);
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_EQ((*r)["code"], "unavailable");
  EXPECT_THAT((*r)["error"].get<std::string>(), HasSubstr("repository is unreachable"));
}

TEST(StatusSocket, BadRequestsNeverReachTheHandler) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  FakeDaemon daemon;
  auto server = StartServer(path, daemon);
  ASSERT_NE(server, nullptr);
  const std::pair<std::string, std::string> cases[] = {
      {"not json\n", "a request is a JSON object"},
      {"[1,2]\n", "a request is a JSON object"},
      {"{\"command\":\"status\"}\n", "has no \"cmd\""},
      {"{\"cmd\":\"format-disk\"}\n", "unknown command 'format-disk'"},
      {"{\"cmd\":\"pause\",\"seconds\":-5}\n", "\"seconds\" must be a whole number"},
      {"{\"cmd\":\"pause\",\"seconds\":1.5}\n", "\"seconds\" must be a whole number"},
      {"{\"cmd\":\"status\",\"seconds\":5}\n", "only for pause"},
  };
  for (const auto& [request, expected] : cases) {
    nlohmann::json answer = nlohmann::json::parse(RawCall(path, request));
    EXPECT_EQ(answer["ok"], false) << request;
    EXPECT_EQ(answer["code"], "invalid argument") << request;
    EXPECT_THAT(answer["error"].get<std::string>(), HasSubstr(expected)) << request;
  }
  EXPECT_TRUE(daemon.requests().empty());
  // Without a trailing newline, the end of writing ends the request.
  nlohmann::json answer = nlohmann::json::parse(RawCall(path, "{\"cmd\":\"status\"}"));
  EXPECT_EQ(answer["ok"], true);
}

TEST(StatusSocket, NoDaemonIsNotRunning) {
  TempDir dir;
  Result<nlohmann::json> r = CallDaemon(dir.Sub("cairn/daemon.sock"), {"status", std::nullopt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr("no cairn daemon is running"));
}

TEST(StatusSocket, StoppedDaemonRemovesItsSocket) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  FakeDaemon daemon;
  StartServer(path, daemon).reset();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(CallDaemon(path, {"status", std::nullopt}).status().code(), StatusCode::kNotFound);
}

TEST(StatusSocket, StaleSocketIsNotRunningAndIsReplaced) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  LeaveStaleSocket(path);
  Result<nlohmann::json> before = CallDaemon(path, {"status", std::nullopt});
  EXPECT_EQ(before.status().code(), StatusCode::kNotFound) << before.status().ToString();
  EXPECT_THAT(before.status().message(), HasSubstr("left from one that stopped"));

  FakeDaemon daemon;
  auto server = StartServer(path, daemon);
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CallDaemon(path, {"status", std::nullopt}));
}

TEST(StatusSocket, SecondDaemonIsRefused) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  FakeDaemon first, second;
  auto server = StartServer(path, first);
  ASSERT_NE(server, nullptr);
  StatusServerOptions o;
  o.path = path;
  Result<std::unique_ptr<StatusServer>> again = StatusServer::Start(o, second.handler());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(again.error().message(), HasSubstr("another cairn daemon is running"));
  ASSERT_OK(CallDaemon(path, {"status", std::nullopt}));  // the first one still serves
  EXPECT_EQ(first.requests().size(), 1u);
}

TEST(StatusSocket, OtherFileAtThePathIsLeftAlone) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  std::ofstream(path) << "precious";
  FakeDaemon daemon;
  StatusServerOptions o;
  o.path = path;
  Result<std::unique_ptr<StatusServer>> r = StatusServer::Start(o, daemon.handler());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("is not a socket"));
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST(StatusSocket, NewerDaemonsSocketIsNotRemoved) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  FakeDaemon old_daemon, new_daemon;
  auto old_server = StartServer(path, old_daemon);
  ASSERT_NE(old_server, nullptr);
  // The old daemon hung; its socket was removed and a new daemon started.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto new_server = StartServer(path, new_daemon);
  ASSERT_NE(new_server, nullptr);
  old_server.reset();
  EXPECT_TRUE(fs::exists(path));
  ASSERT_OK(CallDaemon(path, {"status", std::nullopt}));
  EXPECT_EQ(new_daemon.requests().size(), 1u);
}

TEST(StatusSocket, PathTooLong) {
  StatusServerOptions o;
  o.path = "/tmp/" + std::string(200, 'x') + "/daemon.sock";
  FakeDaemon daemon;
  EXPECT_EQ(StatusServer::Start(o, daemon.handler()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CallDaemon(o.path, {"status", std::nullopt}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(StatusSocket, SilentClientDoesNotHoldTheServer) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  FakeDaemon daemon;
  auto server = StartServer(path, daemon, 300ms);
  ASSERT_NE(server, nullptr);
  int silent = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK(CallDaemon(path, {"status", std::nullopt}, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ::close(silent);
}

TEST(StatusSocket, SlowHandlerTimesTheClientOut) {
  TempDir dir;
  std::string path = dir.Sub("daemon.sock");
  StatusServerOptions o;
  o.path = path;
  Result<std::unique_ptr<StatusServer>> server =
      StatusServer::Start(o, [](const StatusRequest&) -> Result<nlohmann::json> {
        std::this_thread::sleep_for(800ms);
        return nlohmann::json::object();
      });
  ASSERT_OK(server);
  Result<nlohmann::json> r = CallDaemon(path, {"status", std::nullopt}, 200ms);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(StatusSocket, DefaultPath) {
  EXPECT_EQ(
      DefaultSocketPath(FakeEnv({{"XDG_RUNTIME_DIR", "/run/user/1000"}, {"HOME", "/h"}}), 1000),
      "/run/user/1000/cairn/daemon.sock");
  EXPECT_EQ(DefaultSocketPath(FakeEnv({{"XDG_STATE_HOME", "/s"}, {"HOME", "/h"}}), 1000),
            "/s/cairn/daemon.sock");
  EXPECT_EQ(DefaultSocketPath(FakeEnv({{"XDG_RUNTIME_DIR", "rel"}, {"HOME", "/h"}}), 1000),
            "/h/.local/state/cairn/daemon.sock");
  EXPECT_EQ(DefaultSocketPath(FakeEnv({{"XDG_RUNTIME_DIR", "/run/user/0"}}), 0),
            "/run/user/0/cairn/daemon.sock");
  EXPECT_EQ(DefaultSocketPath(FakeEnv({{"HOME", "/root"}}), 0), "/run/cairn/daemon.sock");
  EXPECT_EQ(DefaultSocketPath(FakeEnv({}), 0), "/run/cairn/daemon.sock");
  // Root with another home (a container's user, a test): its own socket.
  EXPECT_EQ(DefaultSocketPath(FakeEnv({{"HOME", "/tmp/h"}}), 0),
            "/tmp/h/.local/state/cairn/daemon.sock");
  // Root looks at its session's socket, then at the system service's.
  EXPECT_EQ(SocketPathsToTry(FakeEnv({{"XDG_RUNTIME_DIR", "/run/user/0"}}), 0),
            (std::vector<std::string>{"/run/user/0/cairn/daemon.sock", "/run/cairn/daemon.sock"}));
  EXPECT_EQ(SocketPathsToTry(FakeEnv({{"HOME", "/root"}}), 0),
            (std::vector<std::string>{"/run/cairn/daemon.sock"}));
  EXPECT_EQ(SocketPathsToTry(FakeEnv({{"XDG_RUNTIME_DIR", "/run/user/1000"}}), 1000),
            (std::vector<std::string>{"/run/user/1000/cairn/daemon.sock"}));
  EXPECT_EQ(DefaultSocketPath(FakeEnv({}), 1000), "");
}

// --- Another user -------------------------------------------------------------
// Needs root, to become someone else in a child process.

// Runs `fn` in a child process and returns what it wrote to the pipe.
std::string InChild(const std::function<std::string()>& fn) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = fn();
    (void)!::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  return out;
}

std::string Describe(const Result<nlohmann::json>& r) {
  if (!r.ok()) return std::string(StatusCodeName(r.error().code())) + ": " + r.error().message();
  return "answer: " + r->dump();
}

TEST(StatusSocket, OtherUserCannotReachTheFolder) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string path = dir.Sub("cairn/daemon.sock");
  FakeDaemon daemon;
  auto server = StartServer(path, daemon);
  ASSERT_NE(server, nullptr);
  std::string got = InChild([&] {
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) return std::string("setuid failed");
    return Describe(CallDaemon(path, {"status", std::nullopt}, 2s));
  });
  EXPECT_THAT(got, HasSubstr("permission denied: cannot reach the cairn daemon"));
  EXPECT_TRUE(daemon.requests().empty());
}

TEST(StatusSocket, PeerCredentialsOfAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  TempDir dir;
  std::string path = dir.Sub("cairn/daemon.sock");
  FakeDaemon daemon;
  auto server = StartServer(path, daemon);
  ASSERT_NE(server, nullptr);
  // The file system lets the client through (its fsuid stays root), but the
  // credentials the kernel gives the server are the client's euid: nobody.
  std::string got = InChild([&] {
    if (::setegid(kNobody) != 0 || ::seteuid(kNobody) != 0) return std::string("seteuid failed");
    ::setfsuid(0);
    return Describe(CallDaemon(path, {"pause", 60}, 2s));
  });
  EXPECT_THAT(got, HasSubstr("\"ok\":false"));
  EXPECT_THAT(got, HasSubstr("serves only its own user"));
  EXPECT_TRUE(daemon.requests().empty());
  EXPECT_FALSE(daemon.paused());
}

}  // namespace
}  // namespace cairn::daemon
