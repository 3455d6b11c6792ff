// Time: parsing the CLI's --at forms and formatting RFC 3339.
#pragma once

#include <chrono>
#include <stop_token>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cairn {

// Nanoseconds since the Unix epoch, UTC.
using TimeNs = int64_t;

TimeNs NowNs();

// Accepts RFC 3339 ("2026-11-26T10:00:00Z", "...+01:00", fractional seconds)
// or local time "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS"
// (a bare date means the end of that day: 23:59:59.999999999 local time, so
// "--at 2026-11-26" includes everything backed up that day).
Result<TimeNs> ParseTime(std::string_view text);

// "2026-11-26T10:00:00.123456789Z" (fraction omitted when zero) in UTC.
std::string FormatRfc3339(TimeNs t);
// "2026-11-26 11:00:00" in local time, for people.
std::string FormatLocal(TimeNs t);

// Sleeps for `d`, or until a stop is requested on `stop` (then at once).
// Returns false when it was stopped. For background loops that a caller
// joins: a plain sleep would hold the join (and the program) up to `d`.
bool SleepUnlessStopped(std::stop_token stop, std::chrono::milliseconds d);

}  // namespace cairn
