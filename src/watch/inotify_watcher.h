// InotifyWatcher: the Linux Watcher, one inotify watch per folder of the
// roots (docs/design.md, "Watching", says why not fanotify).
//
// How it keeps the Watcher contract (watcher.h):
//   - New folders: a folder that appears (created, moved in) is watched at
//     once and then listed, so what was made in it before its watch existed
//     is reported too (kChanged for each entry; files written after the
//     watch may be reported twice).
//   - Renames pair IN_MOVED_FROM with IN_MOVED_TO by their cookie. A first
//     half left alone for WatchOptions::move_pair_wait was a move out (a
//     removal); a second half alone is a move in (the tree appears). Events
//     that follow an unpaired first half wait behind it, so order holds.
//   - Lost events: an IN_Q_OVERFLOW gives a kRescan of every root (after
//     the watches are brought up to date), and a notice the first time.
//   - The watch limit: the folders of a new root are counted before any
//     watch is added; when they do not fit under fs.inotify.max_user_watches
//     a notice says once how to raise it (WatchLimitAdvice), the folders
//     nearest the roots are watched first and the trees beyond the limit
//     are rescanned (kRescan) every WatchOptions::rescan_interval, and
//     watched when the limit allows (a raised sysctl is seen there).
//   - A root removed, moved away or unmounted gives kRemoved, then is looked
//     for every rescan_interval and rescanned when it is back.
//   - In the `auto` mode (poll_file_systems_without_events), a root or a
//     mounted folder on NFS, SMB/CIFS or FUSE is polled (TreePoller)
//     instead, with a notice saying why.
// Symlinks to folders are not followed below a root (the root itself may be
// one).
//
// Thread-safety: as Watcher (Wake from any thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "watch/path_filter.h"
#include "watch/tree_poller.h"
#include "watch/watcher.h"

namespace cairn::watch {

// The number to set fs.inotify.max_user_watches to when `needed` watches
// are needed: a quarter more (new folders, other programs' watches count
// against the same per-user limit), rounded up to a multiple of 65536.
uint64_t RecommendedWatchLimit(uint64_t needed);

// The notice said once when `needed` watches do not fit under `limit`:
// what happens meanwhile and the exact commands to raise it now and for
// good.
std::string WatchLimitAdvice(uint64_t needed, uint64_t limit,
                             std::chrono::milliseconds rescan_interval);

// "5 minutes", "30 seconds", "1 minute": for messages.
std::string FormatInterval(std::chrono::milliseconds d);

class InotifyWatcher final : public Watcher {
 public:
  using Clock = std::chrono::steady_clock;

  // Unavailable when the kernel refuses another inotify instance (the
  // message names fs.inotify.max_user_instances).
  static Result<std::unique_ptr<InotifyWatcher>> Create(WatchOptions options);
  ~InotifyWatcher() override;
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  Status AddRoot(const std::string& path) override;
  Status RemoveRoot(const std::string& path) override;
  Result<WatchBatch> Wait(std::chrono::milliseconds timeout, std::stop_token stop = {}) override;
  void Wake() override;
  WatcherStats Stats() const override;

  // The seam for what the kernel rarely does on demand (IN_Q_OVERFLOW,
  // IN_UNMOUNT): handles `records` (struct inotify_event records, as read()
  // returns them) as if the kernel had sent them. What they cause comes out
  // of the next Wait.
  void HandleRecordsForTest(std::span<const uint8_t> records) { HandleRecords(records); }

 private:
  // An event on its way out. A rename's first half waits here for its
  // second (awaiting_to), holding back everything behind it.
  struct Item {
    WatchEvent event;
    bool awaiting_to = false;
    bool dropped = false;        // resolved to nothing (both halves excluded)
    bool from_excluded = false;  // the first half's path is excluded
    uint32_t cookie = 0;
    Clock::time_point deadline;
  };

  InotifyWatcher(WatchOptions options, int fd, int wake_fd);

  // --- Watches ---
  // The current limit: WatchOptions::max_watches, else the sysctl (as read
  // last by RefreshLimit).
  uint64_t Limit() const;
  void RefreshLimit();
  // inotify_add_watch; -1 with errno set on failure (ENOSPC also when the
  // limit is reached without asking the kernel). Records the path.
  int AddWatch(const std::string& dir, bool follow);
  // Watches `top` and every folder under it, nearest first, listing each
  // after its watch is added. With `report`, a kChanged for every entry
  // found (the new-folder race). Folders past the limit become unwatched
  // trees. `follow_top`: `top` is a root, followed if a symlink. `seen`
  // (when given) collects the watch descriptors met.
  void WatchTree(const std::string& top, bool report, bool follow_top,
                 std::unordered_set<int>* seen = nullptr);
  // Polls the folder `dir` (a root or a mount under one) instead of
  // watching it. False when it cannot be scanned.
  bool AddPolled(const std::string& dir);
  // Folders under `top` (itself included) not yet watched, for the limit.
  uint64_t CountFolders(const std::string& top) const;
  // Drops the watches and unwatched trees at and under `path`.
  void ForgetTree(const std::string& path);
  // Renames the records of watches at and under `from` to `to`.
  void RenameTree(const std::string& from, const std::string& to);
  void MarkUnwatched(const std::string& dir, bool report);
  // Re-lists a root after events were lost: new folders get watches, moved
  // ones their new paths, vanished ones are dropped. False when the root
  // itself is gone (it was handled as such).
  bool Resync(const std::string& root);
  void RootGone(const std::string& root, const std::string& why);

  // --- Roots ---
  // True when `path` is at or under a root other than `except`.
  bool Covered(const std::string& path, const std::string& except = "") const;
  // The roots under no other root, in the order added.
  std::vector<std::string> TopRoots() const;
  // The top root holding `path` ("" when none).
  std::string RootOf(const std::string& path) const;

  // --- Events ---
  void HandleRecords(std::span<const uint8_t> records);
  void HandleRecord(int wd, uint32_t mask, uint32_t cookie, std::string_view name);
  void HandleOverflow();
  void HandleMovedTo(uint32_t cookie, const std::string& to, bool is_dir);
  // A path that appeared (created or moved in): reported, and watched with
  // its tree when a folder.
  void Appear(const std::string& path, bool is_dir);
  void Emit(WatchEvent event);
  // Resolves first halves of renames whose wait is over (all with `force`).
  void ResolveExpired(Clock::time_point now, bool force);
  void RunTimers(Clock::time_point now, std::stop_token stop);
  bool HasOutput() const;
  WatchBatch TakeOutput();
  Status ReadEvents();
  void Tell(WatchNotice::Level level, std::string text);

  const WatchOptions options_;
  const int fd_;
  const int wake_fd_;
  PathFilter filter_;
  TreePoller poller_;  // roots and mounts polled instead (auto mode)

  std::vector<std::string> roots_;  // as added: what RemoveRoot accepts
  std::unordered_map<int, std::string> wd_path_;
  std::map<std::string, int> path_wd_;
  std::set<std::string> unwatched_;      // trees left without watches (the limit)
  std::set<std::string> missing_roots_;  // top roots gone; looked for periodically
  std::set<std::string> told_;           // folders whose watch error was said
  uint64_t sysctl_limit_ = 0;

  std::deque<Item> queue_;
  std::vector<WatchNotice> notices_;
  bool limit_told_ = false;
  bool overflow_told_ = false;
  uint64_t overflows_ = 0;
  Clock::time_point next_rescan_;
  Clock::time_point next_poll_;
};

}  // namespace cairn::watch
