// The daemon in-process, on real files, real inotify events and a real local
// repository through the engine's Session: changes become versions,
// deletions deletion records, excluded files never stored; the persisted
// queue is drained after a stop; a second daemon is refused; a bad settings
// file is refused on reload; an unreachable repository keeps every change
// queued until it is back; events lost (the kernel's queue overflowed) and
// folders beyond the watch limit are found by the watcher's rescans. No
// timing is asserted: every wait is "until it holds", with a generous limit.
#include "daemon/daemon.h"

#include <gtest/gtest.h>
#include <sys/inotify.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/queue.h"
#include "daemon/state_dir.h"
#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"
#include "watch/create_watcher.h"
#include "watch/inotify_watcher.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;
using testing::WriteFile;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_["HOME"] = home_.path();
    env_["XDG_DATA_HOME"] = home_.Sub("data");
    env_["XDG_CACHE_HOME"] = home_.Sub("cache");
    env_["XDG_CONFIG_HOME"] = home_.Sub("config");
    env_["XDG_STATE_HOME"] = home_.Sub("state");
    env_["CAIRN_PASSWORD"] = "pw";
    env_["CAIRN_LOCK_WAIT"] = "0";
    fs::create_directories(docs());
    WriteFile(home_.Sub("reader.yaml"), "");
    SetSettings("backup:\n  stability_seconds: 1\n  exclude_patterns: ['*.tmp']\n");
    auto s = MakeSession();
    ASSERT_OK(s);
    ASSERT_OK((*s)->Init("test"));
  }
  void TearDown() override { (void)Stop(); }

  std::string docs() const { return home_.Sub("docs"); }
  void SetSettings(const std::string& yaml) { WriteFile(home_.Sub("settings.yaml"), yaml); }

  // The daemon's session reads settings.yaml; the test's readers an empty
  // file of their own (settings.yaml is made bad on purpose below).
  Result<std::unique_ptr<engine::Session>> MakeSession(bool reader = false) {
    engine::SessionOptions o;
    o.repository = home_.Sub("repo");
    o.config_file = home_.Sub(reader ? "reader.yaml" : "settings.yaml");
    o.device = "laptop";
    o.cheap_kdf_for_tests = true;
    o.getenv = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    return engine::Session::Create(std::move(o));
  }

  DaemonOptions Options() {
    DaemonOptions o;
    o.make_session = [this] { return MakeSession(); };
    o.folders = {docs()};
    o.getenv = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    o.retry_min = std::chrono::milliseconds(200);
    o.retry_max = std::chrono::milliseconds(1000);
    o.max_wait = std::chrono::milliseconds(500);
    o.hooks.log = [this](LogLevel, const std::string& line) {
      std::lock_guard lock(mu_);
      log_ += line + "\n";
    };
    o.hooks.on_run = [this](const RunReport& r) {
      std::lock_guard lock(mu_);
      reports_.push_back(r);
    };
    o.hooks.reloaded = [this](const Status& st) {
      std::lock_guard lock(mu_);
      reloads_.push_back(st);
    };
    return o;
  }

  // Starts the daemon on its own thread; returns once its catch-up pass
  // has been reported.
  void Start() { Start(Options()); }
  void Start(DaemonOptions options) {
    auto d = Daemon::Create(std::move(options));
    ASSERT_OK(d);
    daemon_ = std::move(*d);
    thread_ = std::jthread([this](std::stop_token stop) { result_ = daemon_->Run(stop); });
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(mu_);
      for (const auto& r : reports_)
        if (r.kind == "catch-up" && r.status.ok()) return true;
      return false;
    })) << Log();
  }
  // Every run reported so far succeeded, except one that Stop() cancelled: a
  // batch or rescan still running when the test stops the daemon ends with
  // a report that says so, which is not a failure.
  void ExpectRunsSucceededOrWereStopped() {
    std::lock_guard lock(mu_);
    for (const RunReport& r : reports_) {
      if (r.status.code() != StatusCode::kCancelled) {
        EXPECT_TRUE(r.status.ok()) << r.kind << ": " << r.status.ToString();
      }
    }
  }
  Status Stop() {
    if (!thread_.joinable()) return Status::OK();
    thread_.request_stop();
    thread_.join();
    daemon_.reset();
    return result_;
  }

  std::string Log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  // How many times `text` occurs in the log.
  size_t LogCount(const std::string& text) {
    const std::string log = Log();
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }

  // Polls `cond` until it holds (true) or a minute passes (false).
  static bool WaitFor(const std::function<bool()>& cond) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return cond();
  }

  // The versions of `path` from a reading session of its own.
  std::vector<engine::FileVersion> Versions(const std::string& path) {
    auto s = MakeSession(/*reader=*/true);
    if (!s.ok()) return {};
    auto v = (*s)->Versions(path);
    return v.ok() ? v->versions : std::vector<engine::FileVersion>{};
  }
  bool HasVersions(const std::string& path, size_t n, bool last_deleted = false) {
    auto v = Versions(path);
    return v.size() >= n && v.back().deleted == last_deleted;
  }

  testing::TempDir home_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Daemon> daemon_;
  std::jthread thread_;
  Status result_;
  std::mutex mu_;
  std::string log_;
  std::vector<RunReport> reports_;
  std::vector<Status> reloads_;
};

