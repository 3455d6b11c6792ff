// ChangeQueue: the watcher's events coalesced per path, released once a
// path has been quiet for a while: the debounce step between a Watcher and
// the backups (the daemon decides what to do with what comes out).
//
// Per path, the latest wins:
//   changed, then removed            -> removed
//   removed, then changed            -> changed (saved anew: temp + rename)
//   moved a -> b                     -> a removed, b changed (b's tree to
//                                       rescan for a folder)
//   removed folder                   -> also drops what was pending under it
//   rescan                           -> kept over a later change of the path
// A path is due when nothing happened to it for `stable_for`, or at the
// latest `max_delay` after it was first queued (a log written every second
// is still taken now and then). Due changes come out in path order, so a
// folder's removal comes before a new file inside a re-made folder.
//
// Time comes from a TimeSource, so tests drive it by hand.
// Cost: Add is O(log n) (a folder's removal adds the entries under it);
// TakeDue and NextDue are O(n).
// Thread-safety: none; one thread at a time.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "watch/watcher.h"

namespace cairn::watch {

// The one clock the queue reads. Steady: never jumps with the wall clock.
class TimeSource {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~TimeSource() = default;
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock, shared, never destroyed.
TimeSource& SteadyTimeSource();

// One path's pending change.
struct Change {
  // kChanged: back up the path (a file, or a folder's own entry).
  // kRemoved: the path is gone (with its tree, for a folder).
  // kRescan: compare the tree at `path` with what is known.
  // (Never kMoved: moves are split.)
  EventKind kind = EventKind::kChanged;
  std::string path;
  bool is_dir = false;
  TimeSource::TimePoint first_seen;
  TimeSource::TimePoint last_seen;
};

class ChangeQueue {
 public:
  // `clock` must outlive the queue. REQUIRES: max_delay >= stable_for.
  ChangeQueue(const TimeSource& clock, std::chrono::milliseconds stable_for,
              std::chrono::milliseconds max_delay);

  void Add(const WatchEvent& event);
  void Add(std::span<const WatchEvent> events);

  // Removes and returns the changes that are due now, in path order, and
  // with them those due within `gather` from now: files written together
  // whose events arrived a moment apart go into one batch, not two.
  std::vector<Change> TakeDue(std::chrono::milliseconds gather = std::chrono::milliseconds(0));
  // When the next change falls due (perhaps already); nullopt when empty.
  std::optional<TimeSource::TimePoint> NextDue() const;

  size_t size() const { return pending_.size(); }
  bool empty() const { return pending_.empty(); }

 private:
  void Put(EventKind kind, const std::string& path, bool is_dir, TimeSource::TimePoint now);
  TimeSource::TimePoint DueAt(const Change& c) const;

  const TimeSource& clock_;
  const std::chrono::milliseconds stable_for_;
  const std::chrono::milliseconds max_delay_;
  std::map<std::string, Change> pending_;
};

}  // namespace cairn::watch
