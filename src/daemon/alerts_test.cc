#include "daemon/alerts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/log.h"
#include "testing/assert_ok.h"
#include "testing/scoped_env.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;
using ::cairn::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr TimeNs kHour = 3600'000'000'000;
constexpr TimeNs kT0 = 1'780'000'000'000'000'000;  // 2026-05-28, an arbitrary start

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// NAME=value lines of an `env` dump.
std::map<std::string, std::string> ParseEnv(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

using ::cairn::testing::ScopedEnv;

Alert FailedAlert() {
  Alert a;
  a.event = AlertEvent::kBackupFailed;
  a.message = "backup of /home/u/Documents failed: the repository is unreachable";
  a.device = "laptop";
  a.repository = "azure://backups/cairn";
  a.time = kT0;
  a.last_success = kT0 - 2 * kHour;
  return a;
}

std::unique_ptr<AlertSink> MakeSink(AlertOptions o) {
  Result<std::unique_ptr<AlertSink>> r = AlertSink::Create(std::move(o));
  EXPECT_OK(r);
  return r.ok() ? std::move(r).value() : nullptr;
}

// --- The command ------------------------------------------------------------

TEST(AlertCommand, GetsTheEventInItsEnvironmentAndNoSecrets) {
  TempDir dir;
  std::string out = dir.Sub("env.txt");
  ScopedEnv password("CAIRN_PASSWORD", "pw-in-env");
  ScopedEnv cs("AZURE_STORAGE_CONNECTION_STRING", "AccountName=a;AccountKey=k3y");
  ScopedEnv notify("NOTIFY_SOCKET", "/run/systemd/notify");
  ScopedEnv stale("CAIRN_ALERT_EVENT", "left over from the daemon's own environment");
  ScopedEnv keep("CAIRN_TEST_KEEP", "kept");
  AlertOptions o;
  // The output path is an argument, not part of the command text.
  o.command = {"/bin/sh", "-c", "env > \"$1\"", "sh", out};
  o.host = "host-1";
  auto sink = MakeSink(o);
  ASSERT_NE(sink, nullptr);
  EXPECT_TRUE(sink->enabled());
  ASSERT_OK(sink->Fire(FailedAlert()));

  std::map<std::string, std::string> env = ParseEnv(ReadAll(out));
  EXPECT_EQ(env["CAIRN_ALERT_EVENT"], "backup_failed");
  EXPECT_EQ(env["CAIRN_ALERT_MESSAGE"], FailedAlert().message);
  EXPECT_EQ(env["CAIRN_ALERT_DEVICE"], "laptop");
  EXPECT_EQ(env["CAIRN_ALERT_HOST"], "host-1");
  EXPECT_EQ(env["CAIRN_ALERT_REPOSITORY"], "azure://backups/cairn");
  EXPECT_EQ(env["CAIRN_ALERT_TIME"], FormatRfc3339(kT0));
  EXPECT_EQ(env["CAIRN_ALERT_LAST_SUCCESS"], FormatRfc3339(kT0 - 2 * kHour));
  EXPECT_EQ(env["CAIRN_TEST_KEEP"], "kept");
  EXPECT_FALSE(env.count("CAIRN_PASSWORD"));
  EXPECT_FALSE(env.count("AZURE_STORAGE_CONNECTION_STRING"));
  EXPECT_FALSE(env.count("NOTIFY_SOCKET"));
  EXPECT_THAT(ReadAll(out), Not(HasSubstr("k3y")));
}

TEST(AlertCommand, NeverLastSuccessIsEmpty) {
  TempDir dir;
  std::string out = dir.Sub("env.txt");
  AlertOptions o;
  o.command = {"/bin/sh", "-c", "env > \"$1\"", "sh", out};
  Alert a = FailedAlert();
  a.event = AlertEvent::kStale;
  a.last_success.reset();
  ASSERT_OK(MakeSink(o)->Fire(a));
  std::map<std::string, std::string> env = ParseEnv(ReadAll(out));
  EXPECT_EQ(env["CAIRN_ALERT_EVENT"], "stale");
  ASSERT_TRUE(env.count("CAIRN_ALERT_LAST_SUCCESS"));
  EXPECT_EQ(env["CAIRN_ALERT_LAST_SUCCESS"], "");
}

TEST(AlertCommand, MessageIsDataNotShell) {
  TempDir dir;
  std::string out = dir.Sub("message.txt");
  std::string pwned = dir.Sub("pwned");
  AlertOptions o;
  o.command = {"/bin/sh", "-c", "printf '%s' \"$CAIRN_ALERT_MESSAGE\" > \"$1\"", "sh", out};
  Alert a = FailedAlert();
  a.message = "cannot read /home/u/$(touch " + pwned + ")`touch " + pwned + "`; \"quoted\"\nline2";
  ASSERT_OK(MakeSink(o)->Fire(a));
  EXPECT_EQ(ReadAll(out), a.message);
  EXPECT_FALSE(fs::exists(pwned));
}

TEST(AlertCommand, MessageAndOutputAreRedacted) {
  TempDir dir;
  std::string out = dir.Sub("message.txt");
  auto redactor = std::make_shared<Redactor>();
  redactor->AddSecret("the-password");
  AlertOptions o;
  o.redactor = redactor;
  o.command = {"/bin/sh", "-c",
               "printf '%s' \"$CAIRN_ALERT_MESSAGE\" > \"$1\"; echo the-password; exit 1", "sh",
               out};
  Alert a = FailedAlert();
  a.message = "wrong password 'the-password'; AccountKey=abc;x";
  Status st = MakeSink(o)->Fire(a);
  EXPECT_EQ(ReadAll(out), "wrong password '***'; AccountKey=***;x");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), Not(HasSubstr("the-password")));
}

