// Retention: which versions of one file a policy keeps (`cairn forget`,
// docs/design.md "Retention"). Pure: it sees one file's history on one
// device, oldest first, and the current time; it reads no data and knows no
// repository.
//
// The rules, in the order they are applied:
//  1. Runs. Consecutive versions with the same content (same SHA-256 and
//     type; a deletion is never the same as anything) form a run; the rules
//     count runs, not versions, so a file touched a hundred times without a
//     change does not use up a hundred slots. A run is represented by its
//     newest version (its time decides the calendar period). When a run is
//     kept, its oldest version (when that content appeared: restores "as of"
//     any time in the run find it) and its newest (the latest metadata) are
//     kept; the versions between them are dropped as "same content".
//  2. Keep rules, when any is set (keep_last, keep_hourly .. keep_yearly,
//     keep_within): a run is kept when any rule keeps it. keep_last N keeps
//     the N newest runs; keep_daily N keeps the newest run of each of the N
//     newest days that have one (restic's meaning; hourly, weekly — ISO
//     weeks —, monthly and yearly alike), in local time; keep_within D keeps
//     every run whose newest version is younger than D. With no keep rule,
//     every run is kept by this step.
//  3. Caps, on top: max_versions N keeps at most the N newest of the runs
//     kept so far; retention_days D drops runs whose newest version is older
//     than D days.
//  4. Safety, over everything: the newest run of a file that exists (its
//     newest version is not a deletion) is kept; a deleted file's deletion
//     record and the run before it are kept for retention_days after the
//     deletion (forever when retention_days is 0). A deletion record is kept
//     exactly when the version before it is kept, so thinning never makes a
//     deleted file look present.
// With no keep rule and no cap, nothing is dropped.
//
// Calendar periods use local time (localtime_r, so the TZ of the process):
// across a DST change an hour may be 0 or 2 hours long, a day 23 or 25; the
// period is the local calendar's, as people read it.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/calendar_span.h"
#include "base/status.h"
#include "base/time_util.h"

namespace cairn::engine {

struct RetentionPolicy {
  uint32_t keep_last = 0;
  uint32_t keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0, keep_yearly = 0;
  CalendarSpan keep_within;
  uint32_t max_versions = 0;    // versioning.max_versions_per_file; 0 = no cap
  uint32_t retention_days = 0;  // versioning.retention_days; 0 = no cap

  bool HasKeepRules() const {
    return keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly || keep_yearly ||
           !keep_within.empty();
  }
  bool HasCaps() const { return max_versions || retention_days; }
  // Neither rules nor caps: nothing is forgotten.
  bool Empty() const { return !HasKeepRules() && !HasCaps(); }
};

// Why a version is kept (a set of bits) or dropped (one reason).
enum KeepReason : uint32_t {
  kKeepLast = 1u << 0,
  kKeepHourly = 1u << 1,
  kKeepDaily = 1u << 2,
  kKeepWeekly = 1u << 3,
  kKeepMonthly = 1u << 4,
  kKeepYearly = 1u << 5,
  kKeepWithin = 1u << 6,
  kKeepNoRule = 1u << 7,        // no keep rule is set: every run passes step 2
  kKeepNewest = 1u << 8,        // safety: the newest version of an existing file
  kKeepDeletedGrace = 1u << 9,  // safety: a deleted file, within retention_days of its deletion
  kKeepWithDeleted = 1u << 10,  // a deletion record after a kept version
};
enum class DropReason {
  kNone,
  kNoRule,         // no keep rule keeps it
  kMaxVersions,    // beyond max_versions
  kRetentionDays,  // older than retention_days
  kSameContent,    // between the oldest and newest of a kept run
};

// "last", "daily", ..., "newest", "deleted file grace", joined by ", ".
std::string KeepReasonNames(uint32_t reasons);
std::string_view DropReasonName(DropReason reason);

struct RetentionInput {
  TimeNs time = 0;       // the version's wall time (when it was backed up)
  bool deleted = false;  // a deletion record
  // Identifies the content: versions with equal non-empty keys and neither
  // deleted are "the same content". "" never equals anything.
  std::string content;
};

struct RetentionDecision {
  bool keep = true;
  uint32_t reasons = 0;  // when kept
  DropReason dropped = DropReason::kNone;
};

// One decision per version of `history` (oldest first), as of `now`.
std::vector<RetentionDecision> ApplyRetention(const RetentionPolicy& policy,
                                              const std::vector<RetentionInput>& history,
                                              TimeNs now);

}  // namespace cairn::engine
