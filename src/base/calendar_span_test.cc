#include "base/calendar_span.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdlib>
#include <string>

#include "testing/scoped_env.h"

namespace cairn {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

using ::cairn::testing::ScopedTz;

TimeNs Local(int y, int mon, int d, int h) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_isdst = -1;
  return static_cast<TimeNs>(mktime(&tm)) * kSecond;
}

TEST(CalendarSpanTest, ParsesResticStyleSpansAndNamesWhatIsWrong) {
  auto s = ParseCalendarSpan("1y6m");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->years, 1);
  EXPECT_EQ(s->months, 6);
  EXPECT_EQ(FormatCalendarSpan(*s), "1y6m");
  ASSERT_TRUE(ParseCalendarSpan("30d").ok());
  EXPECT_EQ(ParseCalendarSpan("1y2m3d4h")->hours, 4);
  for (const char* bad : {"", "3x", "d", "6m1y", "1d1d", "12", "-1d", "99999999d"}) {
    auto r = ParseCalendarSpan(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find(std::string("'") + bad + "'"), std::string::npos)
          << r.error().message();
    }
  }
  EXPECT_NE(ParseCalendarSpan("3x").error().message().find("unknown unit 'x'"), std::string::npos);
}

TEST(CalendarSpanTest, MonthsAreCalendarMonths) {
  ScopedTz utc("UTC0");
  // March 31 minus a month is the last day of February.
  EXPECT_EQ(SubtractSpan(Local(2027, 3, 31, 12), {0, 1, 0, 0}), Local(2027, 2, 28, 12));
  EXPECT_EQ(SubtractSpan(Local(2028, 3, 31, 12), {0, 1, 0, 0}), Local(2028, 2, 29, 12));
  EXPECT_EQ(SubtractSpan(Local(2027, 1, 15, 12), {1, 2, 0, 0}), Local(2025, 11, 15, 12));
  EXPECT_EQ(SubtractSpan(Local(2027, 1, 15, 12), {0, 0, 0, 36}), Local(2027, 1, 14, 0));
}

}  // namespace
}  // namespace cairn
