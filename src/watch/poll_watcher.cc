#include "watch/poll_watcher.h"

#include <algorithm>

namespace cairn::watch {

PollWatcher::PollWatcher(WatchOptions options)
    : options_(std::move(options)),
      filter_(options_.excluded_prefixes, options_.exclude),
      poller_(filter_),
      next_scan_(Clock::now() + options_.poll_interval) {}

Status PollWatcher::AddRoot(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(std::string root, NormalizePath(path));
  if (filter_.Excluded(root, true)) {
    return Status::InvalidArgument("cannot watch " + root + ": it is excluded");
  }
  for (const std::string& r : roots_) {
    if (IsSameOrUnder(root, r)) {
      roots_.push_back(root);  // covered by `r`; remembered for RemoveRoot
      return Status::OK();
    }
  }
  CAIRN_RETURN_IF_ERROR(poller_.AddRoot(root));
  // Roots under the new one are scanned with it now.
  for (const std::string& r : roots_) {
    if (IsSameOrUnder(r, root)) poller_.RemoveRoot(r);
  }
  roots_.push_back(root);
  return Status::OK();
}

Status PollWatcher::RemoveRoot(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(std::string root, NormalizePath(path));
  auto it = std::find(roots_.begin(), roots_.end(), root);
  if (it == roots_.end()) return Status::NotFound(root + " is not watched");
  roots_.erase(it);
  if (!poller_.RemoveRoot(root)) return Status::OK();  // another root covered it
  // Roots it covered are scanned on their own again.
  for (const std::string& r : roots_) {
    if (!IsSameOrUnder(r, root)) continue;
    bool covered = false;
    for (const std::string& other : roots_) covered |= other != r && IsSameOrUnder(r, other);
    if (!covered) (void)poller_.AddRoot(r);  // gone meanwhile: nothing to watch
  }
  return Status::OK();
}

bool PollWatcher::Sleep(Clock::time_point until, std::stop_token stop) {
  MutexLock lock(mu_);
  cv_.wait_until(mu_, stop, until, [this] {
    mu_.AssertHeld();
    return woken_;
  });
  const bool woken = woken_ || stop.stop_requested();
  woken_ = false;
  return woken;
}

void PollWatcher::Wake() {
  {
    MutexLock lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

Result<WatchBatch> PollWatcher::Wait(std::chrono::milliseconds timeout, std::stop_token stop) {
  const Clock::time_point deadline = Clock::now() + timeout;
  WatchBatch batch;
  while (true) {
    if (Clock::now() >= next_scan_) {
      poller_.Scan(batch.events, batch.notices, stop);
      next_scan_ = Clock::now() + options_.poll_interval;
      if (!batch.empty()) return batch;
    }
    if (stop.stop_requested() || Clock::now() >= deadline) return batch;
    if (Sleep(std::min(deadline, next_scan_), stop)) return batch;
  }
}

WatcherStats PollWatcher::Stats() const {
  WatcherStats s;
  s.mechanism = "poll";
  s.roots = roots_.size();
  s.polled_trees = poller_.root_count();
  return s;
}

}  // namespace cairn::watch
