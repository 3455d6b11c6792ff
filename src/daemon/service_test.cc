// The whole `cairn run` service in-process, on real files, real inotify
// events and a real local repository: the status socket answers status,
// pause and resume (real Unix socket, the CLI's client); alerts go to a real
// command when a run fails, when no backup succeeded for
// alerts.stale_after_hours (a fake wall clock jumps) and when backups work
// again; the log file masks secrets and rotates; systemd hears READY=1,
// STATUS=, WATCHDOG=1 and STOPPING=1 on a fake NOTIFY_SOCKET. No timing is
// asserted: every wait is "until it holds", with a generous limit.
#include "daemon/service.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "daemon/status_socket.h"
#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/scoped_env.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::WriteFile;

constexpr char kPassword[] = "correct-horse-battery-staple-7";
constexpr char kAccountKey[] = "c2VjcmV0LWFjY291bnQta2V5LW5vdC1mb3ItbG9ncw==";

class FakeClock final : public WallClock {
 public:
  TimeNs Now() const override { return SystemWallClock().Now() + offset_.load(); }
  void Advance(std::chrono::seconds d) {
    offset_ += std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  }

 private:
  std::atomic<TimeNs> offset_{0};
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_["HOME"] = home_.path();
    env_["XDG_DATA_HOME"] = home_.Sub("data");
    env_["XDG_CACHE_HOME"] = home_.Sub("cache");
    env_["XDG_CONFIG_HOME"] = home_.Sub("config");
    env_["XDG_STATE_HOME"] = home_.Sub("state");
    env_["CAIRN_PASSWORD"] = kPassword;
    env_["CAIRN_LOCK_WAIT"] = "0";
    env_["AZURE_STORAGE_CONNECTION_STRING"] =
        std::string("DefaultEndpointsProtocol=https;AccountName=me;AccountKey=") + kAccountKey +
        ";EndpointSuffix=core.windows.net";
    fs::create_directories(docs());
    WriteFile(home_.Sub("reader.yaml"), "");
    SetSettings("");
    auto s = MakeSession(true);
    ASSERT_OK(s);
    ASSERT_OK((*s)->Init("test"));
  }
  void TearDown() override { (void)Stop(); }

  std::string docs() const { return home_.Sub("docs"); }
  std::string log_file() const { return home_.Sub("logs/backup.log"); }
  std::string alerts_file() const { return home_.Sub("alerts.txt"); }
  std::string socket() const { return home_.Sub("run/cairn/daemon.sock"); }
  // The settings every test starts from, plus more keys of the logging and
  // alerts sections.
  void SetSettings(const std::string& logging_more, const std::string& alerts_more = "") {
    WriteFile(home_.Sub("settings.yaml"),
              "backup:\n  stability_seconds: 1\n"
              "logging:\n  file: " +
                  log_file() + "\n" + logging_more +
                  "alerts:\n  command: ['sh', '-c', 'echo \"$CAIRN_ALERT_EVENT "
                  "$CAIRN_ALERT_MESSAGE\" >> " +
                  alerts_file() + "']\n" + alerts_more);
  }

  Result<std::unique_ptr<engine::Session>> MakeSession(bool reader = false) {
    engine::SessionOptions o;
    o.repository = home_.Sub("repo");
    o.config_file = home_.Sub(reader ? "reader.yaml" : "settings.yaml");
    o.device = "laptop";
    o.cheap_kdf_for_tests = true;
    o.getenv = Env();
    return engine::Session::Create(std::move(o));
  }
  std::function<const char*(const char*)> Env() {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }

  ServiceOptions Options() {
    ServiceOptions o;
    o.daemon.make_session = [this] { return MakeSession(); };
    o.daemon.folders = folders_;
    o.daemon.retry_min = std::chrono::milliseconds(200);
    o.daemon.retry_max = std::chrono::milliseconds(1000);
    o.daemon.max_wait = std::chrono::milliseconds(300);
    o.daemon.clock = &clock_;
    o.daemon.hooks.on_run = [this](const RunReport& r) {
      std::lock_guard lock(mu_);
      reports_.push_back(r);
    };
    o.getenv = Env();
    o.console = nullptr;
    o.socket_path = socket();
    o.version = "9.9.9-test";
    return o;
  }

  // Starts the service on its own thread; returns once its catch-up pass
  // has been reported.
  void Start() {
    auto s = Service::Create(Options());
    ASSERT_OK(s);
    service_ = std::move(*s);
    thread_ = std::jthread([this](std::stop_token stop) { result_ = service_->Run(stop); });
    ASSERT_TRUE(WaitFor([&] { return Reported("catch-up", true); })) << Log();
  }
  Status Stop() {
    if (!thread_.joinable()) return Status::OK();
    thread_.request_stop();
    thread_.join();
    service_.reset();
    return result_;
  }

  bool Reported(const std::string& kind, bool ok) {
    std::lock_guard lock(mu_);
    return std::any_of(reports_.begin(), reports_.end(),
                       [&](const RunReport& r) { return r.kind == kind && r.status.ok() == ok; });
  }
  std::string Log() { return fs::exists(log_file()) ? ReadFile(log_file()) : ""; }
  std::string Alerts() { return fs::exists(alerts_file()) ? ReadFile(alerts_file()) : ""; }
  static size_t Count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  static bool WaitFor(const std::function<bool()>& cond,
                      std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return cond();
  }

  size_t VersionCount(const std::string& path) {
    auto s = MakeSession(/*reader=*/true);
    if (!s.ok()) return 0;
    auto v = (*s)->Versions(path);
    return v.ok() ? v->versions.size() : 0;
  }

  nlohmann::json Call(const StatusRequest& r) {
    auto answer = CallDaemon(socket(), r);
    EXPECT_OK(answer);
    return answer.ok() ? *answer : nlohmann::json();
  }

  testing::TempDir home_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> folders_{home_.Sub("docs")};
  FakeClock clock_;
  std::unique_ptr<Service> service_;
  std::jthread thread_;
  Status result_;
  std::mutex mu_;
  std::vector<RunReport> reports_;
};

