#include "base/time_util.h"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <thread>

#include "testing/scoped_env.h"

namespace cairn {
namespace {

TEST(TimeTest, Rfc3339) {
  auto t = ParseTime("2026-11-26T10:00:00Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1795687200LL * 1000000000LL);
  auto t2 = ParseTime("2026-11-26T11:00:00+01:00");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(*t2, *t);
  auto t3 = ParseTime("2026-11-26T10:00:00.5Z");
  ASSERT_TRUE(t3.ok());
  EXPECT_EQ(*t3 - *t, 500000000LL);
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-26T10:00:00Z");
  EXPECT_EQ(FormatRfc3339(*t3), "2026-11-26T10:00:00.5Z");
}

TEST(TimeTest, LocalForms) {
  ::cairn::testing::ScopedTz utc("UTC");
  auto a = ParseTime("2026-11-26 10:00");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 1795687200LL * 1000000000LL);
  auto b = ParseTime("2026-11-26 10:00:30");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b - *a, 30LL * 1000000000LL);
  auto day = ParseTime("2026-11-26");
  ASSERT_TRUE(day.ok());
  EXPECT_GT(*day, *b);  // a bare date means the end of that day
  EXPECT_LT(*day, *a + 14LL * 3600 * 1000000000LL);
}

TEST(TimeTest, Rejects) {
  EXPECT_FALSE(ParseTime("yesterday").ok());
  EXPECT_FALSE(ParseTime("2026-13-01").ok());
  EXPECT_FALSE(ParseTime("2026-11-26T10:00:00").ok());  // RFC 3339 without offset
  EXPECT_FALSE(ParseTime("2026-11-26T10:00:00+0100").ok());
}

}  // namespace
}  // namespace cairn

namespace cairn {
namespace {

TEST(SleepUnlessStoppedTest, ReturnsAtOnceWhenStoppedAndAfterTheTimeOtherwise) {
  std::stop_source stop;
  EXPECT_TRUE(SleepUnlessStopped(stop.get_token(), std::chrono::milliseconds(1)));
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop.request_stop();
  });
  // An hour unless the stop cuts it short: the test would time out if not.
  EXPECT_FALSE(SleepUnlessStopped(stop.get_token(), std::chrono::hours(1)));
  stopper.join();
  EXPECT_FALSE(SleepUnlessStopped(stop.get_token(), std::chrono::hours(1)));
}

// Issue 15 (fuzz/regressions/key_slot, repo_config): a year the
// nanosecond clock cannot hold overflowed the multiplication (undefined
// behaviour); it is refused.
TEST(TimeTest, YearsBeyondTheNanosecondRangeAreRefused) {
  for (const char* t : {"4051-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0200-01-01T00:00:00Z",
                        "9999-12-31 10:00"}) {
    auto r = ParseTime(t);
    ASSERT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << t;
  }
  auto r = ParseTime("2262-01-01T00:00:00Z");
  ASSERT_TRUE(r.ok());
  EXPECT_GT(*r, 0);
}

}  // namespace
}  // namespace cairn
