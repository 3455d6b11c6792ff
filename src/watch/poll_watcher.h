// PollWatcher: a Watcher that scans its roots every WatchOptions::
// poll_interval and reports the differences (TreePoller), for file systems
// that deliver no events (backup.watch_mode: poll). Portable: no OS
// notification interface is used.
//
// The scans run inside Wait, on the caller's thread; a stop request ends a
// scan part way (what it did not reach is reported by the next one).
// Thread-safety: as Watcher (Wake from any thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>

#include "base/mutex.h"
#include "watch/path_filter.h"
#include "watch/tree_poller.h"
#include "watch/watcher.h"

namespace cairn::watch {

class PollWatcher final : public Watcher {
 public:
  using Clock = std::chrono::steady_clock;

  explicit PollWatcher(WatchOptions options);

  // Takes the root's first scan now (AddRoot's contract: changes after it
  // returns are reported).
  Status AddRoot(const std::string& path) override;
  Status RemoveRoot(const std::string& path) override;
  // Scans when the interval since the previous scan has passed, returning
  // at once when it found something.
  Result<WatchBatch> Wait(std::chrono::milliseconds timeout, std::stop_token stop = {}) override;
  void Wake() override EXCLUDES(mu_);
  WatcherStats Stats() const override;

 private:
  // Sleeps until `until`, a Wake or a stop; true when woken or stopped.
  bool Sleep(Clock::time_point until, std::stop_token stop) EXCLUDES(mu_);

  const WatchOptions options_;
  PathFilter filter_;
  TreePoller poller_;
  Clock::time_point next_scan_;
  std::vector<std::string> roots_;  // as added: what RemoveRoot accepts

  Mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ GUARDED_BY(mu_) = false;
};

}  // namespace cairn::watch