TEST_F(DaemonTest, ChangesBecomeVersionsDeletionsRecordsAndExcludedFilesNothing) {
  WriteFile(docs() + "/before.txt", "there before the daemon");
  Start();
  // The catch-up pass found what was there.
  EXPECT_EQ(Versions(docs() + "/before.txt").size(), 1u);

  WriteFile(docs() + "/new.txt", "one");
  WriteFile(docs() + "/scratch.tmp", "excluded");
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/new.txt", 1); })) << Log();
  WriteFile(docs() + "/new.txt", "one, and two");
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/new.txt", 2); })) << Log();
  fs::remove(docs() + "/before.txt");
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/before.txt", 2, true); })) << Log();
  // A folder made with files in it at once.
  fs::create_directories(docs() + "/a/b/c");
  WriteFile(docs() + "/a/b/c/deep.txt", "deep");
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/a/b/c/deep.txt", 1); })) << Log();
  EXPECT_TRUE(Versions(docs() + "/scratch.tmp").empty());

  // Once everything has settled and been backed up, the queue is empty, on
  // disk too. (Events that repeat what a folder's walk already covered may
  // still be settling when the file has its version.)
  ASSERT_TRUE(WaitFor([&] { return daemon_->Snapshot().queued == 0; })) << Log();
  ASSERT_OK(Stop());
  auto q = PersistentQueue::Open(home_.Sub("state/cairn/") +
                                 StateFileStem(home_.Sub("repo"), "laptop") + ".queue.db");
  ASSERT_OK(q);
  auto n = (*q)->Size();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0u) << Log();
}

// From creation until the watches are set up (seconds on a large tree) the
// snapshot already names the folders and says it is starting: a dashboard or
// `cairn status` asked meanwhile must not report "no folder" or "not
// watching".
TEST_F(DaemonTest, WhileStartingTheSnapshotNamesTheFoldersAndSaysSo) {
  {
    auto created = Daemon::Create(Options());
    ASSERT_OK(created);
    const DaemonSnapshot before = (*created)->Snapshot();
    EXPECT_TRUE(before.starting);
    EXPECT_FALSE(before.watching);
    EXPECT_EQ(before.folders, std::vector<std::string>{fs::canonical(docs()).string()});
  }
  Start();
  const DaemonSnapshot running = daemon_->Snapshot();
  EXPECT_FALSE(running.starting);
  EXPECT_TRUE(running.watching);
  EXPECT_EQ(running.folders, std::vector<std::string>{fs::canonical(docs()).string()});
  ASSERT_OK(Stop());
}

// A new folder comes with an event for each file in it; the folder's walk
// covers them, and a file whose name sorts between the folder and its
// contents ("a b" between "a" and "a/x") is still backed up on its own.
TEST_F(DaemonTest, AFolderAndItsFilesInOneBatchAreBackedUpOnce) {
  Start();
  fs::create_directories(docs() + "/a/sub");
  WriteFile(docs() + "/a/x", "x");
  WriteFile(docs() + "/a/sub/y", "y");
  WriteFile(docs() + "/a b", "a b");
  ASSERT_TRUE(WaitFor([&] {
    return HasVersions(docs() + "/a/x", 1) && HasVersions(docs() + "/a/sub/y", 1) &&
           HasVersions(docs() + "/a b", 1);
  })) << Log();
  ASSERT_OK(Stop());
  EXPECT_EQ(Versions(docs() + "/a/x").size(), 1u);
  EXPECT_EQ(Versions(docs() + "/a/sub/y").size(), 1u);
  EXPECT_EQ(Versions(docs() + "/a b").size(), 1u);
  ExpectRunsSucceededOrWereStopped();
}