TEST_F(ServiceTest, StatusPauseAndResumeThroughTheSocket) {
  Start();
  nlohmann::json s = Call({"status", std::nullopt});
  EXPECT_TRUE(s.value("ok", false)) << s.dump();
  EXPECT_TRUE(s.value("watching", false)) << s.dump();
  EXPECT_EQ(s["starting"], false) << s.dump();  // present, and over once watching
  EXPECT_EQ(s["folders"], nlohmann::json::array({docs()})) << s.dump();
  EXPECT_EQ(s.value("device", ""), "laptop");
  EXPECT_EQ(s.value("version", ""), "9.9.9-test");
  EXPECT_EQ(s.value("log_file", ""), log_file());
  EXPECT_TRUE(s["last_success"].is_string()) << s.dump();
  EXPECT_EQ(s["last_run"].value("kind", ""), "catch-up") << s.dump();
  EXPECT_EQ(s["jobs"].size(), 3u) << s.dump();
  EXPECT_FALSE(s.value("paused", true));

  // Paused: changes are recorded, not backed up.
  s = Call({"pause", std::nullopt});
  EXPECT_TRUE(s.value("paused", false)) << s.dump();
  EXPECT_TRUE(s["paused_until"].is_null()) << s.dump();
  WriteFile(docs() + "/during-pause.txt", "written during a video call");
  ASSERT_TRUE(WaitFor([&] {
    return Call({"status", std::nullopt}).value("queued", 0) == 1;
  })) << Log();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // three times the stability time
  EXPECT_EQ(VersionCount(docs() + "/during-pause.txt"), 0u) << Log();

  // Resumed: what was queued follows.
  s = Call({"resume", std::nullopt});
  EXPECT_FALSE(s.value("paused", true)) << s.dump();
  ASSERT_TRUE(WaitFor([&] { return VersionCount(docs() + "/during-pause.txt") == 1; })) << Log();

  // A pause with a duration ends by itself.
  s = Call({"pause", 2});
  EXPECT_TRUE(s["paused_until"].is_string()) << s.dump();
  WriteFile(docs() + "/short-pause.txt", "x");
  ASSERT_TRUE(WaitFor([&] { return VersionCount(docs() + "/short-pause.txt") == 1; })) << Log();
  EXPECT_FALSE(Call({"status", std::nullopt}).value("paused", true));
  EXPECT_OK(Stop());
  const std::string log = Log();
  EXPECT_NE(log.find("paused until `cairn resume`"), std::string::npos) << log;
  EXPECT_NE(log.find("resumed"), std::string::npos) << log;
  // The socket is gone with the daemon.
  EXPECT_EQ(CallDaemon(socket(), {"status", std::nullopt}).status().code(), StatusCode::kNotFound);
}

TEST_F(ServiceTest, AFailedRunAlertsOnceAndARecoveryIsAnnounced) {
  Start();
  const std::string repo = home_.Sub("repo"), away = home_.Sub("repo-unplugged");
  fs::rename(repo, away);  // the USB disk is unplugged
  WriteFile(docs() + "/while-away.txt", "x");
  ASSERT_TRUE(WaitFor([&] { return Count(Alerts(), "backup_failed") >= 1; })) << Log();
  // The retries fail too (every 200 ms to 1 s), but one alert says it.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu_);
    return std::count_if(reports_.begin(), reports_.end(),
                         [](const RunReport& r) { return !r.status.ok(); }) >= 3;
  })) << Log();
  EXPECT_EQ(Count(Alerts(), "backup_failed"), 1u) << Alerts();
  fs::rename(away, repo);
  ASSERT_TRUE(WaitFor([&] { return Count(Alerts(), "recovered") == 1; })) << Alerts() << Log();
  EXPECT_EQ(VersionCount(docs() + "/while-away.txt"), 1u);
  EXPECT_OK(Stop());
  EXPECT_NE(Log().find("alert (backup_failed)"), std::string::npos) << Log();
}

