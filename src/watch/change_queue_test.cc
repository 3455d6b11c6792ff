#include "watch/change_queue.h"

#include <gtest/gtest.h>

namespace cairn::watch {
namespace {

using std::chrono::milliseconds;

// The one legitimate stand-in: time, moved by hand.
class FakeClock final : public TimeSource {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(milliseconds d) { now_ += d; }

 private:
  TimePoint now_{};
};

WatchEvent Changed(std::string p, bool dir = false) {
  return {EventKind::kChanged, std::move(p), "", dir};
}
WatchEvent Removed(std::string p, bool dir = false) {
  return {EventKind::kRemoved, std::move(p), "", dir};
}
WatchEvent Moved(std::string from, std::string to, bool dir = false) {
  return {EventKind::kMoved, std::move(from), std::move(to), dir};
}

std::vector<std::string> Describe(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  out.reserve(changes.size());
  for (const Change& c : changes) {
    out.push_back(std::string(EventKindName(c.kind)) + " " + c.path + (c.is_dir ? "/" : ""));
  }
  return out;
}

class ChangeQueueTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  ChangeQueue queue_{clock_, milliseconds(5000), milliseconds(60000)};
};

TEST_F(ChangeQueueTest, DueOnlyAfterBeingQuiet) {
  queue_.Add(Changed("/a"));
  EXPECT_TRUE(queue_.TakeDue().empty());
  clock_.Advance(milliseconds(4000));
  queue_.Add(Changed("/a"));  // still being written: the wait starts again
  clock_.Advance(milliseconds(4000));
  EXPECT_TRUE(queue_.TakeDue().empty());
  EXPECT_EQ(queue_.NextDue(), clock_.Now() + milliseconds(1000));
  clock_.Advance(milliseconds(1000));
  EXPECT_EQ(Describe(queue_.TakeDue()), std::vector<std::string>{"changed /a"});
  EXPECT_TRUE(queue_.empty());
  EXPECT_FALSE(queue_.NextDue().has_value());
}

TEST_F(ChangeQueueTest, ChangesDueWithinTheGatherWindowGoWithTheFirst) {
  queue_.Add(Changed("/a"));
  clock_.Advance(milliseconds(30));
  queue_.Add(Changed("/b"));  // written with /a, its event a moment later
  clock_.Advance(milliseconds(500));
  queue_.Add(Changed("/c"));  // written later: not part of it
  clock_.Advance(milliseconds(4469));
  // Nothing is taken early while nothing is due.
  EXPECT_TRUE(queue_.TakeDue(milliseconds(100)).empty());
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(queue_.NextDue(), clock_.Now());
  EXPECT_EQ(Describe(queue_.TakeDue(milliseconds(100))),
            (std::vector<std::string>{"changed /a", "changed /b"}));
  EXPECT_EQ(queue_.size(), 1u);
}

TEST_F(ChangeQueueTest, NeverQuietIsTakenAtTheMaxDelay) {
  const auto start = clock_.Now();
  for (int i = 0; i < 59; ++i) {
    queue_.Add(Changed("/log"));
    clock_.Advance(milliseconds(1000));
    ASSERT_TRUE(queue_.TakeDue().empty()) << i;
  }
  queue_.Add(Changed("/log"));
  clock_.Advance(milliseconds(1000));
  std::vector<Change> due = queue_.TakeDue();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first_seen, start);
  // The next write starts a new wait.
  queue_.Add(Changed("/log"));
  EXPECT_EQ(queue_.NextDue(), clock_.Now() + milliseconds(5000));
}

TEST_F(ChangeQueueTest, LatestWinsPerPath) {
  queue_.Add(Changed("/changed-then-removed"));
  queue_.Add(Removed("/changed-then-removed"));
  queue_.Add(Removed("/removed-then-changed"));
  queue_.Add(Changed("/removed-then-changed"));
  queue_.Add(Changed("/x"));
  queue_.Add(Changed("/x"));
  EXPECT_EQ(queue_.size(), 3u);
  clock_.Advance(milliseconds(5000));
  EXPECT_EQ(Describe(queue_.TakeDue()),
            (std::vector<std::string>{"removed /changed-then-removed",
                                      "changed /removed-then-changed", "changed /x"}));
}

TEST_F(ChangeQueueTest, MovesAreARemovalAndAChange) {
  queue_.Add(Moved("/a.txt", "/b.txt"));
  queue_.Add(Moved("/dir", "/renamed", true));
  clock_.Advance(milliseconds(5000));
  EXPECT_EQ(Describe(queue_.TakeDue()),
            (std::vector<std::string>{"removed /a.txt", "changed /b.txt", "removed /dir/",
                                      "rescan /renamed/"}));
}

TEST_F(ChangeQueueTest, RemovedFolderDropsWhatWasPendingUnderIt) {
  queue_.Add(Changed("/d/a"));
  queue_.Add(Changed("/d/sub/b"));
  queue_.Add(Changed("/d-sibling"));
  queue_.Add(Removed("/d", true));
  clock_.Advance(milliseconds(5000));
  EXPECT_EQ(Describe(queue_.TakeDue()),
            (std::vector<std::string>{"removed /d/", "changed /d-sibling"}));
}

TEST_F(ChangeQueueTest, RescanCoversALaterChangeButNotARemoval) {
  queue_.Add(WatchEvent{EventKind::kRescan, "/t", "", true});
  queue_.Add(Changed("/t", true));
  queue_.Add(WatchEvent{EventKind::kRescan, "/u", "", true});
  queue_.Add(Removed("/u", true));
  clock_.Advance(milliseconds(5000));
  EXPECT_EQ(Describe(queue_.TakeDue()), (std::vector<std::string>{"rescan /t/", "removed /u/"}));
}

TEST_F(ChangeQueueTest, EachPathHasItsOwnClock) {
  queue_.Add(Changed("/early"));
  clock_.Advance(milliseconds(3000));
  queue_.Add(Changed("/late"));
  clock_.Advance(milliseconds(2000));
  EXPECT_EQ(Describe(queue_.TakeDue()), std::vector<std::string>{"changed /early"});
  EXPECT_EQ(queue_.NextDue(), clock_.Now() + milliseconds(3000));
  clock_.Advance(milliseconds(3000));
  EXPECT_EQ(Describe(queue_.TakeDue()), std::vector<std::string>{"changed /late"});
}

}  // namespace
}  // namespace cairn::watch
