// PersistentQueue on a real SQLite file: the per-path rules (those of
// watch::ChangeQueue), removal by sequence, job times, survival across a
// reopen and a process killed with SIGKILL right after a write.
#include "daemon/queue.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <map>

#include "testing/assert_ok.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

using watch::EventKind;
using watch::WatchEvent;

WatchEvent Changed(const std::string& p, bool dir = false) {
  return {EventKind::kChanged, p, "", dir};
}
WatchEvent Removed(const std::string& p, bool dir = false) {
  return {EventKind::kRemoved, p, "", dir};
}
WatchEvent Moved(const std::string& from, const std::string& to, bool dir = false) {
  return {EventKind::kMoved, from, to, dir};
}
WatchEvent Rescan(const std::string& p) { return {EventKind::kRescan, p, "", true}; }

// path -> kind name, for compact expectations.
std::map<std::string, std::string> Kinds(PersistentQueue& q) {
  auto all = q.All();
  EXPECT_OK(all);
  std::map<std::string, std::string> out;
  if (!all.ok()) return out;
  for (const auto& e : *all) out[e.path] = std::string(watch::EventKindName(e.kind));
  return out;
}

class QueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<PersistentQueue> Open() {
    auto q = PersistentQueue::Open(dir_.Sub("q.db"));
    EXPECT_OK(q);
    return q.ok() ? std::move(*q) : nullptr;
  }
  testing::TempDir dir_;
};

TEST_F(QueueTest, TheLatestEventWinsPerPath) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  std::vector<WatchEvent> ev = {Changed("/d/a"),
                                Removed("/d/a"),  // removed
                                Removed("/d/b"),
                                Changed("/d/b"),  // saved anew
                                Rescan("/d/t"),
                                Changed("/d/t"),               // the rescan covers it
                                Moved("/d/m", "/d/n"),         // old gone, new changed
                                Moved("/d/f", "/d/g", true)};  // a folder: rescan
  ASSERT_OK(q->Record(ev, 100));
  EXPECT_EQ(Kinds(*q), (std::map<std::string, std::string>{{"/d/a", "removed"},
                                                           {"/d/b", "changed"},
                                                           {"/d/f", "removed"},
                                                           {"/d/g", "rescan"},
                                                           {"/d/m", "removed"},
                                                           {"/d/n", "changed"},
                                                           {"/d/t", "rescan"}}));
  auto all = q->All();
  ASSERT_OK(all);
  for (const auto& e : *all) {
    EXPECT_EQ(e.first_seen, 100);
    if (e.path == "/d/g" || e.path == "/d/t") {
      EXPECT_TRUE(e.is_dir) << e.path;
    }
  }
}

TEST_F(QueueTest, AFoldersRemovalDropsWhatWasPendingUnderIt) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_OK(q->Record(std::vector<WatchEvent>{Changed("/d/x/1"), Changed("/d/x/y/2"),
                                              Changed("/d/x0"), Changed("/d/x.txt")},
                      1));
  ASSERT_OK(q->Record(std::vector<WatchEvent>{Removed("/d/x", true)}, 2));
  // Siblings whose names merely start the same stay.
  EXPECT_EQ(Kinds(*q), (std::map<std::string, std::string>{
                           {"/d/x", "removed"}, {"/d/x.txt", "changed"}, {"/d/x0", "changed"}}));
}

TEST_F(QueueTest, FirstSeenStaysLastSeenMoves) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_OK(q->Record(std::vector<WatchEvent>{Changed("/a")}, 10));
  ASSERT_OK(q->Record(std::vector<WatchEvent>{Changed("/a")}, 20));
  auto all = q->All();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].first_seen, 10);
  EXPECT_EQ((*all)[0].last_seen, 20);
}

TEST_F(QueueTest, RemoveKeepsWhatWasWrittenAgainAfterTheBatchTookIt) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_OK(q->Record(std::vector<WatchEvent>{Changed("/a"), Changed("/b"), Changed("/c")}, 1));
  const int64_t taken = q->last_seq();
  ASSERT_OK(q->Record(std::vector<WatchEvent>{Changed("/b")}, 2));  // changed again meanwhile
  std::vector<std::string> batch = {"/a", "/b"};
  ASSERT_OK(q->Remove(batch, taken));
  EXPECT_EQ(Kinds(*q), (std::map<std::string, std::string>{{"/b", "changed"}, {"/c", "changed"}}));
  ASSERT_OK(q->RemoveThrough(taken));
  EXPECT_EQ(Kinds(*q), (std::map<std::string, std::string>{{"/b", "changed"}}));
  auto n = q->Size();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1u);
}

TEST_F(QueueTest, NamesThatAreNotUtf8AndJobTimesSurviveAReopen) {
  const std::string odd = std::string("/d/caf\xe9\x01", 7);
  {
    auto q = Open();
    ASSERT_NE(q, nullptr);
    ASSERT_OK(q->Record(std::vector<WatchEvent>{Changed(odd)}, 5));
    ASSERT_OK(q->SetJobLastRun("compaction", 1234));
    ASSERT_OK(q->SetJobLastRun("compaction", 5678));
  }
  auto q = Open();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(Kinds(*q), (std::map<std::string, std::string>{{odd, "changed"}}));
  EXPECT_GT(q->last_seq(), 0);  // sequence numbers go on from where they were
  auto t = q->JobLastRun("compaction");
  ASSERT_OK(t);
  EXPECT_EQ(*t, std::optional<TimeNs>(5678));
  auto none = q->JobLastRun("cleanup");
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(QueueTest, AWriteSurvivesTheProcessBeingKilled) {
  // A child records and is killed with SIGKILL at once: no close, no
  // checkpoint of the WAL.
  const std::string path = dir_.Sub("q.db");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto q = PersistentQueue::Open(path);
    if (!q.ok()) _exit(2);
    if (!(*q)->Record(std::vector<WatchEvent>{Changed("/kept/after/kill")}, 1).ok()) _exit(3);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(ready[0]);
  close(ready[1]);
  auto q = Open();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(Kinds(*q), (std::map<std::string, std::string>{{"/kept/after/kill", "changed"}}));
}

TEST_F(QueueTest, AFileThatIsNotAQueueIsCorruption) {
  {
    std::ofstream f(dir_.Sub("q.db"));
    f << "this is not a database, not even close; just text long enough to be read as a header";
  }
  auto q = PersistentQueue::Open(dir_.Sub("q.db"));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().code(), StatusCode::kCorruption) << q.error().ToString();
}

}  // namespace
}  // namespace cairn::daemon
