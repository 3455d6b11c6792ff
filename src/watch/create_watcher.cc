#include "watch/create_watcher.h"

#include "watch/inotify_watcher.h"
#include "watch/poll_watcher.h"

namespace cairn::watch {

Result<std::unique_ptr<Watcher>> CreateWatcher(WatchMode mode, WatchOptions options) {
  if (mode == WatchMode::kPoll)
    return std::unique_ptr<Watcher>(new PollWatcher(std::move(options)));
  options.poll_file_systems_without_events = mode == WatchMode::kAuto;
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<InotifyWatcher> w,
                         InotifyWatcher::Create(std::move(options)));
  return std::unique_ptr<Watcher>(std::move(w));
}

}  // namespace cairn::watch