TEST_F(ServiceTest, NoBackupForStaleAfterHoursAlertsOncePerPeriod) {
  SetSettings("", "  stale_after_hours: 2\n");
  Start();
  // Nothing can succeed from now on (the repository is away), and the
  // machine's clock moves on by three hours (a suspend, say).
  fs::rename(home_.Sub("repo"), home_.Sub("repo-unplugged"));
  clock_.Advance(std::chrono::hours(3));
  ASSERT_TRUE(WaitFor([&] { return Count(Alerts(), "stale ") == 1; })) << Alerts() << Log();
  EXPECT_NE(Alerts().find("no backup has succeeded for 3 hours"), std::string::npos) << Alerts();
  // More turns of the loop in the same period: no second alert.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Count(Alerts(), "stale "), 1u) << Alerts();
  // Another period: one more.
  clock_.Advance(std::chrono::hours(2));
  ASSERT_TRUE(WaitFor([&] { return Count(Alerts(), "stale ") == 2; })) << Alerts();
  EXPECT_OK(Stop());
}

// The daily cleanup job applies the settings' retention rules and prunes: a
// day later (the wall clock jumps, as after a suspend) only the newest
// version stays, and the space of the other is freed.
TEST_F(ServiceTest, TheDailyCleanupForgetsByTheRetentionRules) {
  WriteFile(home_.Sub("settings.yaml"),
            "backup:\n  stability_seconds: 1\nversioning:\n  keep_last: 1\nlogging:\n  file: " +
                log_file() + "\n");
  const std::string f = docs() + "/draft.txt";
  WriteFile(f, "one");
  Start();
  WriteFile(f, "two, longer");
  ASSERT_TRUE(WaitFor([&] { return VersionCount(f) == 2; })) << Log();
  clock_.Advance(std::chrono::hours(25));
  ASSERT_TRUE(WaitFor([&] { return VersionCount(f) == 1; })) << Log();
  // The job goes on after the forget: prune, then the restore sample.
  ASSERT_TRUE(WaitFor([&] { return Log().find("restore sample") != std::string::npos; })) << Log();
  EXPECT_OK(Stop());
  EXPECT_NE(Log().find("cleanup: forgot 1 of "), std::string::npos) << Log();
  // ... and prune freed the forgotten version's space.
  EXPECT_NE(Log().find("cleanup: prune freed "), std::string::npos) << Log();
  EXPECT_EQ(Log().find("cleanup: prune freed 0 bytes"), std::string::npos) << Log();
  // ... and restored a sample (maintenance.restore_sample_files, 10 by
  // default; one version is left).
  EXPECT_NE(Log().find("restore sample: 1 versions restored and verified"), std::string::npos)
      << Log();
}

// The daily restore sample proves restores work; when a pack is damaged it
// says so: an error in the status, and an alert.
TEST_F(ServiceTest, ADamagedPackMakesTheDailyRestoreSampleAlert) {
  SetSettings("");
  const std::string f = docs() + "/thesis.odt";
  WriteFile(f, std::string(50000, 't') + "the only copy");
  Start();
  ASSERT_TRUE(WaitFor([&] { return VersionCount(f) == 1; })) << Log();
  // Damage the middle of every pack (its blobs; the headers stay readable).
  for (const auto& e : fs::recursive_directory_iterator(home_.Sub("repo/data"))) {
    if (!e.is_regular_file()) continue;
    const auto size = fs::file_size(e.path());
    std::fstream io(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(size / 3));
    char c = 0;
    io.get(c);
    io.seekp(static_cast<std::streamoff>(size / 3));
    io.put(static_cast<char>(~c));
  }
  clock_.Advance(std::chrono::hours(25));
  ASSERT_TRUE(WaitFor([&] { return Count(Alerts(), "restore_sample_failed") >= 1; }))
      << Alerts() << Log();
  EXPECT_NE(Alerts().find("did not restore"), std::string::npos) << Alerts();
  EXPECT_NE(Log().find("restore sample: " + f), std::string::npos) << Log();
  EXPECT_OK(Stop());
}

