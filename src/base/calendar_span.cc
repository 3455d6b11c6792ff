#include "base/calendar_span.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace cairn {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

int DaysInMonth(int year, int month0) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int y = year + 1900;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return month0 == 1 && leap ? 29 : kDays[month0];
}

}  // namespace

Result<CalendarSpan> ParseCalendarSpan(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad duration '" + std::string(text) + "': " + why +
                                   " (write a number and a unit: y years, m months, d days, "
                                   "h hours, e.g. 2h, 30d or 1y6m)");
  };
  if (text.empty()) return bad("empty");
  CalendarSpan span;
  const std::string order = "ymdh";
  size_t next_unit = 0, i = 0;
  while (i < text.size()) {
    const size_t start = i;
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000) return bad("number too large");
      ++i;
    }
    if (i == start) return bad("a number must come first");
    if (i == text.size()) return bad("the unit is missing after " + std::to_string(n));
    const size_t unit = order.find(text[i]);
    if (unit == std::string::npos) return bad(std::string("unknown unit '") + text[i] + "'");
    if (unit < next_unit) return bad("units must come in the order y, m, d, h, each once");
    next_unit = unit + 1;
    int* field[] = {&span.years, &span.months, &span.days, &span.hours};
    *field[unit] = static_cast<int>(n);
    ++i;
  }
  return span;
}

std::string FormatCalendarSpan(const CalendarSpan& s) {
  std::string out;
  if (s.years) out += std::to_string(s.years) + "y";
  if (s.months) out += std::to_string(s.months) + "m";
  if (s.days) out += std::to_string(s.days) + "d";
  if (s.hours) out += std::to_string(s.hours) + "h";
  return out.empty() ? "0h" : out;
}

TimeNs SubtractSpan(TimeNs t, const CalendarSpan& span) {
  time_t secs = static_cast<time_t>(t / kSecond);
  const int64_t frac = t - static_cast<int64_t>(secs) * kSecond;
  std::tm tm{};
  localtime_r(&secs, &tm);
  if (span.years || span.months || span.days) {
    int month = tm.tm_mon - span.months;
    int year = tm.tm_year - span.years + (month < 0 ? (month - 11) / 12 : month / 12);
    month = ((month % 12) + 12) % 12;
    tm.tm_year = year;
    tm.tm_mon = month;
    tm.tm_mday = std::min(tm.tm_mday, DaysInMonth(year, month)) - span.days;
    tm.tm_isdst = -1;  // the local offset of the resulting date
    secs = mktime(&tm);
  }
  return static_cast<TimeNs>(secs) * kSecond + frac - int64_t{span.hours} * 3600 * kSecond;
}

}  // namespace cairn
