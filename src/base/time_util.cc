#include "base/time_util.h"

#include <condition_variable>
#include <mutex>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace cairn {

TimeNs NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

bool ParseDigits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

Status BadTime(std::string_view text) {
  return Status::InvalidArgument("cannot read time '" + std::string(text) +
                                 "': use RFC 3339 (2026-11-26T10:00:00Z) or local "
                                 "YYYY-MM-DD[ HH:MM[:SS]]");
}

// Whether `secs` seconds since the epoch (plus up to a second of fraction)
// are a TimeNs: about the years 1678 to 2262. Years outside it are refused
// rather than wrapped (they are typos, or input meant to overflow).
bool FitsInNs(int64_t secs) {
  return secs > INT64_MIN / 1000000000LL + 1 && secs < INT64_MAX / 1000000000LL - 1;
}

}  // namespace

Result<TimeNs> ParseTime(std::string_view text) {
  int Y, M, D, h = 0, m = 0, s = 0;
  if (!ParseDigits(text, 0, 4, Y) || text.size() < 10 || text[4] != '-' ||
      !ParseDigits(text, 5, 2, M) || text[7] != '-' || !ParseDigits(text, 8, 2, D))
    return BadTime(text);
  if (M < 1 || M > 12 || D < 1 || D > 31) return BadTime(text);
  std::tm tm{};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  if (text.size() == 10) {  // bare local date: end of that day
    tm.tm_hour = 23;
    tm.tm_min = 59;
    tm.tm_sec = 59;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == -1) return BadTime(text);
    return static_cast<TimeNs>(t) * 1000000000LL + 999999999LL;
  }
  char sep = text[10];
  if ((sep != 'T' && sep != 't' && sep != ' ') || !ParseDigits(text, 11, 2, h) ||
      text.size() < 16 || text[13] != ':' || !ParseDigits(text, 14, 2, m))
    return BadTime(text);
  size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    if (!ParseDigits(text, pos + 1, 2, s)) return BadTime(text);
    pos += 3;
  }
  if (h > 23 || m > 59 || s > 60) return BadTime(text);
  int64_t frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return BadTime(text);
    for (; digits < 9; ++digits) frac_ns *= 10;
  }
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  if (pos == text.size()) {
    if (sep == 'T' || sep == 't') return BadTime(text);  // RFC 3339 needs an offset
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == -1 || !FitsInNs(t)) return BadTime(text);
    return static_cast<TimeNs>(t) * 1000000000LL + frac_ns;
  }
  int offset_sec = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    if (pos + 1 != text.size()) return BadTime(text);
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh, om;
    if (text.size() != pos + 6 || !ParseDigits(text, pos + 1, 2, oh) || text[pos + 3] != ':' ||
        !ParseDigits(text, pos + 4, 2, om))
      return BadTime(text);
    offset_sec = (oh * 3600 + om * 60) * (text[pos] == '+' ? 1 : -1);
  } else {
    return BadTime(text);
  }
  time_t t = timegm(&tm);
  if (!FitsInNs(static_cast<int64_t>(t) - offset_sec)) return BadTime(text);
  return (static_cast<TimeNs>(t) - offset_sec) * 1000000000LL + frac_ns;
}

std::string FormatRfc3339(TimeNs t) {
  time_t secs = static_cast<time_t>(t / 1000000000LL);
  int64_t ns = t % 1000000000LL;
  if (ns < 0) {
    ns += 1000000000LL;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (ns) {
    char frac[16];
    snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(ns));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string FormatLocal(TimeNs t) {
  time_t secs = static_cast<time_t>(t / 1000000000LL);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

bool SleepUnlessStopped(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  return !cv.wait_for(lock, stop, d, [] { return false; }) && !stop.stop_requested();
}

}  // namespace cairn