TEST_F(ServiceTest, TheLogFileMasksSecretsAndRotates) {
  // The log file is nearly full when the daemon starts: its first lines
  // rotate it.
  fs::create_directories(home_.Sub("logs"));
  WriteFile(log_file(), "old line\n" + std::string((1 << 20) - 100, 'x') + "\n");
  SetSettings("  max_file_mb: 1\n  max_files: 2\n");
  // A folder whose name is the password and one named after the account
  // key: their paths reach the log ("... is not there").
  folders_.push_back(home_.Sub(kPassword));
  folders_.push_back(home_.Sub(std::string("k-") + kAccountKey));
  Start();
  EXPECT_OK(Stop());
  ASSERT_TRUE(fs::exists(home_.Sub("logs/backup.1.log")));
  EXPECT_EQ(ReadFile(home_.Sub("logs/backup.1.log")).rfind("old line\n", 0), 0u);
  const std::string log = Log();
  EXPECT_EQ(log.find("old line"), std::string::npos);
  EXPECT_NE(log.find("is not there"), std::string::npos) << log;
  EXPECT_NE(log.find("catch-up: "), std::string::npos) << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  EXPECT_EQ(log.find(kAccountKey), std::string::npos) << log;
  EXPECT_NE(log.find("***"), std::string::npos) << log;
  EXPECT_EQ(fs::status(log_file()).permissions() & fs::perms::others_read, fs::perms::none);
}

TEST(DiskSpaceWarningTest, AboveNinetyPercentItSaysHowFullAndWhatToDo) {
  EXPECT_EQ(DiskSpaceWarning("/r", {1000, 200}), "");  // 80%
  EXPECT_EQ(DiskSpaceWarning("/r", {1000, 100}), "");  // 90% exactly
  const std::string w = DiskSpaceWarning("/r", {100ull << 30, 7ull << 30});
  EXPECT_NE(w.find("the disk holding the repository /r is 93% full (7.0 GiB free)"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("free some space or move the repository"), std::string::npos) << w;
  EXPECT_EQ(DiskSpaceWarning("/r", {0, 0}), "");  // unknown
}

TEST_F(ServiceTest, ANearlyFullRepositoryDiskIsAWarningInTheLogAndTheStatus) {
  std::atomic<uint64_t> free_bytes{50ull << 30};
  auto options = Options();
  options.daemon.disk_space = [&](const std::string& path) -> Result<DiskSpace> {
    EXPECT_EQ(path, home_.Sub("repo"));
    return DiskSpace{100ull << 30, free_bytes.load()};
  };
  auto s = Service::Create(std::move(options));
  ASSERT_OK(s);
  service_ = std::move(*s);
  thread_ = std::jthread([this](std::stop_token stop) { result_ = service_->Run(stop); });
  ASSERT_TRUE(WaitFor([&] { return Reported("catch-up", true); })) << Log();
  nlohmann::json st = Call({"status", std::nullopt});
  EXPECT_TRUE(st["warnings"].empty()) << st.dump();
  EXPECT_EQ(st.value("disk_free_bytes", 0ull), 50ull << 30);

  free_bytes = 5ull << 30;  // 95% full
  WriteFile(docs() + "/a.txt", "a");
  ASSERT_TRUE(WaitFor([&] { return !Call({"status", std::nullopt})["warnings"].empty(); }));
  st = Call({"status", std::nullopt});
  EXPECT_NE(st["warnings"][0].get<std::string>().find("is 95% full"), std::string::npos)
      << st.dump();
  WriteFile(docs() + "/b.txt", "b");  // another run: no second log line
  ASSERT_TRUE(WaitFor([&] { return VersionCount(docs() + "/b.txt") == 1; }));
  EXPECT_OK(Stop());
  EXPECT_EQ(Count(Log(), "is 95% full"), 1u) << Log();
}

// The service manager's end of NOTIFY_SOCKET.
class FakeManager {
 public:
  explicit FakeManager(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr),
                     static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size())),
              0);
  }
  ~FakeManager() { ::close(fd_); }
  // Everything received within `within`, one datagram a line.
  std::string Drain(std::chrono::milliseconds within) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) out += std::string(buffer, static_cast<size_t>(n)) + "\n";
    }
    return out;
  }

 private:
  int fd_ = -1;
};

TEST_F(ServiceTest, SystemdHearsReadyStatusWatchdogAndStopping) {
  const std::string path = home_.Sub("notify.sock");
  FakeManager manager(path);
  ::cairn::testing::ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  ::cairn::testing::ScopedEnv usec("WATCHDOG_USEC", "400000");  // a ping every 200 ms
  Start();
  std::string heard = manager.Drain(std::chrono::milliseconds(1500));
  EXPECT_NE(heard.find("READY=1"), std::string::npos) << heard;
  EXPECT_NE(heard.find("STATUS=catch-up: "), std::string::npos) << heard;
  EXPECT_GE(Count(heard, "WATCHDOG=1"), 3u) << heard;
  EXPECT_OK(Stop());
  heard = manager.Drain(std::chrono::milliseconds(300));
  EXPECT_NE(heard.find("STOPPING=1"), std::string::npos) << heard;
}

}  // namespace
}  // namespace cairn::daemon
