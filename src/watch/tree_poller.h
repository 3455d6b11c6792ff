// TreePoller: finds what changed under some folders by comparing one scan
// with the previous one, for file systems that deliver no events. Used by
// PollWatcher for every root and by InotifyWatcher for the roots it polls.
//
// A scan records (type, size, mtime, ctime, inode, device) for every file,
// and (type, inode, device, mode, owner) for every folder (a folder's times
// change whenever an entry is added, which the entry's own event already
// says). A path new or different is kChanged, a path gone kRemoved (one
// event for a folder gone with its tree). Moves are not recognised: a move
// is a removal and a creation.
//
// A folder that cannot be read keeps its previous scan (its entries are not
// reported as removed: an unreachable network share is not an empty one),
// and a notice says so once per folder.
//
// Memory: about 200 bytes per path of the polled trees.
// Thread-safety: none; one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "base/status.h"
#include "watch/path_filter.h"
#include "watch/watcher.h"

namespace cairn::watch {

class TreePoller {
 public:
  // `filter` must outlive the poller.
  explicit TreePoller(const PathFilter& filter) : filter_(filter) {}

  // Takes the first scan of the folder `root` (normalised), reporting
  // nothing. NotFound when it does not exist, IOError when it is no folder.
  Status AddRoot(const std::string& root, std::stop_token stop = {});
  // Forgets `root`; false when it was no root.
  bool RemoveRoot(const std::string& root);
  bool HasRoot(const std::string& root) const { return roots_.count(root) > 0; }
  std::vector<std::string> Roots() const;

  // Scans every root again and appends what changed since the previous scan
  // to `events` (in path order per root) and problems to `notices`. When
  // `stop` is requested part way, the roots not finished keep their
  // previous scan: their changes are reported by the next one.
  void Scan(std::vector<WatchEvent>& events, std::vector<WatchNotice>& notices,
            std::stop_token stop = {});

  size_t root_count() const { return roots_.size(); }
  size_t entry_count() const;

 private:
  struct Entry {
    mode_t mode = 0;  // type and permission bits
    uid_t uid = 0;
    gid_t gid = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    uint64_t ino = 0;
    uint64_t dev = 0;

    bool is_dir() const;
    // Whether the path should be reported as changed, from `before` to this.
    bool DiffersFrom(const Entry& before) const;
  };
  using Snapshot = std::map<std::string, Entry>;

  // Scans the tree at `root` into `out`. Folders that could not be listed go
  // to `unreadable`. False when stopped.
  bool ScanTree(const std::string& root, Snapshot& out, std::vector<std::string>& unreadable,
                std::vector<WatchNotice>& notices, std::stop_token stop);
  void Tell(std::vector<WatchNotice>& notices, const std::string& path, const std::string& text);

  const PathFilter& filter_;
  std::map<std::string, Snapshot> roots_;
  std::set<std::string> told_;  // folders whose read error was said
};

}  // namespace cairn::watch