TEST(AlertCommand, FailureNamesStatusAndOutput) {
  AlertOptions o;
  o.command = {"/bin/sh", "-c", "echo starting; echo 'no route to pager' >&2; exit 3"};
  Status st = MakeSink(o)->Fire(FailedAlert());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_THAT(st.message(), HasSubstr("alert command '/bin/sh' exited with status 3"));
  EXPECT_THAT(st.message(), HasSubstr("no route to pager"));
}

TEST(AlertCommand, KilledBySignal) {
  AlertOptions o;
  o.command = {"/bin/sh", "-c", "kill -KILL $$"};
  Status st = MakeSink(o)->Fire(FailedAlert());
  EXPECT_THAT(st.message(), HasSubstr("killed by signal 9"));
}

TEST(AlertCommand, MissingProgram) {
  AlertOptions o;
  o.command = {"/nonexistent/alert-program"};
  Status st = MakeSink(o)->Fire(FailedAlert());
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("/nonexistent/alert-program"));
}

TEST(AlertCommand, FoundInPath) {
  TempDir dir;
  std::string out = dir.Sub("out.txt");
  AlertOptions o;
  o.command = {"sh", "-c", "echo found > \"$1\"", "sh", out};
  ASSERT_OK(MakeSink(o)->Fire(FailedAlert()));
  EXPECT_EQ(ReadAll(out), "found\n");
}

TEST(AlertCommand, TimeoutKillsTheWholeGroup) {
  TempDir dir;
  std::string pidfile = dir.Sub("pid");
  AlertOptions o;
  // A background child that would outlive its shell.
  o.command = {"/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; wait", "sh", pidfile};
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  Status st = MakeSink(o)->Fire(FailedAlert());
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("did not finish within 0.3 s and was killed"));
  EXPECT_LT(took, 5s);
  pid_t sleeper = std::stoi(ReadAll(pidfile));
  // Reparented to init once its shell died; gone once init reaped it.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(sleeper, 0) != 0;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "the command's child " << sleeper << " survived the timeout";
}

