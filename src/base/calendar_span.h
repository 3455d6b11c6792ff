// A calendar span written like restic's --keep-within ("2h", "30d",
// "1y6m"): how far back retention's keep_within reaches.
// Thread-safety: pure functions (SubtractSpan reads the process's time zone).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time_util.h"

namespace cairn {

// A span written like restic's --keep-within: "2h", "30d", "1y6m",
// "1y2m3d4h" (y years, m months, d days, h hours; each at most once, in
// that order).
struct CalendarSpan {
  int years = 0, months = 0, days = 0, hours = 0;
  bool empty() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
};
// InvalidArgument naming the text and what is wrong ("3x": unknown unit).
Result<CalendarSpan> ParseCalendarSpan(std::string_view text);
std::string FormatCalendarSpan(const CalendarSpan& span);
// `t` minus `span` in local time (months and years by the calendar: March 31
// minus 1 month is the last day of February).
TimeNs SubtractSpan(TimeNs t, const CalendarSpan& span);

}  // namespace cairn
