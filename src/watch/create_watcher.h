// The Watcher for a backup.watch_mode (watch_mode.h): the daemon's one call
// to get one.
#pragma once

#include <memory>

#include "base/status.h"
#include "watch/watch_mode.h"
#include "watch/watcher.h"

namespace cairn::watch {

// kPoll: a PollWatcher. kInotify: an InotifyWatcher for every root. kAuto:
// an InotifyWatcher that polls the roots and mounts on file systems without
// events. `options.poll_file_systems_without_events` is set from `mode`.
// Errors as InotifyWatcher::Create (no silent fall back to polling: the
// caller says why it falls back, if it does).
Result<std::unique_ptr<Watcher>> CreateWatcher(WatchMode mode, WatchOptions options);

}  // namespace cairn::watch
