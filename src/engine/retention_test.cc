#include "engine/retention.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "testing/scoped_env.h"

namespace cairn::engine {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;

using ::cairn::testing::ScopedTz;

// Local wall-clock time (isdst as given: -1 lets mktime decide).
TimeNs Local(int y, int mon, int d, int h, int min = 0, int isdst = -1) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = min;
  tm.tm_isdst = isdst;
  return static_cast<TimeNs>(mktime(&tm)) * kSecond;
}

RetentionInput V(TimeNs t, std::string content) { return {t, false, std::move(content)}; }
RetentionInput Deleted(TimeNs t) { return {t, true, ""}; }

// "K" for kept, "-" for dropped, one letter per version, oldest first.
std::string Pattern(const std::vector<RetentionDecision>& d) {
  std::string out;
  for (const auto& x : d) out += x.keep ? 'K' : '-';
  return out;
}

class RetentionTest : public ::testing::Test {
 protected:
  ScopedTz utc_{"UTC0"};
  const TimeNs now_ = Local(2026, 11, 30, 12);
};

TEST_F(RetentionTest, NoPolicyKeepsEverything) {
  std::vector<RetentionInput> h = {V(now_ - 3 * kDay, "a"), V(now_ - 2 * kDay, "b"),
                                   Deleted(now_ - kDay)};
  auto d = ApplyRetention(RetentionPolicy{}, h, now_);
  EXPECT_EQ(Pattern(d), "KKK");
  EXPECT_EQ(d[0].reasons, kKeepNoRule);
}

TEST_F(RetentionTest, EightVersionsAndMaxVersionsThreeKeepTheNewestThree) {
  std::vector<RetentionInput> h;
  h.reserve(8);
  for (int i = 0; i < 8; ++i) h.push_back(V(now_ - (8 - i) * kHour, "c" + std::to_string(i)));
  RetentionPolicy p;
  p.max_versions = 3;
  auto d = ApplyRetention(p, h, now_);
  EXPECT_EQ(Pattern(d), "-----KKK");
  EXPECT_EQ(d[0].dropped, DropReason::kMaxVersions);
  EXPECT_TRUE(d[7].reasons & kKeepNewest);
}

TEST_F(RetentionTest, IdenticalConsecutiveVersionsShareOneSlot) {
  // a, b, b, b, c with keep_last 2: c and the run of b are kept; of the run,
  // its first version (when b appeared) and its last.
  std::vector<RetentionInput> h = {V(now_ - 5 * kHour, "a"), V(now_ - 4 * kHour, "b"),
                                   V(now_ - 3 * kHour, "b"), V(now_ - 2 * kHour, "b"),
                                   V(now_ - kHour, "c")};
  RetentionPolicy p;
  p.keep_last = 2;
  auto d = ApplyRetention(p, h, now_);
  EXPECT_EQ(Pattern(d), "-K-KK");
  EXPECT_EQ(d[0].dropped, DropReason::kNoRule);
  EXPECT_EQ(d[2].dropped, DropReason::kSameContent);
  EXPECT_EQ(d[1].reasons, kKeepLast);
  EXPECT_EQ(d[4].reasons, kKeepLast | kKeepNewest);
  // A version without a content key never matches.
  h[2].content = "";
  EXPECT_EQ(Pattern(ApplyRetention(p, h, now_)), "---KK");
}

TEST_F(RetentionTest, KeepDailyKeepsTheNewestOfEachOfTheNewestDays) {
  std::vector<RetentionInput> h;
  int n = 0;
  for (int day = 26; day <= 29; ++day)
    for (int hour : {9, 13, 18}) h.push_back(V(Local(2026, 11, day, hour), std::to_string(n++)));
  RetentionPolicy p;
  p.keep_daily = 3;
  auto d = ApplyRetention(p, h, now_);
  // Nov 26 is the fourth day: dropped; of 27, 28, 29 the 18:00 version.
  EXPECT_EQ(Pattern(d), "-----K--K--K");
  EXPECT_EQ(d[11].reasons, kKeepDaily | kKeepNewest);
  EXPECT_EQ(KeepReasonNames(d[11].reasons), "daily, newest");
}

TEST_F(RetentionTest, KeepWithinCountsFromNow) {
  std::vector<RetentionInput> h = {V(now_ - 50 * kHour, "a"), V(now_ - 47 * kHour, "b"),
                                   V(now_ - kHour, "c")};
  RetentionPolicy p;
  p.keep_within = {0, 0, 2, 0};
  EXPECT_EQ(Pattern(ApplyRetention(p, h, now_)), "-KK");
  p.keep_within = {0, 0, 0, 2};
  EXPECT_EQ(Pattern(ApplyRetention(p, h, now_)), "--K");
}

TEST_F(RetentionTest, RetentionDaysDropsOldVersionsButNeverTheNewest) {
  std::vector<RetentionInput> h = {V(now_ - 100 * kDay, "a"), V(now_ - 95 * kDay, "b")};
  RetentionPolicy p;
  p.retention_days = 90;
  auto d = ApplyRetention(p, h, now_);
  EXPECT_EQ(Pattern(d), "-K");
  EXPECT_EQ(d[0].dropped, DropReason::kRetentionDays);
  EXPECT_EQ(d[1].reasons, kKeepNewest);
}

