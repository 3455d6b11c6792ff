// `cairn run` operated as a user would, with the real binary: `cairn status`
// with and without a daemon, `cairn pause` / `resume`, and the log (stderr
// and the default log file) holding no secret. Waits are "until it holds"
// with generous limits; nothing asserts speed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "e2e_util.h"

namespace cairn::e2e {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::seconds;

class ServiceE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeDirs(docs());
    WriteFile(settings(), "backup:\n  stability_seconds: 1\n");
    ProcResult init = sb.Cairn({"init"});
    ASSERT_EQ(init.exit_code, 0) << init.Describe();
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->Kill(SIGKILL);
      daemon_->Wait();
    }
  }
  std::string docs() const { return sb.Path("docs"); }
  std::string settings() const { return sb.Path("settings.yaml"); }

  // `cairn status --json`: its exit code and document.
  std::pair<int, json> Status() {
    ProcResult r = sb.Cairn({"--config", settings(), "--json", "status"});
    try {
      return {r.exit_code, json::parse(r.out)};
    } catch (const std::exception&) {
      return {r.exit_code, json()};
    }
  }
  size_t VersionCount(const std::string& path) {
    ProcResult r = sb.Cairn({"--json", "versions", path});
    if (r.exit_code != 0) return 0;
    return json::parse(r.out).size();
  }
  void StartDaemon(const std::vector<std::string>& extra = {},
                   const CairnRunOptions& o = CairnRunOptions()) {
    std::vector<std::string> args = {"--config", settings(), "run", docs()};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_.emplace(sb.SpawnCairn(args, o));
    ASSERT_TRUE(WaitUntil([&] {
      auto [code, s] = Status();
      return code == 0 && s.contains("last_run") && s["last_run"].is_object();
    })) << Stop().Describe();
  }
  ProcResult Stop() {
    if (!daemon_) return {};
    daemon_->Kill(SIGTERM);
    ProcResult r = daemon_->Wait();
    daemon_.reset();
    return r;
  }

  Sandbox sb;
  std::optional<Process> daemon_;
};

TEST_F(ServiceE2eTest, StatusPauseAndResumeFromTheCommandLine) {
  // No daemon: says so, exits 4, and tells what the catalog knows.
  ProcResult none = sb.Cairn({"--config", settings(), "status"});
  EXPECT_EQ(none.exit_code, 4) << none.Describe();
  EXPECT_NE(none.out.find("not running; last backup: unknown"), std::string::npos)
      << none.Describe();
  ASSERT_EQ(sb.Cairn({"backup", docs()}).exit_code, 0);
  auto [code, s] = Status();
  EXPECT_EQ(code, 4);
  EXPECT_EQ(s.value("daemon_running", true), false) << s.dump();
  EXPECT_TRUE(s["last_success"].is_string()) << s.dump();
  ProcResult pause_none = sb.Cairn({"--config", settings(), "pause"});
  EXPECT_EQ(pause_none.exit_code, 4) << pause_none.Describe();
  EXPECT_NE(pause_none.err.find("no `cairn run` is running"), std::string::npos)
      << pause_none.Describe();

  StartDaemon();
  ProcResult text = sb.Cairn({"--config", settings(), "status"});
  EXPECT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(text.out.find("cairn run is protecting 1 folder"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  folders:      " + docs()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  last backup:  "), std::string::npos) << text.out;
  std::tie(code, s) = Status();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(s.value("daemon_running", false)) << s.dump();
  EXPECT_EQ(s.value("device", ""), Sandbox::kDevice);
  EXPECT_EQ(s.value("repository", ""), sb.repo());

  ProcResult bad = sb.Cairn({"--config", settings(), "pause", "5x"});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_NE(bad.err.find("unknown unit 'x'"), std::string::npos) << bad.Describe();

  ProcResult paused = sb.Cairn({"--config", settings(), "pause", "1h"});
  EXPECT_EQ(paused.exit_code, 0) << paused.Describe();
  EXPECT_NE(paused.out.find("paused until "), std::string::npos) << paused.Describe();
  std::tie(code, s) = Status();
  EXPECT_TRUE(s.value("paused", false)) << s.dump();
  WriteFile(docs() + "/while-paused.txt", "on a metered link");
  ASSERT_TRUE(WaitUntil([&] { return Status().second.value("queued", 0) == 1; }));
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(VersionCount(docs() + "/while-paused.txt"), 0u);
  ProcResult resumed = sb.Cairn({"--config", settings(), "resume"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.Describe();
  ASSERT_TRUE(WaitUntil([&] { return VersionCount(docs() + "/while-paused.txt") == 1; }));
  EXPECT_FALSE(Status().second.value("paused", true));

  ProcResult r = Stop();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Status().first, 4);
}

TEST_F(ServiceE2eTest, NoSecretReachesTheLog) {
  // The password (CAIRN_PASSWORD) and a SAS in the connection string are in
  // the environment; a folder named after each reaches the log ("... is not
  // there"), at the most talkative level.
  const std::string sig = "sig=Zm9yZ2VkLXNhcy1zaWduYXR1cmUtdmFsdWU%3D";
  CairnRunOptions o;
  o.set["BACKUP_LOG_LEVEL"] = "debug";
  o.set["AZURE_STORAGE_CONNECTION_STRING"] =
      "BlobEndpoint=https://me.blob.core.windows.net;SharedAccessSignature=sv=2022-11-02&ss=b&" +
      sig;
  const std::string pw_folder = sb.Path(std::string("x ") + Sandbox::kPassword);
  const std::string sig_folder = sb.Path("y-" + sig);
  StartDaemon({pw_folder, sig_folder}, o);
  WriteFile(docs() + "/a.txt", "a");
  ASSERT_TRUE(WaitUntil([&] { return VersionCount(docs() + "/a.txt") == 1; }));
  ProcResult r = Stop();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  const std::string log_file = sb.home() + "/.local/state/cairn/logs/backup.log";
  ASSERT_TRUE(fs::exists(log_file));
  struct stat st;
  ASSERT_EQ(::stat(log_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string log = ReadFile(log_file);
  for (const std::string& text : {log, r.err}) {
    EXPECT_NE(text.find("is not there"), std::string::npos) << text;
    EXPECT_NE(text.find("batch: "), std::string::npos) << text;
    EXPECT_EQ(text.find(Sandbox::kPassword), std::string::npos) << text;
    EXPECT_EQ(text.find("Zm9yZ2VkLXNhcy1zaWduYXR1cmUtdmFsdWU"), std::string::npos) << text;
    EXPECT_NE(text.find("***"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace cairn::e2e
