// Scheduler with a clock moved by hand: intervals and jitter, a machine that
// sleeps through several slots (one run on wake-up), a clock set back or
// forward, failures retried early, and last runs carried over a restart.
#include "daemon/scheduler.h"

#include <gtest/gtest.h>

#include <set>

namespace cairn::daemon {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr TimeNs kSec = 1000000000LL;
constexpr TimeNs kMin = 60 * kSec;
constexpr TimeNs kHour = 60 * kMin;
constexpr TimeNs kStart = 1800000000LL * kSec;  // 2027-01-15

class FakeClock final : public WallClock {
 public:
  TimeNs Now() const override { return now; }
  TimeNs now = kStart;
};

using Names = std::vector<std::string>;

TEST(Scheduler, AJobIsDueOneIntervalAfterItsLastRun) {
  FakeClock clock;
  Scheduler s(clock, 1);
  s.SetJob({"compaction", hours(6), seconds(0)}, std::nullopt);  // never run: counts as now
  EXPECT_EQ(s.Due(), Names{});
  EXPECT_EQ(s.NextDue(), kStart + 6 * kHour);
  clock.now += 6 * kHour - 1;
  EXPECT_EQ(s.Due(), Names{});
  clock.now += 1;
  EXPECT_EQ(s.Due(), Names{"compaction"});
  EXPECT_EQ(s.Due(), Names{"compaction"});  // due until it is marked
  clock.now += 3 * kMin;                    // the job took three minutes
  EXPECT_EQ(s.Ran("compaction"), clock.now);
  EXPECT_EQ(s.Due(), Names{});
  EXPECT_EQ(s.NextDue(), clock.now + 6 * kHour);  // from the run, not the slot
}

TEST(Scheduler, SleepingThroughManySlotsRunsTheJobOnceOnWakeUp) {
  FakeClock clock;
  Scheduler s(clock, 1);
  s.SetJob({"full-pass", hours(1), seconds(0)}, std::nullopt);
  s.SetJob({"cleanup", hours(24), seconds(0)}, std::nullopt);
  s.SetJob({"compaction", hours(6), seconds(0)}, std::nullopt);
  clock.now += 30 * kMin;
  EXPECT_EQ(s.Due(), Names{});
  // Suspended for three days: 72 full-pass slots, 3 cleanups, 12 compactions.
  clock.now += 72 * kHour;
  Names due = s.Due();
  EXPECT_EQ(due, (Names{"full-pass", "cleanup", "compaction"}));  // in the order added
  int runs = 0;
  while (!(due = s.Due()).empty()) {
    for (const auto& name : due) s.Ran(name);
    ++runs;
    ASSERT_LT(runs, 5) << "jobs kept coming due: one run per missed slot";
  }
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(s.NextDue(), clock.now + kHour);
  clock.now += kHour;
  EXPECT_EQ(s.Due(), Names{"full-pass"});
}

TEST(Scheduler, AClockSetBackDoesNotHoldJobsOffForTheJump) {
  FakeClock clock;
  Scheduler s(clock, 1);
  s.SetJob({"compaction", hours(6), seconds(0)}, std::nullopt);
  clock.now += 2 * kHour;
  s.Ran("compaction");
  // Set back a week: the last run now lies in the future.
  clock.now -= 7 * 24 * kHour;
  EXPECT_EQ(s.Due(), Names{});
  // It counts as "just now": due one interval later, not a week and 6 h.
  EXPECT_EQ(s.NextDue(), clock.now + 6 * kHour);
  clock.now += 6 * kHour;
  EXPECT_EQ(s.Due(), Names{"compaction"});
}

TEST(Scheduler, AClockSetForwardRunsEachJobOnce) {
  FakeClock clock;
  Scheduler s(clock, 1);
  s.SetJob({"full-pass", hours(1), seconds(0)}, std::nullopt);
  clock.now += 365 * 24 * kHour;
  EXPECT_EQ(s.Due(), Names{"full-pass"});
  s.Ran("full-pass");
  EXPECT_EQ(s.Due(), Names{});
}

TEST(Scheduler, JitterStaysWithinItsBoundAndChangesBetweenRuns) {
  FakeClock clock;
  Scheduler s(clock, 42);
  s.SetJob({"full-pass", minutes(60), minutes(6)}, std::nullopt);
  std::set<TimeNs> delays;
  for (int i = 0; i < 50; ++i) {
    const TimeNs last = clock.now;
    auto next = s.NextDue();
    ASSERT_TRUE(next.has_value());
    const TimeNs delay = *next - last;
    EXPECT_GE(delay, 60 * kMin);
    EXPECT_LE(delay, 66 * kMin);
    delays.insert(delay);
    clock.now = *next;
    EXPECT_EQ(s.Due(), Names{"full-pass"});
    s.Ran("full-pass");
  }
  EXPECT_GT(delays.size(), 40u);  // drawn afresh each time
  // Two devices seeded differently do not start together.
  FakeClock c2;
  Scheduler a(c2, 1), b(c2, 2);
  a.SetJob({"full-pass", minutes(60), minutes(6)}, std::nullopt);
  b.SetJob({"full-pass", minutes(60), minutes(6)}, std::nullopt);
  EXPECT_NE(a.NextDue(), b.NextDue());
}

TEST(Scheduler, AFailedJobIsRetriedSoonWithoutCountingAsRun) {
  FakeClock clock;
  Scheduler s(clock, 1);
  s.SetJob({"compaction", hours(6), seconds(0)}, kStart - 7 * kHour);  // overdue
  EXPECT_EQ(s.Due(), Names{"compaction"});
  s.Failed("compaction", minutes(5));
  EXPECT_EQ(s.Due(), Names{});
  EXPECT_EQ(s.NextDue(), kStart + 5 * kMin);
  auto jobs = s.Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].last_run, kStart - 7 * kHour);
  clock.now += 5 * kMin;
  EXPECT_EQ(s.Due(), Names{"compaction"});
  s.Ran("compaction");
  EXPECT_EQ(s.NextDue(), clock.now + 6 * kHour);
}

TEST(Scheduler, ARetryScheduledBeforeTheClockWentBackIsNotAWeekAway) {
  FakeClock clock;
  Scheduler s(clock, 1);
  s.SetJob({"compaction", hours(6), seconds(0)}, std::nullopt);
  s.Failed("compaction", minutes(5));
  clock.now -= 7 * 24 * kHour;
  auto next = s.NextDue();
  ASSERT_TRUE(next.has_value());
  EXPECT_LE(*next, clock.now + 6 * kHour);
}

TEST(Scheduler, LastRunsCarryOverARestartAndAReloadKeepsThem) {
  FakeClock clock;
  Scheduler s(clock, 1);
  // Persisted by the previous process: the cleanup ran 23 h ago.
  s.SetJob({"cleanup", hours(24), seconds(0)}, kStart - 23 * kHour);
  EXPECT_EQ(s.NextDue(), kStart + kHour);
  // A reload with a new interval keeps the last run.
  s.SetJob({"cleanup", hours(12), seconds(0)}, std::nullopt);
  EXPECT_EQ(s.Due(), Names{"cleanup"});
  auto jobs = s.Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].last_run, kStart - 23 * kHour);
}

}  // namespace
}  // namespace cairn::daemon
