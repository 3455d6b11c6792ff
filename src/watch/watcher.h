// Watcher: which paths under a set of folders ("roots") changed, so that the
// daemon backs up those paths and nothing else. The interface behind every
// mechanism: InotifyWatcher (Linux), PollWatcher (periodic scans, for file
// systems that deliver no events); FSEvents and ReadDirectoryChangesW can
// come later behind the same calls.
//
// A watcher reports paths, never content, and knows nothing of the engine.
// Its contract with the caller:
//   - At least once: an event may be repeated (a file created then written
//     gives two kChanged) and a path may be reported that did not change in
//     the end; what changed is never left unreported. Where the mechanism
//     itself lost events, a kRescan names the tree to compare with what the
//     caller knows. So: act on the current state of a reported path, never
//     on the event alone.
//   - In order: the events of one watcher come in the order things happened
//     to the paths (a removal after a creation of the same path stays after
//     it).
//   - From AddRoot's return: changes made before AddRoot returned may or may
//     not be reported. The caller adds its roots first and compares the trees
//     with what it knows afterwards (the daemon's catch-up pass), so nothing
//     falls between the two.
//   - Excluded paths (WatchOptions) are never watched, descended into or
//     reported.
//   - Notices are for people (the log, `cairn status`): each problem is said
//     once, with what to do about it.
//
// Paths are absolute, without a trailing '/', "." or ".." components, and
// passed to and from the OS as byte strings.
//
// Thread-safety: one thread calls AddRoot, RemoveRoot, Wait and Stats; any
// thread may call Wake.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn::watch {

enum class EventKind {
  // `path` was created, written, closed after writing, or its attributes
  // (mode, owner, times, extended attributes) changed. For a folder, the
  // folder's own entry only: a folder that appears (created, moved in) comes
  // with a kChanged for every entry found inside it.
  kChanged,
  // `path` is gone (deleted, or moved out of every root). For a folder
  // (is_dir), everything that was under it is gone too; no event is given
  // for each.
  kRemoved,
  // `path` was renamed to `to`, both inside the roots. For a folder, its
  // whole tree moved with it: everything under `path` is now under `to`,
  // with the same names; no event is given for each.
  kMoved,
  // Events under `path` (a folder) may have been lost, or it is a tree that
  // is not watched in real time: compare the whole tree with what you know.
  kRescan,
};

std::string_view EventKindName(EventKind kind);

struct WatchEvent {
  EventKind kind = EventKind::kChanged;
  std::string path;
  std::string to;       // kMoved: the new path; otherwise empty
  bool is_dir = false;  // the path is (or, removed, was) a folder

  friend bool operator==(const WatchEvent&, const WatchEvent&) = default;
};

// "changed /a/b", "moved /a -> /b (folder)": for messages and test output.
std::string ToString(const WatchEvent& event);

// Something a person should know: a limit reached, events lost, a root gone.
struct WatchNotice {
  enum class Level { kInfo, kWarning };
  Level level = Level::kInfo;
  std::string text;
};

// What one Wait returns: events in order, and notices.
struct WatchBatch {
  std::vector<WatchEvent> events;
  std::vector<WatchNotice> notices;

  bool empty() const { return events.empty() && notices.empty(); }
};

// For `cairn status`.
struct WatcherStats {
  std::string mechanism;  // "inotify", "poll"
  size_t roots = 0;
  size_t watches = 0;        // kernel watches held (inotify)
  uint64_t watch_limit = 0;  // the most it may hold (inotify), 0 when none
  // Trees compared by periodic scans instead of events: roots polled, and
  // (inotify) trees left unwatched at the watch limit or waiting to reappear.
  size_t polled_trees = 0;
  uint64_t overflows = 0;  // times the kernel dropped events
};

// Returns true to exclude `path` (a folder when `is_dir`): an excluded folder
// is not watched nor descended into, and no event names a path under it.
// Called on the watcher's thread; must not call back into the watcher.
using ExcludeFn = std::function<bool(std::string_view path, bool is_dir)>;

struct WatchOptions {
  // Folders never watched nor reported, nor anything under them: cairn's own
  // repository, catalog, state and log folders. Absolute; normalised here.
  std::vector<std::string> excluded_prefixes;
  // The caller's exclude rules (patterns, .cairnignore); may be empty.
  ExcludeFn exclude;
  // PollWatcher, and roots that InotifyWatcher polls: time between scans.
  std::chrono::milliseconds poll_interval{std::chrono::seconds(60)};
  // InotifyWatcher: how often a tree that could not be watched (the watch
  // limit) or a root that disappeared is rescanned (kRescan) or looked for.
  std::chrono::milliseconds rescan_interval{std::chrono::minutes(5)};
  // InotifyWatcher: the most watches to hold; 0 means the kernel's limit,
  // fs.inotify.max_user_watches, read when needed (so a raised limit is
  // used without a restart). Tests set a small number.
  uint64_t max_watches = 0;
  // InotifyWatcher: how long a rename's first half (IN_MOVED_FROM) waits for
  // its second; unpaired, it was a move out of the roots (a removal). The
  // kernel queues both halves in one rename call, so only a renaming thread
  // preempted between them makes the wait matter; events behind an unpaired
  // half wait with it, so it only delays moves out.
  std::chrono::milliseconds move_pair_wait{250};
  // InotifyWatcher: roots on file systems whose changes inotify cannot see
  // (NFS, SMB/CIFS, FUSE: see watch_mode.h) are polled instead (the `auto`
  // mode); false watches every root with inotify (the `inotify` mode).
  bool poll_file_systems_without_events = true;
};

class Watcher {
 public:
  virtual ~Watcher() = default;

  // Starts watching the folder `path` and everything under it. OK when it
  // is already covered by a root. InvalidArgument for a relative path or
  // one excluded; NotFound when it does not exist; IOError when it is not a
  // folder. Folders that cannot be watched (the watch limit) do not fail
  // the call: they are rescanned periodically and a notice says so.
  virtual Status AddRoot(const std::string& path) = 0;
  // Stops watching the root `path` (what another root covers stays
  // watched). NotFound when it is no root.
  virtual Status RemoveRoot(const std::string& path) = 0;

  // Waits until there is something to report, `timeout` passes, Wake is
  // called or a stop is requested on `stop`; returns what is there (perhaps
  // nothing). Periodic work (polls, rescans) is done inside Wait, so call it
  // regularly. An error only when the mechanism itself broke (the watcher is
  // then of no further use).
  virtual Result<WatchBatch> Wait(std::chrono::milliseconds timeout, std::stop_token stop = {}) = 0;
  // Makes the current Wait (or the next, if none is running) return at once.
  // Any thread.
  virtual void Wake() = 0;

  virtual WatcherStats Stats() const = 0;
};

}  // namespace cairn::watch
