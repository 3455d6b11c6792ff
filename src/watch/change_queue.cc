#include "watch/change_queue.h"

#include <algorithm>

#include "watch/path_filter.h"

namespace cairn::watch {

namespace {

class SteadyClockSource final : public TimeSource {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

TimeSource& SteadyTimeSource() {
  static SteadyClockSource* clock = new SteadyClockSource();
  return *clock;
}

ChangeQueue::ChangeQueue(const TimeSource& clock, std::chrono::milliseconds stable_for,
                         std::chrono::milliseconds max_delay)
    : clock_(clock), stable_for_(stable_for), max_delay_(std::max(max_delay, stable_for)) {}

void ChangeQueue::Put(EventKind kind, const std::string& path, bool is_dir,
                      TimeSource::TimePoint now) {
  if (kind == EventKind::kRemoved && is_dir) {
    // What was pending under a removed folder is gone with it.
    auto it = pending_.upper_bound(path);
    const auto end = path == "/" ? pending_.end() : pending_.lower_bound(path + "0");
    while (it != end) {
      it = IsSameOrUnder(it->first, path) ? pending_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = pending_.try_emplace(path);
  Change& c = it->second;
  if (inserted) {
    c.path = path;
    c.first_seen = now;
  } else if (kind == EventKind::kChanged && c.kind == EventKind::kRescan) {
    kind = EventKind::kRescan;  // the tree's rescan covers the change
    is_dir = true;
  }
  c.kind = kind;
  c.is_dir = is_dir;
  c.last_seen = now;
}

void ChangeQueue::Add(const WatchEvent& event) {
  const TimeSource::TimePoint now = clock_.Now();
  switch (event.kind) {
    case EventKind::kChanged:
    case EventKind::kRemoved:
      Put(event.kind, event.path, event.is_dir, now);
      break;
    case EventKind::kRescan:
      Put(EventKind::kRescan, event.path, true, now);
      break;
    case EventKind::kMoved:
      // The new place's content is new to the caller: a folder's whole tree.
      Put(EventKind::kRemoved, event.path, event.is_dir, now);
      Put(event.is_dir ? EventKind::kRescan : EventKind::kChanged, event.to, event.is_dir, now);
      break;
  }
}

void ChangeQueue::Add(std::span<const WatchEvent> events) {
  for (const WatchEvent& e : events) Add(e);
}

TimeSource::TimePoint ChangeQueue::DueAt(const Change& c) const {
  return std::min(c.last_seen + stable_for_, c.first_seen + max_delay_);
}

std::vector<Change> ChangeQueue::TakeDue(std::chrono::milliseconds gather) {
  const TimeSource::TimePoint now = clock_.Now();
  std::vector<Change> out;
  // Nothing is taken early unless something is due now.
  bool any_due = false;
  for (const auto& [path, c] : pending_) any_due |= DueAt(c) <= now;
  if (!any_due) return out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (DueAt(it->second) <= now + gather) {
      out.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<TimeSource::TimePoint> ChangeQueue::NextDue() const {
  std::optional<TimeSource::TimePoint> next;
  for (const auto& [path, c] : pending_) {
    const TimeSource::TimePoint due = DueAt(c);
    if (!next || due < *next) next = due;
  }
  return next;
}

}  // namespace cairn::watch