TEST_F(DaemonTest, WhatWasQueuedWhenItStoppedIsBackedUpFirstOnTheNextStart) {
  // A queue left by a daemon that died before its batch: the file was
  // written, its event recorded, nothing backed up.
  WriteFile(docs() + "/pending.txt", "pending");
  {
    ASSERT_OK(MakeStateDir(home_.Sub("state/cairn")));
    auto q = PersistentQueue::Open(home_.Sub("state/cairn/") +
                                   StateFileStem(home_.Sub("repo"), "laptop") + ".queue.db");
    ASSERT_OK(q);
    ASSERT_OK((*q)->Record(std::vector<watch::WatchEvent>{{watch::EventKind::kChanged,
                                                           docs() + "/pending.txt", "", false}},
                           1));
  }
  Start();
  EXPECT_EQ(Versions(docs() + "/pending.txt").size(), 1u);
  std::lock_guard lock(mu_);
  ASSERT_GE(reports_.size(), 2u);
  EXPECT_EQ(reports_[0].kind, "batch");  // the queue first, then the catch-up
  EXPECT_EQ(reports_[0].files, 1u);
  EXPECT_EQ(reports_[1].kind, "catch-up");
}

TEST_F(DaemonTest, ASecondDaemonForTheSameRepositoryAndDeviceIsRefused) {
  Start();
  auto second = Daemon::Create(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kLocked);
  EXPECT_NE(second.error().message().find("already protecting"), std::string::npos)
      << second.error().message();
  ASSERT_OK(Stop());
  EXPECT_OK(Daemon::Create(Options()));  // released with the first
}

TEST_F(DaemonTest, ABadSettingsFileIsRefusedOnReloadAndTheOldSettingsKeepRunning) {
  Start();
  SetSettings("backup:\n  stability_seconds: [not a number\n");
  daemon_->RequestReload();
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu_);
    return !reloads_.empty();
  }));
  {
    std::lock_guard lock(mu_);
    EXPECT_FALSE(reloads_[0].ok());
  }
  EXPECT_NE(Log().find("settings not reloaded"), std::string::npos) << Log();
  // Still protecting, with the old rules (*.tmp excluded).
  WriteFile(docs() + "/after-reload.txt", "x");
  WriteFile(docs() + "/after-reload.tmp", "x");
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/after-reload.txt", 1); })) << Log();
  EXPECT_TRUE(Versions(docs() + "/after-reload.tmp").empty());

  // A good file is taken: *.tmp is no longer excluded, and the full pass
  // after a change of rules finds the file the old rules left out.
  SetSettings("backup:\n  stability_seconds: 1\n");
  daemon_->RequestReload();
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/after-reload.tmp", 1); })) << Log();
  std::lock_guard lock(mu_);
  ASSERT_EQ(reloads_.size(), 2u);
  EXPECT_OK(reloads_[1]);
}

TEST_F(DaemonTest, AnUnreachableRepositoryKeepsChangesQueuedUntilItIsBack) {
  Start();
  const std::string repo = home_.Sub("repo"), away = home_.Sub("repo-unplugged");
  fs::rename(repo, away);  // the USB disk is unplugged
  WriteFile(docs() + "/while-away.txt", "written while the disk was away");
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu_);
    return std::any_of(reports_.begin(), reports_.end(),
                       [](const RunReport& r) { return r.kind == "batch" && !r.status.ok(); });
  })) << Log();
  EXPECT_EQ(daemon_->Snapshot().queued, 1u);
  EXPECT_TRUE(daemon_->Snapshot().retry_at.has_value());
  fs::rename(away, repo);  // back
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/while-away.txt", 1); })) << Log();
  ASSERT_TRUE(WaitFor([&] { return daemon_->Snapshot().queued == 0; }));
  EXPECT_OK(Stop());
}

// The real InotifyWatcher behind a wrapper that, while `dropping`, throws
// away the events it reports (as the kernel does once its queue is full),
// and on `overflow` hands it the IN_Q_OVERFLOW record the kernel queues
// then: what follows (rescans of every root, a notice) is the real
// watcher's reaction. The daemon owns the wrapper; the test holds Control.
struct LossControl {
  std::atomic<bool> dropping{false};
  std::atomic<int> overflows_asked{0};
  std::mutex mu;
  std::set<std::string> dropped;   // paths of the events thrown away
  watch::Watcher* real = nullptr;  // for Wake (any thread)

  bool Dropped(const std::string& path) {
    std::lock_guard lock(mu);
    return dropped.count(path) > 0;
  }
  void Overflow() {
    ++overflows_asked;
    real->Wake();
  }
};

