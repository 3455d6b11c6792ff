// What the watcher tests share: collecting a watcher's output until a
// condition holds. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "watch/watcher.h"

namespace cairn::watch::testing {

// Everything a watcher said, in order.
struct Collected {
  std::vector<WatchEvent> events;
  std::vector<WatchNotice> notices;

  bool Has(EventKind kind, const std::string& path, const std::string& to = "") const {
    return std::any_of(events.begin(), events.end(), [&](const WatchEvent& e) {
      return e.kind == kind && e.path == path && (to.empty() || e.to == to);
    });
  }
  // True when any event names `path` or a path under it (either end of a
  // move).
  bool Mentions(const std::string& path) const {
    auto under = [&](const std::string& p) {
      return p == path || (p.size() > path.size() && p.compare(0, path.size(), path) == 0 &&
                           p[path.size()] == '/');
    };
    return std::any_of(events.begin(), events.end(),
                       [&](const WatchEvent& e) { return under(e.path) || under(e.to); });
  }
  bool NoticeContains(const std::string& text) const {
    return std::any_of(notices.begin(), notices.end(), [&](const WatchNotice& n) {
      return n.text.find(text) != std::string::npos;
    });
  }
  std::string Dump() const {
    std::string out;
    for (const WatchEvent& e : events) out += "  " + ToString(e) + "\n";
    for (const WatchNotice& n : notices) out += "  notice: " + n.text + "\n";
    return out;
  }
};

// Waits on `w` until `done(c)` holds or `limit` passes (generous: the
// machine may be loaded; a passing test returns as soon as it holds).
// Returns whether it held; a watcher error fails the test.
inline bool CollectUntil(Watcher& w, Collected& c,
                         const std::function<bool(const Collected&)>& done,
                         std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done(c)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    Result<WatchBatch> batch = w.Wait(std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
        std::chrono::milliseconds(500)));
    if (!batch.ok()) {
      ADD_FAILURE() << "Wait: " << batch.status().ToString();
      return false;
    }
    for (WatchEvent& e : batch->events) c.events.push_back(std::move(e));
    for (WatchNotice& n : batch->notices) c.notices.push_back(std::move(n));
  }
  return true;
}

}  // namespace cairn::watch::testing