TEST(AlertCommand, StopEndsTheWait) {
  AlertOptions o;
  o.command = {"/bin/sh", "-c", "sleep 30"};
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  Status st = MakeSink(o)->Fire(FailedAlert(), stop.get_token());
  EXPECT_EQ(st.code(), StatusCode::kCancelled) << st.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(AlertSink, NothingConfigured) {
  auto sink = MakeSink({});
  ASSERT_NE(sink, nullptr);
  EXPECT_FALSE(sink->enabled());
  EXPECT_OK(sink->Fire(FailedAlert()));
}

TEST(AlertSink, BadOptions) {
  AlertOptions o;
  o.webhook_url = "ftp://x/";
  EXPECT_EQ(AlertSink::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.command = {""};
  EXPECT_EQ(AlertSink::Create(o).status().code(), StatusCode::kInvalidArgument);
}

// --- The webhook ------------------------------------------------------------

// A local HTTP listener in a thread of its own; `respond` decides each
// answer from the request's number (0 = first).
class HookServer {
 public:
  using Respond = std::function<void(int n, const httplib::Request&, httplib::Response&)>;
  explicit HookServer(Respond respond) : respond_(std::move(respond)) {
    server_.Post("/hooks/secret-token",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   int n;
                   {
                     std::lock_guard<std::mutex> lock(mu_);
                     n = static_cast<int>(bodies_.size());
                     bodies_.push_back(req.body);
                     content_types_.push_back(req.get_header_value("Content-Type"));
                   }
                   respond_(n, req, res);
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    EXPECT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // (bind_to_any_port listens already; this only keeps stop() from
    // racing the start of the accept loop.)
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~HookServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/secret-token";
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> content_types() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_types_;
  }

 private:
  Respond respond_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<std::string> content_types_;
};

AlertOptions WebhookOptions(const std::string& url) {
  AlertOptions o;
  o.webhook_url = url;
  o.host = "host-1";
  o.timeout = 2s;
  o.retry_delay = 50ms;
  return o;
}

TEST(AlertWebhook, PostsTheEventAsJson) {
  HookServer server([](int, const httplib::Request&, httplib::Response& res) { res.status = 204; });
  ASSERT_OK(MakeSink(WebhookOptions(server.url()))->Fire(FailedAlert()));
  ASSERT_EQ(server.bodies().size(), 1u);
  EXPECT_EQ(server.content_types()[0], "application/json");
  nlohmann::json j = nlohmann::json::parse(server.bodies()[0]);
  EXPECT_EQ(j["event"], "backup_failed");
  EXPECT_EQ(j["message"], FailedAlert().message);
  EXPECT_EQ(j["device"], "laptop");
  EXPECT_EQ(j["host"], "host-1");
  EXPECT_EQ(j["repository"], "azure://backups/cairn");
  EXPECT_EQ(j["time"], FormatRfc3339(kT0));
  EXPECT_EQ(j["last_success"], FormatRfc3339(kT0 - 2 * kHour));
  EXPECT_EQ(j["text"], "cairn (laptop): backup_failed: " + FailedAlert().message);
}

TEST(AlertWebhook, JsonNullWithoutSuccessAndBadUtf8Replaced) {
  Alert a = FailedAlert();
  a.last_success.reset();
  a.message = "cannot read /home/u/\xff\xfe.txt";
  nlohmann::json j = nlohmann::json::parse(AlertJson(a, "h"));
  EXPECT_TRUE(j["last_success"].is_null());
  EXPECT_THAT(j["message"].get<std::string>(), HasSubstr("cannot read /home/u/"));
}

TEST(AlertWebhook, RetriesOnceAfterServerError) {
  HookServer server([](int n, const httplib::Request&, httplib::Response& res) {
    res.status = n == 0 ? 503 : 200;
  });
  ASSERT_OK(MakeSink(WebhookOptions(server.url()))->Fire(FailedAlert()));
  EXPECT_EQ(server.bodies().size(), 2u);
}

TEST(AlertWebhook, GivesUpAfterTheSecondTry) {
  HookServer server([](int, const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("internal trouble", "text/plain");
  });
  Status st = MakeSink(WebhookOptions(server.url()))->Fire(FailedAlert());
  EXPECT_EQ(server.bodies().size(), 2u);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("answered HTTP 500: internal trouble"));
  // The URL's path is a token: only the host is named.
  EXPECT_THAT(st.message(), HasSubstr("alert webhook at 127.0.0.1:"));
  EXPECT_THAT(st.message(), Not(HasSubstr("secret-token")));
}

TEST(AlertWebhook, ClientErrorIsNotRetried) {
  HookServer server([](int, const httplib::Request&, httplib::Response& res) { res.status = 404; });
  Status st = MakeSink(WebhookOptions(server.url()))->Fire(FailedAlert());
  EXPECT_EQ(server.bodies().size(), 1u);
  EXPECT_THAT(st.message(), HasSubstr("answered HTTP 404"));
}

TEST(AlertWebhook, SlowServerTimesOutTwice) {
  HookServer server([](int, const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.status = 200;
  });
  AlertOptions o = WebhookOptions(server.url());
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  Status st = MakeSink(o)->Fire(FailedAlert());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  // Both tries reached the server (each gave up waiting for its answer).
  for (int i = 0; i < 50 && server.bodies().size() < 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(server.bodies().size(), 2u);
}

TEST(AlertWebhook, NobodyListening) {
  int port;
  {
    httplib::Server probe;
    port = probe.bind_to_any_port("127.0.0.1");
  }  // closed: nothing listens there now
  AlertOptions o =
      WebhookOptions("http://127.0.0.1:" + std::to_string(port) + "/hooks/secret-token");
  Status st = MakeSink(o)->Fire(FailedAlert());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(st.message(), Not(HasSubstr("secret-token")));
}

TEST(AlertWebhook, UrlBecomesASecretOfTheRedactor) {
  auto redactor = std::make_shared<Redactor>();
  AlertOptions o = WebhookOptions("https://hooks.example.com/services/T0/B0/tok3n");
  o.redactor = redactor;
  ASSERT_NE(MakeSink(o), nullptr);
  EXPECT_EQ(redactor->Redact("posting to https://hooks.example.com/services/T0/B0/tok3n"),
            "posting to ***");
}

TEST(AlertSink, CommandFailureDoesNotStopTheWebhook) {
  HookServer server([](int, const httplib::Request&, httplib::Response& res) { res.status = 200; });
  AlertOptions o = WebhookOptions(server.url());
  o.command = {"/bin/sh", "-c", "exit 2"};
  Status st = MakeSink(o)->Fire(FailedAlert());
  EXPECT_THAT(st.message(), HasSubstr("exited with status 2"));
  EXPECT_EQ(server.bodies().size(), 1u);
}

// --- When to fire -------------------------------------------------------------

TEST(FailureWatch, OncePerOutageThenRepeatsAndRecovers) {
  FailureWatch w(6h);
  EXPECT_TRUE(w.RecordFailure(kT0));
  EXPECT_FALSE(w.RecordFailure(kT0 + kHour / 60));  // the retry a minute later
  EXPECT_FALSE(w.RecordFailure(kT0 + 5 * kHour));
  EXPECT_TRUE(w.RecordFailure(kT0 + 6 * kHour));  // still failing: a reminder
  EXPECT_TRUE(w.RecordSuccess());                 // recovered
  EXPECT_FALSE(w.RecordSuccess());
  EXPECT_TRUE(w.RecordFailure(kT0 + 7 * kHour));  // a new outage alerts at once
}

TEST(StaleWatch, FiresOncePerPeriod) {
  StaleWatch w(24h, kT0, kT0 + kHour);
  EXPECT_EQ(w.NextDue(), kT0 + 24 * kHour);
  EXPECT_FALSE(w.Check(kT0 + 23 * kHour));
  EXPECT_TRUE(w.Check(kT0 + 24 * kHour));
  // Checked every minute afterwards: no repeat within the period.
  for (TimeNs t = kT0 + 24 * kHour + kHour / 60; t < kT0 + 48 * kHour; t += kHour / 60) {
    ASSERT_FALSE(w.Check(t)) << (t - kT0) / kHour;
  }
  EXPECT_EQ(w.NextDue(), kT0 + 48 * kHour);
  EXPECT_TRUE(w.Check(kT0 + 48 * kHour));
  EXPECT_THAT(w.Message(kT0 + 48 * kHour), HasSubstr("no backup has succeeded for 48 hours"));
}

TEST(StaleWatch, LongSleepFiresOnce) {
  StaleWatch w(24h, kT0, kT0);
  EXPECT_TRUE(w.Check(kT0 + 80 * kHour));  // woke up after three days
  EXPECT_FALSE(w.Check(kT0 + 80 * kHour + kHour));
  EXPECT_EQ(w.NextDue(), kT0 + 96 * kHour);
}

TEST(StaleWatch, SuccessResetsAndReportsRecovery) {
  StaleWatch w(24h, kT0, kT0);
  EXPECT_FALSE(w.RecordSuccess(kT0 + kHour));  // nothing had fired
  EXPECT_FALSE(w.Check(kT0 + 24 * kHour));
  EXPECT_TRUE(w.Check(kT0 + 25 * kHour));
  EXPECT_TRUE(w.RecordSuccess(kT0 + 26 * kHour));
  EXPECT_EQ(w.last_success(), kT0 + 26 * kHour);
  EXPECT_FALSE(w.Check(kT0 + 49 * kHour));
  EXPECT_TRUE(w.Check(kT0 + 50 * kHour));
  // An older success (a late report) changes nothing.
  EXPECT_FALSE(w.RecordSuccess(kT0 + 2 * kHour));
  EXPECT_EQ(w.last_success(), kT0 + 26 * kHour);
}

TEST(StaleWatch, NeverSucceededCountsFromStart) {
  StaleWatch w(24h, std::nullopt, kT0);
  EXPECT_FALSE(w.Check(kT0 + 23 * kHour));
  EXPECT_TRUE(w.Check(kT0 + 24 * kHour));
  EXPECT_THAT(w.Message(kT0 + 24 * kHour),
              HasSubstr("no backup has succeeded in the 24 hours since watching started"));
}

TEST(StaleWatch, ClockSetBackAndDisabled) {
  StaleWatch w(24h, kT0, kT0);
  EXPECT_FALSE(w.Check(kT0 - 100 * kHour));
  StaleWatch off(0h, kT0, kT0);
  EXPECT_FALSE(off.Check(kT0 + 1000 * kHour));
  EXPECT_FALSE(off.NextDue().has_value());
}

}  // namespace
}  // namespace cairn::daemon