class LossyWatcher final : public watch::Watcher {
 public:
  LossyWatcher(std::unique_ptr<watch::InotifyWatcher> real, std::shared_ptr<LossControl> control)
      : real_(std::move(real)), control_(std::move(control)) {
    control_->real = real_.get();
  }
  Status AddRoot(const std::string& path) override { return real_->AddRoot(path); }
  Status RemoveRoot(const std::string& path) override { return real_->RemoveRoot(path); }
  Result<watch::WatchBatch> Wait(std::chrono::milliseconds timeout, std::stop_token stop) override {
    for (; overflows_done_ < control_->overflows_asked; ++overflows_done_) {
      struct inotify_event ev {};
      ev.wd = -1;
      ev.mask = IN_Q_OVERFLOW;
      uint8_t record[sizeof ev];
      std::memcpy(record, &ev, sizeof ev);
      real_->HandleRecordsForTest(record);
    }
    auto batch = real_->Wait(timeout, stop);
    if (batch.ok() && control_->dropping) {
      std::lock_guard lock(control_->mu);
      for (const watch::WatchEvent& e : batch->events) control_->dropped.insert(e.path);
      batch->events.clear();
    }
    return batch;
  }
  void Wake() override { real_->Wake(); }
  watch::WatcherStats Stats() const override { return real_->Stats(); }

 private:
  std::unique_ptr<watch::InotifyWatcher> real_;
  std::shared_ptr<LossControl> control_;
  int overflows_done_ = 0;
};

// Events lost: the daemon backs up what the rescans name, so every change
// made while events were dropped gets its version or deletion record, and
// the notice is logged once however often it happens.
TEST_F(DaemonTest, LostEventsAreFoundByTheRescanAndTheNoticeIsLoggedOnce) {
  WriteFile(docs() + "/kept.txt", "first");
  WriteFile(docs() + "/gone.txt", "to be deleted");
  auto control = std::make_shared<LossControl>();
  DaemonOptions o = Options();
  o.make_watcher = [control](watch::WatchMode,
                             watch::WatchOptions wo) -> Result<std::unique_ptr<watch::Watcher>> {
    wo.poll_file_systems_without_events = false;
    CAIRN_ASSIGN_OR_RETURN(auto real, watch::InotifyWatcher::Create(std::move(wo)));
    return std::unique_ptr<watch::Watcher>(new LossyWatcher(std::move(real), control));
  };
  Start(std::move(o));
  ASSERT_TRUE(HasVersions(docs() + "/gone.txt", 1));

  control->dropping = true;
  WriteFile(docs() + "/new.txt", "created while events were lost");
  WriteFile(docs() + "/kept.txt", "second, while events were lost");
  fs::remove(docs() + "/gone.txt");
  WriteFile(docs() + "/sub/deep.txt", "in a new folder");
  ASSERT_TRUE(WaitFor([&] {
    return control->Dropped(docs() + "/new.txt") && control->Dropped(docs() + "/kept.txt") &&
           control->Dropped(docs() + "/gone.txt") && control->Dropped(docs() + "/sub/deep.txt");
  })) << Log();
  // The daemon heard of none of them.
  EXPECT_EQ(daemon_->Snapshot().queued, 0u);
  EXPECT_TRUE(Versions(docs() + "/new.txt").empty());

  control->dropping = false;
  control->Overflow();
  ASSERT_TRUE(WaitFor([&] {
    auto kept = Versions(docs() + "/kept.txt");
    return HasVersions(docs() + "/new.txt", 1) && kept.size() == 2 && kept.back().size == 30 &&
           HasVersions(docs() + "/gone.txt", 2, /*last_deleted=*/true) &&
           HasVersions(docs() + "/sub/deep.txt", 1);
  })) << Log();
  EXPECT_EQ(LogCount("the kernel's queue of file events overflowed"), 1u) << Log();

  // Again: found again, and not said again.
  control->dropping = true;
  WriteFile(docs() + "/again.txt", "lost too");
  ASSERT_TRUE(WaitFor([&] { return control->Dropped(docs() + "/again.txt"); })) << Log();
  control->dropping = false;
  control->Overflow();
  ASSERT_TRUE(WaitFor([&] { return HasVersions(docs() + "/again.txt", 1); })) << Log();
  EXPECT_EQ(daemon_->Snapshot().watcher.overflows, 2u);
  ASSERT_OK(Stop());
  EXPECT_EQ(LogCount("the kernel's queue of file events overflowed"), 1u) << Log();
  EXPECT_EQ(Versions(docs() + "/kept.txt").size(), 2u);
  EXPECT_EQ(Versions(docs() + "/new.txt").size(), 1u);
  ExpectRunsSucceededOrWereStopped();
}

