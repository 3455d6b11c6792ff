#include "engine/retention.h"

#include <time.h>

#include <algorithm>
#include <cctype>

namespace cairn::engine {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDay = 86400 * kSecond;

// The local calendar period of `t` for a rule: "2026-11-30 14", ...
std::string PeriodKey(TimeNs t, KeepReason rule) {
  time_t secs = static_cast<time_t>(t / kSecond);
  if (t < 0 && t % kSecond != 0) --secs;
  std::tm tm{};
  localtime_r(&secs, &tm);
  const char* format = "%Y";
  switch (rule) {
    case kKeepHourly:
      format = "%Y-%m-%d %H";
      break;
    case kKeepDaily:
      format = "%Y-%m-%d";
      break;
    case kKeepWeekly:
      format = "%G-W%V";
      break;
    case kKeepMonthly:
      format = "%Y-%m";
      break;
    default:
      break;
  }
  char buf[32];
  strftime(buf, sizeof buf, format, &tm);
  return buf;
}

struct Run {
  size_t first = 0, last = 0;  // indexes into the history
  bool deleted = false;
  uint32_t reasons = 0;
  DropReason dropped = DropReason::kNone;
  bool kept() const { return reasons != 0; }
};

}  // namespace

std::string KeepReasonNames(uint32_t reasons) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {kKeepLast, "last"},
      {kKeepHourly, "hourly"},
      {kKeepDaily, "daily"},
      {kKeepWeekly, "weekly"},
      {kKeepMonthly, "monthly"},
      {kKeepYearly, "yearly"},
      {kKeepWithin, "within"},
      {kKeepNoRule, "under the caps"},
      {kKeepNewest, "newest"},
      {kKeepDeletedGrace, "deleted file grace"},
      {kKeepWithDeleted, "marks a deletion"}};
  std::string out;
  for (const auto& [bit, name] : kNames)
    if (reasons & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNone:
      return "";
    case DropReason::kNoRule:
      return "no keep rule keeps it";
    case DropReason::kMaxVersions:
      return "beyond max_versions_per_file";
    case DropReason::kRetentionDays:
      return "older than retention_days";
    case DropReason::kSameContent:
      return "same content as a kept version";
  }
  return "";
}

std::vector<RetentionDecision> ApplyRetention(const RetentionPolicy& policy,
                                              const std::vector<RetentionInput>& history,
                                              TimeNs now) {
  std::vector<RetentionDecision> out(history.size());
  if (history.empty() || policy.Empty()) {
    for (RetentionDecision& d : out) d.reasons = kKeepNoRule;
    return out;
  }

  // 1. Runs of consecutive versions with the same content.
  std::vector<Run> runs;
  for (size_t i = 0; i < history.size(); ++i) {
    const RetentionInput& v = history[i];
    const bool same = !runs.empty() && !v.deleted && !runs.back().deleted && !v.content.empty() &&
                      v.content == history[runs.back().last].content;
    if (same) {
      runs.back().last = i;
    } else {
      runs.push_back(Run{i, i, v.deleted});
    }
  }
  auto time_of = [&](const Run& r) { return history[r.last].time; };

  // 2. Keep rules, newest run first (deletions are not counted).
  struct Counter {
    KeepReason rule;
    uint32_t left;
    std::string last_key;
  };
  std::vector<Counter> calendar;
  for (auto [rule, n] :
       {std::pair{kKeepHourly, policy.keep_hourly}, std::pair{kKeepDaily, policy.keep_daily},
        std::pair{kKeepWeekly, policy.keep_weekly}, std::pair{kKeepMonthly, policy.keep_monthly},
        std::pair{kKeepYearly, policy.keep_yearly}})
    if (n > 0) calendar.push_back({rule, n, ""});
  uint32_t last_left = policy.keep_last;
  const std::optional<TimeNs> within =
      policy.keep_within.empty() ? std::nullopt
                                 : std::optional<TimeNs>(SubtractSpan(now, policy.keep_within));
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    Run& r = *it;
    if (r.deleted) continue;
    if (!policy.HasKeepRules()) {
      r.reasons |= kKeepNoRule;
      continue;
    }
    if (last_left > 0) {
      r.reasons |= kKeepLast;
      --last_left;
    }
    for (Counter& c : calendar) {
      if (c.left == 0) continue;
      std::string key = PeriodKey(time_of(r), c.rule);
      if (key == c.last_key) continue;
      c.last_key = std::move(key);
      r.reasons |= c.rule;
      --c.left;
    }
    if (within && time_of(r) >= *within) r.reasons |= kKeepWithin;
    if (!r.kept()) r.dropped = DropReason::kNoRule;
  }

  // 3. Caps on what the rules kept.
  uint32_t cap_left = policy.max_versions;
  const TimeNs oldest_allowed = now - int64_t{policy.retention_days} * kDay;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    Run& r = *it;
    if (r.deleted || !r.kept()) continue;
    if (policy.max_versions > 0) {
      if (cap_left == 0) {
        r.reasons = 0;
        r.dropped = DropReason::kMaxVersions;
        continue;
      }
      --cap_left;
    }
    if (policy.retention_days > 0 && time_of(r) < oldest_allowed) {
      r.reasons = 0;
      r.dropped = DropReason::kRetentionDays;
    }
  }

  // 4. Safety.
  Run& newest = runs.back();
  if (!newest.deleted) {
    newest.reasons |= kKeepNewest;
    newest.dropped = DropReason::kNone;
  } else if (runs.size() >= 2 &&
             (policy.retention_days == 0 || time_of(newest) >= oldest_allowed)) {
    Run& before = runs[runs.size() - 2];
    before.reasons |= kKeepDeletedGrace;
    before.dropped = DropReason::kNone;
  }
  // A deletion record stays exactly when what it ends stays.
  for (size_t i = 0; i < runs.size(); ++i) {
    Run& r = runs[i];
    if (!r.deleted) continue;
    if (i > 0 && runs[i - 1].kept()) {
      r.reasons =
          kKeepWithDeleted |
          (i + 1 == runs.size() && (runs[i - 1].reasons & kKeepDeletedGrace) ? kKeepDeletedGrace
                                                                             : 0u);
      r.dropped = DropReason::kNone;
    } else {
      r.reasons = 0;
      r.dropped = runs[i - (i > 0 ? 1 : 0)].dropped == DropReason::kNone
                      ? DropReason::kNoRule
                      : runs[i - (i > 0 ? 1 : 0)].dropped;
    }
  }

  // Runs to versions: a kept run keeps its oldest and newest version.
  for (const Run& r : runs) {
    for (size_t i = r.first; i <= r.last; ++i) {
      RetentionDecision& d = out[i];
      if (!r.kept()) {
        d.keep = false;
        d.dropped = r.dropped;
      } else if (i == r.first || i == r.last) {
        d.keep = true;
        d.reasons = r.reasons;
      } else {
        d.keep = false;
        d.dropped = DropReason::kSameContent;
      }
    }
  }
  return out;
}

}  // namespace cairn::engine
