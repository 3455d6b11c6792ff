#include "web/jobs.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace cairn::web {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Waits until job `id` has ended; its JSON.
json WaitEnded(JobManager& m, const std::string& id) {
  for (int i = 0; i < 1000; ++i) {
    auto j = m.Get(id);
    if (j && (*j)["state"] != "running") return *j;
    std::this_thread::sleep_for(5ms);
  }
  return json();
}

TEST(JobManagerTest, AJobRunsAndEndsWithItsResult) {
  JobManager m;
  auto started =
      m.Start("backup", "back up x", "token", [](const engine::JobContext&) -> Result<json> {
        return json{{"files", 3}};
      });
  ASSERT_TRUE(started.ok());
  const std::string id = (*started)["id"];
  EXPECT_EQ((*started)["state"], "running");
  EXPECT_EQ((*started)["who"], "token");
  json done = WaitEnded(m, id);
  EXPECT_EQ(done["state"], "succeeded");
  EXPECT_EQ(done["result"]["files"], 3);
  EXPECT_TRUE(done["ended"].is_string());
  EXPECT_EQ(m.List().size(), 1u);
  EXPECT_TRUE(m.Running().empty());
}

TEST(JobManagerTest, FailuresAndCancellation) {
  JobManager m;
  auto failed = m.Start("restore", "r", "t", [](const engine::JobContext&) -> Result<json> {
    return Status::NotFound("no such version");
  });
  json f = WaitEnded(m, (*failed)["id"]);
  EXPECT_EQ(f["state"], "failed");
  EXPECT_EQ(f["error"], "no such version");
  EXPECT_EQ(f["error_code"], "not found");

  auto slow = m.Start("backup", "b", "t", [](const engine::JobContext& ctx) -> Result<json> {
    while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
    return Status::Cancelled("stopped");
  });
  const std::string id = (*slow)["id"];
  EXPECT_EQ(m.Running().size(), 1u);
  EXPECT_TRUE(m.Cancel(id));
  EXPECT_EQ(WaitEnded(m, id)["state"], "cancelled");
  EXPECT_FALSE(m.Cancel(id)) << "no longer running";
  EXPECT_FALSE(m.Cancel("j999"));
}

TEST(JobManagerTest, RefusesBeyondMaxRunning) {
  // Before the manager: its destructor joins the jobs, which read it.
  std::atomic<bool> release{false};
  JobManager::Options o;
  o.max_running = 2;
  JobManager m(o);
  auto block = [&release](const engine::JobContext&) -> Result<json> {
    while (!release) std::this_thread::sleep_for(1ms);
    return json::object();
  };
  ASSERT_TRUE(m.Start("a", "", "", block).ok());
  ASSERT_TRUE(m.Start("a", "", "", block).ok());
  auto third = m.Start("a", "", "", block);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code(), StatusCode::kUnavailable);
  release = true;
}

TEST(JobManagerTest, StreamsSeeProgressAndTheEndInOrder) {
  JobManager::Options o;
  o.progress_interval = 0ms;
  JobManager m(o);
  const uint64_t before = m.LastSeq();
  auto started = m.Start("backup", "b", "t", [](const engine::JobContext& ctx) -> Result<json> {
    engine::Progress p;
    p.operation = "backup";
    p.files_done = 1;
    ctx.events->OnProgress(p);
    ctx.events->OnIssue({engine::PathIssue::Severity::kError, "/x", "unreadable"});
    return json::object();
  });
  const std::string id = (*started)["id"];
  WaitEnded(m, id);
  std::vector<WebEvent> events = m.EventsAfter(before, 1s);
  ASSERT_GE(events.size(), 4u);  // started, progress, issue, ended
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].seq, events[i - 1].seq);
  EXPECT_EQ(events.front().data["state"], "running");
  EXPECT_EQ(events.back().data["state"], "succeeded");
  EXPECT_EQ(events.back().data["issues"][0]["path"], "/x");
  EXPECT_EQ(events.back().data["progress"]["files_done"], 1);
  // Nothing new: a stream waits, then gets nothing.
  EXPECT_TRUE(m.EventsAfter(m.LastSeq(), 20ms).empty());
}

TEST(JobManagerTest, ShutdownWakesStreamsAndStopsJobs) {
  JobManager m;
  auto started = m.Start("backup", "b", "t", [](const engine::JobContext& ctx) -> Result<json> {
    while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
    return Status::Cancelled("stopped");
  });
  std::thread stream([&m] { EXPECT_TRUE(m.EventsAfter(m.LastSeq(), 60s).empty()); });
  std::this_thread::sleep_for(20ms);
  const auto t0 = std::chrono::steady_clock::now();
  m.Shutdown();
  stream.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(WaitEnded(m, (*started)["id"])["state"], "cancelled");
  EXPECT_FALSE(m.Start("a", "", "", [](const engine::JobContext&) -> Result<json> {
                  return json::object();
                }).ok());
}

TEST(JobManagerTest, KeepsOnlyTheNewestFinishedJobs) {
  JobManager::Options o;
  o.keep_jobs = 3;
  JobManager m(o);
  std::string last;
  for (int i = 0; i < 6; ++i) {
    auto s = m.Start("a", "", "",
                     [](const engine::JobContext&) -> Result<json> { return json::object(); });
    last = (*s)["id"];
    WaitEnded(m, last);
  }
  EXPECT_LE(m.List().size(), 4u);
  EXPECT_EQ(m.List()[0]["id"], last);
  EXPECT_FALSE(m.Get("j1"));
}

}  // namespace
}  // namespace cairn::web