// The watch limit (the real watcher, allowed two watches): the folders
// beyond it are rescanned every rescan_interval, so what changes there is
// created, changed and deleted in the repository too, later; the notice
// says how to raise the limit.
TEST_F(DaemonTest, BeyondTheWatchLimitChangesArriveThroughTheRescans) {
  SetSettings("backup:\n  stability_seconds: 1\n  watch_mode: inotify\n");
  WriteFile(docs() + "/near/far/old.txt", "old");
  WriteFile(docs() + "/near/far/gone.txt", "to be deleted");
  WriteFile(docs() + "/near/far/deeper/x.txt", "x");
  DaemonOptions o = Options();
  // Longer than stability_seconds: a tree rescanned more often than that
  // would never be quiet (it would wait for max_delay_seconds).
  o.rescan_interval = std::chrono::seconds(2);
  o.make_watcher = [](watch::WatchMode mode, watch::WatchOptions wo) {
    wo.max_watches = 2;  // docs and docs/near
    return watch::CreateWatcher(mode, std::move(wo));
  };
  Start(std::move(o));
  const watch::WatcherStats stats = daemon_->Snapshot().watcher;
  EXPECT_EQ(stats.mechanism, "inotify");
  EXPECT_EQ(stats.watches, 2u);
  EXPECT_EQ(stats.polled_trees, 1u);  // docs/near/far
  // Logged once the loop waits for events (after the catch-up pass).
  EXPECT_TRUE(WaitFor([&] { return LogCount("fs.inotify.max_user_watches is 2") == 1; })) << Log();

  WriteFile(docs() + "/near/far/new.txt", "created beyond the limit");
  WriteFile(docs() + "/near/far/old.txt", "changed beyond the limit");
  WriteFile(docs() + "/near/far/deeper/y.txt", "deeper still");
  fs::remove(docs() + "/near/far/gone.txt");
  // A folder made where there is no room for its watch: rescanned too.
  WriteFile(docs() + "/near/made/z.txt", "in a folder made at the limit");
  ASSERT_TRUE(WaitFor([&] {
    return HasVersions(docs() + "/near/far/new.txt", 1) &&
           HasVersions(docs() + "/near/far/old.txt", 2) &&
           HasVersions(docs() + "/near/far/deeper/y.txt", 1) &&
           HasVersions(docs() + "/near/far/gone.txt", 2, /*last_deleted=*/true) &&
           HasVersions(docs() + "/near/made/z.txt", 1);
  })) << Log();
  EXPECT_EQ(Versions(docs() + "/near/far/old.txt").back().size, 24u);
  ASSERT_OK(Stop());
  EXPECT_EQ(LogCount("fs.inotify.max_user_watches is 2"), 1u) << Log();
  // A rescan every 2 s: one may still be running when Stop() cancels it.
  ExpectRunsSucceededOrWereStopped();
  // Nothing came from a full pass: only the catch-up ran as one.
  std::lock_guard lock(mu_);
  for (const RunReport& r : reports_) EXPECT_NE(r.kind, "full pass");
}

TEST_F(DaemonTest, FormatRunReportSaysWhatARunDidOrWhyItFailed) {
  RunReport r;
  r.kind = "batch";
  r.paths = 3;
  r.files = 2;
  r.bytes_read = 3 << 20;
  r.bytes_stored = 1 << 20;
  r.deleted = 1;
  r.seconds = 0.25;
  EXPECT_EQ(FormatRunReport(r),
            "batch: 3 paths, 2 files (3.0 MiB read, 1.0 MiB stored), 1 deleted, 0.25 s");
  r.skipped = 1;
  r.excluded = 4;
  EXPECT_EQ(FormatRunReport(r),
            "batch: 3 paths, 2 files (3.0 MiB read, 1.0 MiB stored), 1 deleted, 1 skipped, "
            "4 excluded, 0.25 s");
  r.status = Status::Unavailable("the repository is not reachable");
  r.retry_in = std::chrono::seconds(10);
  EXPECT_EQ(FormatRunReport(r),
            "batch failed: the repository is not reachable; 3 paths kept queued, retry in 10 s");
}

}  // namespace
}  // namespace cairn::daemon