TEST_F(RetentionTest, ADeletedFilesLastVersionStaysForRetentionDaysAfterTheDeletion) {
  std::vector<RetentionInput> h = {V(now_ - 200 * kDay, "a"), V(now_ - 150 * kDay, "b"),
                                   Deleted(now_ - 7 * kDay)};
  RetentionPolicy p;
  p.retention_days = 90;
  // Deleted a week ago: "I deleted it last week" works.
  auto d = ApplyRetention(p, h, now_);
  EXPECT_EQ(Pattern(d), "-KK");
  EXPECT_TRUE(d[1].reasons & kKeepDeletedGrace);
  EXPECT_TRUE(d[2].reasons & kKeepWithDeleted);
  // Deleted 100 days ago: nothing of it stays.
  h[2].time = now_ - 100 * kDay;
  EXPECT_EQ(Pattern(ApplyRetention(p, h, now_)), "---");
  // With no retention_days (keep rules only), a deleted file's last version
  // stays for ever.
  RetentionPolicy q;
  q.keep_daily = 1;
  EXPECT_EQ(Pattern(ApplyRetention(q, h, now_)), "-KK");
}

TEST_F(RetentionTest, ADeletionRecordStaysExactlyWhenTheVersionBeforeItStays) {
  // a, deleted, b (recreated), deleted, c: keep_last 2 keeps c and b; the
  // deletion after b stays (else b would seem to live on until c), the one
  // after a goes with a.
  std::vector<RetentionInput> h = {V(now_ - 5 * kHour, "a"), Deleted(now_ - 4 * kHour),
                                   V(now_ - 3 * kHour, "b"), Deleted(now_ - 2 * kHour),
                                   V(now_ - kHour, "c")};
  RetentionPolicy p;
  p.keep_last = 2;
  auto d = ApplyRetention(p, h, now_);
  EXPECT_EQ(Pattern(d), "--KKK");
  EXPECT_EQ(d[3].reasons, kKeepWithDeleted);
  EXPECT_EQ(d[1].dropped, DropReason::kNoRule);
}

TEST_F(RetentionTest, KeepRulesThenCaps) {
  std::vector<RetentionInput> h;
  for (int day = 20; day <= 29; ++day)
    h.push_back(V(Local(2026, 11, day, 10), std::to_string(day)));
  RetentionPolicy p;
  p.keep_daily = 7;
  p.max_versions = 2;
  auto d = ApplyRetention(p, h, now_);
  EXPECT_EQ(Pattern(d), "--------KK");
  EXPECT_EQ(d[2].dropped, DropReason::kNoRule);
  EXPECT_EQ(d[5].dropped, DropReason::kMaxVersions);
  // Either rule keeps a version: keep_last 1 + keep_weekly 2.
  RetentionPolicy q;
  q.keep_last = 1;
  q.keep_weekly = 2;
  // Nov 23-29 is one ISO week (W48), Nov 20-22 the week before (W47).
  EXPECT_EQ(Pattern(ApplyRetention(q, h, now_)), "--K------K");
}

TEST(RetentionCalendarTest, HoursAndDaysAreLocalAcrossTheEndOfSummerTime) {
  ScopedTz berlin("CET-1CEST,M3.5.0,M10.5.0/3");
  const TimeNs now = Local(2026, 10, 26, 12);
  // 2026-10-25 03:00 CEST becomes 02:00 CET: the local hour "02" happens
  // twice, and that day has 25 hours.
  const TimeNs first_0230 = Local(2026, 10, 25, 2, 30, 1);   // CEST
  const TimeNs second_0230 = Local(2026, 10, 25, 2, 30, 0);  // CET, an hour later
  ASSERT_EQ(second_0230 - first_0230, kHour);
  std::vector<RetentionInput> h = {V(Local(2026, 10, 25, 1, 30), "a"), V(first_0230, "b"),
                                   V(second_0230, "c"), V(Local(2026, 10, 25, 3, 30), "d")};
  RetentionPolicy p;
  p.keep_hourly = 10;
  // 02:30 CEST and 02:30 CET are one local hour: only the later is kept.
  EXPECT_EQ(Pattern(ApplyRetention(p, h, now)), "K-KK");
  // The 25-hour day is one day.
  h.push_back(V(Local(2026, 10, 25, 23, 59), "e"));
  RetentionPolicy q;
  q.keep_daily = 5;
  EXPECT_EQ(Pattern(ApplyRetention(q, h, now)), "----K");
  // keep_within 1d from Oct 25 12:00 CET reaches back to Oct 24 12:00 CEST:
  // local wall time, 25 hours; a day elsewhere is 24.
  const TimeNs noon = Local(2026, 10, 25, 12);
  EXPECT_EQ(noon - SubtractSpan(noon, {0, 0, 1, 0}), 25 * kHour);
  EXPECT_EQ(now - SubtractSpan(now, {0, 0, 1, 0}), 24 * kHour);
}

TEST(RetentionCalendarTest, WeeksAreIsoWeeksAcrossTheYearBoundary) {
  ScopedTz utc("UTC0");
  const TimeNs now = Local(2027, 1, 10, 12);
  // Dec 28 2026 (Mon) .. Jan 3 2027 (Sun) are ISO week 2026-W53; Jan 4 2027
  // starts 2027-W01.
  std::vector<RetentionInput> h = {V(Local(2026, 12, 28, 10), "a"), V(Local(2027, 1, 3, 10), "b"),
                                   V(Local(2027, 1, 4, 10), "c")};
  RetentionPolicy weekly;
  weekly.keep_weekly = 2;
  EXPECT_EQ(Pattern(ApplyRetention(weekly, h, now)), "-KK");
  RetentionPolicy yearly;
  yearly.keep_yearly = 2;
  // 2026's newest is Dec 28; 2027's is Jan 4.
  EXPECT_EQ(Pattern(ApplyRetention(yearly, h, now)), "K-K");
}

}  // namespace
}  // namespace cairn::engine
