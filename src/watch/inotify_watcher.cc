#include "watch/inotify_watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

#include "base/errno_status.h"
#include "watch/watch_mode.h"

namespace cairn::watch {

namespace {

// What every folder's watch asks for. IN_EXCL_UNLINK: no events for a file
// already unlinked but still open. IN_ONLYDIR: a folder replaced by a file
// between listing and watching is not watched as one.
constexpr uint32_t kWatchMask = IN_CREATE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE |
                                IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_EXCL_UNLINK | IN_ONLYDIR;

constexpr const char* kMaxUserWatches = "/proc/sys/fs/inotify/max_user_watches";
constexpr const char* kMaxQueuedEvents = "/proc/sys/fs/inotify/max_queued_events";
constexpr const char* kMaxUserInstances = "/proc/sys/fs/inotify/max_user_instances";

std::optional<uint64_t> ReadProcNumber(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return std::nullopt;
  unsigned long long v = 0;
  const bool ok = std::fscanf(f, "%llu", &v) == 1;
  std::fclose(f);
  if (!ok) return std::nullopt;
  return static_cast<uint64_t>(v);
}

// The keys of `m` (a std::map or std::set of paths) at or under `prefix`.
// Children of "/a/b" do not follow it directly ("/a/b-c" sorts between
// "/a/b" and "/a/b/c") but all sort before "/a/b0" ('0' follows '/').
template <typename Sorted>
std::vector<std::string> KeysUnder(const Sorted& m, const std::string& prefix) {
  std::vector<std::string> out;
  auto begin = m.lower_bound(prefix);
  auto end = prefix == "/" ? m.end() : m.lower_bound(prefix + "0");
  for (auto it = begin; it != end; ++it) {
    const std::string& key = [&]() -> const std::string& {
      if constexpr (std::is_same_v<typename Sorted::key_type, typename Sorted::value_type>) {
        return *it;
      } else {
        return it->first;
      }
    }();
    if (IsSameOrUnder(key, prefix)) out.push_back(key);
  }
  return out;
}

WatchEvent Changed(std::string path, bool is_dir) {
  return {EventKind::kChanged, std::move(path), "", is_dir};
}
WatchEvent Removed(std::string path, bool is_dir) {
  return {EventKind::kRemoved, std::move(path), "", is_dir};
}
WatchEvent Rescan(std::string path) { return {EventKind::kRescan, std::move(path), "", true}; }

}  // namespace

uint64_t RecommendedWatchLimit(uint64_t needed) {
  constexpr uint64_t kStep = 65536;
  const uint64_t with_room = needed + needed / 4;
  return std::max<uint64_t>(kStep, (with_room + kStep - 1) / kStep * kStep);
}

std::string FormatInterval(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  auto unit = [](int64_t n, const char* one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
  };
  if (ms >= 60'000 && ms % 60'000 == 0) return unit(ms / 60'000, "minute");
  if (ms >= 1000 && ms % 1000 == 0) return unit(ms / 1000, "second");
  return std::to_string(ms) + " ms";
}

std::string WatchLimitAdvice(uint64_t needed, uint64_t limit,
                             std::chrono::milliseconds rescan_interval) {
  const std::string rec = std::to_string(RecommendedWatchLimit(needed));
  const std::string every = FormatInterval(rescan_interval);
  return "cairn needs " + std::to_string(needed) +
         " inotify watches (one per folder) but fs.inotify.max_user_watches is " +
         std::to_string(limit) + ": the folders beyond the limit are rescanned every " + every +
         " instead of watched, so their changes are found later, never lost. To watch every "
         "folder, run `sudo sysctl fs.inotify.max_user_watches=" +
         rec + "`, and to keep it after a reboot `echo fs.inotify.max_user_watches=" + rec +
         " | sudo tee /etc/sysctl.d/90-cairn-inotify.conf` (other programs' watches count "
         "against the same limit; a watch takes about 1 KiB of kernel memory). cairn sees the "
         "new limit within " +
         every + ", without a restart.";
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<InotifyWatcher>> InotifyWatcher::Create(WatchOptions options) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == EMFILE) {
      const uint64_t n = ReadProcNumber(kMaxUserInstances).value_or(128);
      const std::string rec = std::to_string(std::max<uint64_t>(2 * n, 256));
      return Status::Unavailable(
          "cannot watch files: this user has used up its inotify instances "
          "(fs.inotify.max_user_instances is " +
          std::to_string(n) + "); run `sudo sysctl fs.inotify.max_user_instances=" + rec +
          "` (and put fs.inotify.max_user_instances=" + rec +
          " in /etc/sysctl.d/90-cairn-inotify.conf to keep it), or set backup.watch_mode: poll");
    }
    return ErrnoStatus(err, "start watching files with", "inotify");
  }
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "create", "an eventfd");
  }
  return std::unique_ptr<InotifyWatcher>(new InotifyWatcher(std::move(options), fd, wake_fd));
}

InotifyWatcher::InotifyWatcher(WatchOptions options, int fd, int wake_fd)
    : options_(std::move(options)),
      fd_(fd),
      wake_fd_(wake_fd),
      filter_(options_.excluded_prefixes, options_.exclude),
      poller_(filter_) {
  RefreshLimit();
}

InotifyWatcher::~InotifyWatcher() {
  ::close(fd_);  // drops every watch
  ::close(wake_fd_);
}

void InotifyWatcher::Tell(WatchNotice::Level level, std::string text) {
  notices_.push_back({level, std::move(text)});
}

void InotifyWatcher::Emit(WatchEvent event) {
  Item item;
  item.event = std::move(event);
  queue_.push_back(std::move(item));
}

// --- Roots -----------------------------------------------------------------

bool InotifyWatcher::Covered(const std::string& path, const std::string& except) const {
  for (const std::string& r : roots_) {
    if (r != except && IsSameOrUnder(path, r)) return true;
  }
  return false;
}

std::vector<std::string> InotifyWatcher::TopRoots() const {
  std::vector<std::string> out;
  for (const std::string& r : roots_) {
    if (!Covered(r, r)) out.push_back(r);
  }
  return out;
}

std::string InotifyWatcher::RootOf(const std::string& path) const {
  for (const std::string& r : TopRoots()) {
    if (IsSameOrUnder(path, r)) return r;
  }
  return "";
}

Status InotifyWatcher::AddRoot(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(std::string root, NormalizePath(path));
  if (filter_.Excluded(root, true)) {
    return Status::InvalidArgument("cannot watch " + root + ": it is excluded");
  }
  if (std::find(roots_.begin(), roots_.end(), root) != roots_.end()) return Status::OK();
  if (Covered(root)) {
    roots_.push_back(root);  // watched already; remembered for RemoveRoot
    return Status::OK();
  }
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return ErrnoStatus(errno, "watch", root);
  if (!S_ISDIR(st.st_mode)) return Status::IOError("cannot watch " + root + ": not a folder");

  if (options_.poll_file_systems_without_events) {
    CAIRN_ASSIGN_OR_RETURN(ModeChoice choice, ChooseWatchMode(WatchMode::kAuto, root));
    if (choice.mode == WatchMode::kPoll) {
      if (!AddPolled(root)) return Status::IOError("cannot scan " + root);
      roots_.push_back(root);
      return Status::OK();
    }
  }
  // Count first: a user cannot guess how many folders a tree holds, and the
  // advice must name a number that is enough.
  RefreshLimit();
  const uint64_t needed = wd_path_.size() + CountFolders(root);
  if (needed > Limit() && !limit_told_) {
    limit_told_ = true;
    Tell(WatchNotice::Level::kWarning, WatchLimitAdvice(needed, Limit(), options_.rescan_interval));
  }
  roots_.push_back(root);
  WatchTree(root, /*report=*/false, /*follow_top=*/true);
  return Status::OK();
}

Status InotifyWatcher::RemoveRoot(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(std::string root, NormalizePath(path));
  auto it = std::find(roots_.begin(), roots_.end(), root);
  if (it == roots_.end()) return Status::NotFound(root + " is not watched");
  roots_.erase(it);
  if (Covered(root)) return Status::OK();  // another root still covers it
  // Drop what no remaining root covers (roots under this one keep theirs).
  for (const std::string& p : KeysUnder(path_wd_, root)) {
    if (Covered(p)) continue;
    const int wd = path_wd_[p];
    ::inotify_rm_watch(fd_, wd);
    wd_path_.erase(wd);
    path_wd_.erase(p);
  }
  for (const std::string& p : KeysUnder(unwatched_, root)) {
    if (!Covered(p)) unwatched_.erase(p);
  }
  missing_roots_.erase(root);
  for (const std::string& p : poller_.Roots()) {
    if (IsSameOrUnder(p, root) && !Covered(p)) poller_.RemoveRoot(p);
  }
  return Status::OK();
}

// --- Watches ---------------------------------------------------------------

uint64_t InotifyWatcher::Limit() const {
  return options_.max_watches != 0 ? options_.max_watches : sysctl_limit_;
}

void InotifyWatcher::RefreshLimit() {
  // Unreadable: no limit of our own; the kernel's ENOSPC still stops us.
  sysctl_limit_ = ReadProcNumber(kMaxUserWatches).value_or(std::numeric_limits<uint64_t>::max());
}

int InotifyWatcher::AddWatch(const std::string& dir, bool follow) {
  if (wd_path_.size() >= Limit() && path_wd_.find(dir) == path_wd_.end()) {
    errno = ENOSPC;
    return -1;
  }
  const int wd = ::inotify_add_watch(fd_, dir.c_str(), kWatchMask | (follow ? 0 : IN_DONT_FOLLOW));
  if (wd < 0) return -1;
  auto [it, inserted] = wd_path_.try_emplace(wd, dir);
  if (!inserted && it->second != dir) {
    // The same folder under a new name (renamed while events were lost).
    auto old = path_wd_.find(it->second);
    if (old != path_wd_.end() && old->second == wd) path_wd_.erase(old);
    it->second = dir;
  }
  path_wd_[dir] = wd;
  return wd;
}

bool InotifyWatcher::AddPolled(const std::string& dir) {
  if (poller_.HasRoot(dir)) return true;
  if (poller_.root_count() == 0) next_poll_ = Clock::now() + options_.poll_interval;
  if (!poller_.AddRoot(dir).ok()) return false;
  Result<ModeChoice> choice = ChooseWatchMode(WatchMode::kAuto, dir);
  Tell(WatchNotice::Level::kInfo, (choice.ok() ? choice->reason : dir + " is polled") + " (every " +
                                      FormatInterval(options_.poll_interval) + ")");
  return true;
}

void InotifyWatcher::MarkUnwatched(const std::string& dir, bool report) {
  if (unwatched_.empty() && missing_roots_.empty()) {
    next_rescan_ = Clock::now() + options_.rescan_interval;
  }
  unwatched_.insert(dir);
  if (report) Emit(Rescan(dir));
  if (!limit_told_) {
    limit_told_ = true;
    uint64_t needed = wd_path_.size();
    for (const std::string& t : unwatched_) needed += CountFolders(t);
    Tell(WatchNotice::Level::kWarning, WatchLimitAdvice(needed, Limit(), options_.rescan_interval));
  }
}

void InotifyWatcher::WatchTree(const std::string& top, bool report, bool follow_top,
                               std::unordered_set<int>* seen) {
  std::unordered_set<int> visited;  // a folder reached twice (bind mounts) is listed once
  std::deque<std::string> dirs{top};
  while (!dirs.empty()) {
    const std::string dir = std::move(dirs.front());
    dirs.pop_front();
    const bool follow = follow_top && dir == top;
    const int wd = AddWatch(dir, follow);
    if (wd < 0) {
      const int err = errno;
      if (err == ENOSPC) {
        MarkUnwatched(dir, report);
      } else if (err != ENOENT && err != ENOTDIR && err != ELOOP && told_.insert(dir).second) {
        // Gone, a file or a symlink now: its parent's events say so.
        Tell(WatchNotice::Level::kWarning, ErrnoStatus(err, "watch", dir).message() +
                                               "; changes in it are found only by full passes");
      }
      continue;
    }
    if (seen) seen->insert(wd);
    if (!visited.insert(wd).second) continue;

    // Listed after its watch exists: whatever appears from now on is an
    // event, whatever was there before is in the listing.
    const int dfd =
        ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    DIR* d = dfd >= 0 ? ::fdopendir(dfd) : nullptr;
    if (d == nullptr) {
      const int err = errno;
      if (dfd >= 0) ::close(dfd);
      if (err != ENOENT && err != ENOTDIR && err != ELOOP && told_.insert(dir).second) {
        Tell(WatchNotice::Level::kWarning, ErrnoStatus(err, "read the folder", dir).message());
      }
      continue;
    }
    struct stat dir_st {};
    ::fstat(dfd, &dir_st);
    while (struct dirent* de = ::readdir(d)) {
      const std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      bool is_dir = de->d_type == DT_DIR;
      if (de->d_type == DT_UNKNOWN || is_dir) {
        if (::fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
        is_dir = S_ISDIR(st.st_mode);
      }
      std::string path = JoinPath(dir, name);
      if (filter_.Excluded(path, is_dir)) continue;
      if (report) Emit(Changed(path, is_dir));
      if (!is_dir) continue;
      if (st.st_dev != dir_st.st_dev && options_.poll_file_systems_without_events) {
        // A mount point: its file system may need polling.
        struct statfs sf;
        if (::statfs(path.c_str(), &sf) == 0 &&
            FileSystemNeedsPolling(static_cast<uint32_t>(sf.f_type))) {
          if (AddPolled(path) && report) Emit(Rescan(path));
          continue;
        }
      }
      dirs.push_back(std::move(path));
    }
    ::closedir(d);
  }
}

uint64_t InotifyWatcher::CountFolders(const std::string& top) const {
  uint64_t n = 0;
  std::vector<std::string> stack{top};
  bool first = true;
  while (!stack.empty()) {
    const std::string dir = std::move(stack.back());
    stack.pop_back();
    if (!path_wd_.count(dir)) ++n;
    const int dfd =
        ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (first ? 0 : O_NOFOLLOW));
    first = false;
    DIR* d = dfd >= 0 ? ::fdopendir(dfd) : nullptr;
    if (d == nullptr) {
      if (dfd >= 0) ::close(dfd);
      continue;
    }
    while (struct dirent* de = ::readdir(d)) {
      const std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = de->d_type == DT_DIR;
      if (de->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      if (!is_dir) continue;
      std::string path = JoinPath(dir, name);
      if (!filter_.Excluded(path, true)) stack.push_back(std::move(path));
    }
    ::closedir(d);
  }
  return n;
}

void InotifyWatcher::ForgetTree(const std::string& path) {
  for (const std::string& p : KeysUnder(path_wd_, path)) {
    const int wd = path_wd_[p];
    ::inotify_rm_watch(fd_, wd);  // EINVAL when the kernel dropped it already
    wd_path_.erase(wd);
    path_wd_.erase(p);
  }
  for (const std::string& p : KeysUnder(unwatched_, path)) unwatched_.erase(p);
  for (const std::string& p : poller_.Roots()) {
    if (IsSameOrUnder(p, path) && std::find(roots_.begin(), roots_.end(), p) == roots_.end()) {
      poller_.RemoveRoot(p);
    }
  }
}

void InotifyWatcher::RenameTree(const std::string& from, const std::string& to) {
  auto moved = [&](const std::string& p) { return to + p.substr(from.size()); };
  for (const std::string& p : KeysUnder(path_wd_, from)) {
    const int wd = path_wd_[p];
    path_wd_.erase(p);
    const std::string np = moved(p);
    path_wd_[np] = wd;
    wd_path_[wd] = np;
  }
  for (const std::string& p : KeysUnder(unwatched_, from)) {
    unwatched_.erase(p);
    unwatched_.insert(moved(p));
  }
}

bool InotifyWatcher::Resync(const std::string& root) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    RootGone(root, "is gone");
    return false;
  }
  std::unordered_set<int> seen;
  WatchTree(root, /*report=*/false, /*follow_top=*/true, &seen);
  // Watches of folders no longer there (their IN_IGNORED may have been lost).
  std::vector<int> stale;
  for (const auto& [wd, p] : wd_path_) {
    if (IsSameOrUnder(p, root) && !seen.count(wd)) stale.push_back(wd);
  }
  for (int wd : stale) {
    ::inotify_rm_watch(fd_, wd);
    auto p = path_wd_.find(wd_path_[wd]);
    if (p != path_wd_.end() && p->second == wd) path_wd_.erase(p);
    wd_path_.erase(wd);
  }
  return true;
}

void InotifyWatcher::RootGone(const std::string& root, const std::string& why) {
  ForgetTree(root);
  Emit(Removed(root, true));
  if (unwatched_.empty() && missing_roots_.empty()) {
    next_rescan_ = Clock::now() + options_.rescan_interval;
  }
  missing_roots_.insert(root);
  Tell(WatchNotice::Level::kWarning,
       "the watched folder " + root + " " + why + ": it is looked for every " +
           FormatInterval(options_.rescan_interval) + " and watched again when it is back");
}

// --- Events ----------------------------------------------------------------

void InotifyWatcher::HandleRecords(std::span<const uint8_t> records) {
  size_t off = 0;
  while (off + sizeof(struct inotify_event) <= records.size()) {
    struct inotify_event ev;
    std::memcpy(&ev, records.data() + off, sizeof ev);  // `records` may be unaligned
    const size_t name_at = off + sizeof ev;
    if (ev.len > records.size() - name_at) break;  // truncated (never from the kernel)
    const char* name = reinterpret_cast<const char*>(records.data() + name_at);
    HandleRecord(ev.wd, ev.mask, ev.cookie, std::string_view(name, ::strnlen(name, ev.len)));
    off = name_at + ev.len;
  }
}

void InotifyWatcher::HandleRecord(int wd, uint32_t mask, uint32_t cookie, std::string_view name) {
  if (mask & IN_Q_OVERFLOW) {
    HandleOverflow();
    return;
  }
  auto it = wd_path_.find(wd);
  if (it == wd_path_.end()) return;  // a watch dropped already
  const std::string dir = it->second;
  const bool is_dir = (mask & IN_ISDIR) != 0;

  if (mask & IN_IGNORED) {  // the watch is gone (folder deleted, unmounted, rm_watch)
    auto p = path_wd_.find(dir);
    if (p != path_wd_.end() && p->second == wd) path_wd_.erase(p);
    wd_path_.erase(wd);
    return;
  }
  if (mask & IN_UNMOUNT) {
    // The kernel drops the watches of the unmounted file system: what is at
    // those paths now (the folder under the mount point, or nothing) must be
    // watched and compared afresh.
    const std::string root = RootOf(dir);
    if (root.empty() || missing_roots_.count(root)) return;
    Tell(WatchNotice::Level::kWarning, "the file system at " + dir + " was unmounted: " + root +
                                           " is rescanned and watched again");
    if (Resync(root)) Emit(Rescan(root));
    return;
  }
  if (name.empty()) {
    // About the watched folder itself. Only a root's matter: for the others
    // their parent's watch says the same with a name.
    const bool top_root = std::find(roots_.begin(), roots_.end(), dir) != roots_.end() &&
                          !Covered(dir, dir) && !missing_roots_.count(dir);
    if (!top_root) return;
    if (mask & IN_DELETE_SELF) {
      RootGone(dir, "was removed");
    } else if (mask & IN_MOVE_SELF) {
      RootGone(dir, "was moved away or renamed");
    } else if (mask & IN_ATTRIB) {
      Emit(Changed(dir, true));
    }
    return;
  }

  std::string path = JoinPath(dir, name);
  if (mask & IN_MOVED_FROM) {
    Item item;
    item.event = Removed(path, is_dir);
    item.awaiting_to = true;
    item.cookie = cookie;
    item.from_excluded = filter_.Excluded(path, is_dir);
    item.deadline = Clock::now() + options_.move_pair_wait;
    queue_.push_back(std::move(item));
    return;
  }
  if (mask & IN_MOVED_TO) {
    HandleMovedTo(cookie, path, is_dir);
    return;
  }
  if (filter_.Excluded(path, is_dir)) return;
  if (mask & IN_CREATE) {
    Appear(path, is_dir);
  } else if (mask & IN_DELETE) {
    Emit(Removed(path, is_dir));
    if (is_dir) ForgetTree(path);
  } else if (mask & (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE)) {
    Emit(Changed(std::move(path), is_dir));
  }
}

void InotifyWatcher::Appear(const std::string& path, bool is_dir) {
  Emit(Changed(path, is_dir));
  if (is_dir) WatchTree(path, /*report=*/true, /*follow_top=*/false);
}

void InotifyWatcher::HandleMovedTo(uint32_t cookie, const std::string& to, bool is_dir) {
  const bool to_excluded = filter_.Excluded(to, is_dir);
  for (Item& item : queue_) {
    if (!item.awaiting_to || item.cookie != cookie) continue;
    item.awaiting_to = false;
    const std::string from = item.event.path;
    if (item.from_excluded) {
      // From an excluded name to a kept one (an editor's temp file renamed
      // over the real one): the kept path appears.
      item.dropped = true;
      if (!to_excluded) Appear(to, is_dir);
    } else if (to_excluded) {
      // Kept to excluded: gone for us; item.event is its removal already.
      if (is_dir) ForgetTree(from);
    } else {
      item.event = {EventKind::kMoved, from, to, is_dir};
      if (is_dir) RenameTree(from, to);
    }
    return;
  }
  if (!to_excluded) Appear(to, is_dir);  // moved in from outside the roots
}

void InotifyWatcher::ResolveExpired(Clock::time_point now, bool force) {
  for (Item& item : queue_) {
    if (!item.awaiting_to || (!force && now < item.deadline)) continue;
    // No second half came: moved out of the roots.
    item.awaiting_to = false;
    if (item.from_excluded) {
      item.dropped = true;
    } else if (item.event.is_dir) {
      ForgetTree(item.event.path);  // its watches would report it at its new place
    }
  }
}

void InotifyWatcher::HandleOverflow() {
  ++overflows_;
  ResolveExpired(Clock::now(), /*force=*/true);  // second halves may be lost
  if (!overflow_told_) {
    overflow_told_ = true;
    const uint64_t q = ReadProcNumber(kMaxQueuedEvents).value_or(16384);
    const std::string rec = std::to_string(4 * q);
    Tell(WatchNotice::Level::kWarning,
         "the kernel's queue of file events overflowed (fs.inotify.max_queued_events is " +
             std::to_string(q) +
             ") and some events were lost: every watched folder is rescanned, so no change is "
             "missed. If this recurs, raise the queue with `sudo sysctl "
             "fs.inotify.max_queued_events=" +
             rec + "` (and fs.inotify.max_queued_events=" + rec +
             " in /etc/sysctl.d/90-cairn-inotify.conf to keep it)");
  }
  for (const std::string& root : TopRoots()) {
    if (poller_.HasRoot(root) || missing_roots_.count(root)) continue;
    if (Resync(root)) Emit(Rescan(root));
  }
}

void InotifyWatcher::RunTimers(Clock::time_point now, std::stop_token stop) {
  if ((!unwatched_.empty() || !missing_roots_.empty()) && now >= next_rescan_) {
    next_rescan_ = now + options_.rescan_interval;
    RefreshLimit();
    for (const std::string& root : std::set<std::string>(missing_roots_)) {
      struct stat st;
      if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      missing_roots_.erase(root);
      WatchTree(root, /*report=*/false, /*follow_top=*/true);
      Emit(Rescan(root));
      Tell(WatchNotice::Level::kInfo, "the watched folder " + root + " is back: watched again");
    }
    std::set<std::string> trees;
    trees.swap(unwatched_);
    for (const std::string& t : trees) {
      struct stat st;
      if (::lstat(t.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !Covered(t)) continue;
      WatchTree(t, /*report=*/false, /*follow_top=*/false);  // may fit now
      Emit(Rescan(t));
    }
    if (!trees.empty() && unwatched_.empty()) {
      Tell(WatchNotice::Level::kInfo, "every watched folder has its inotify watch now");
    }
  }
  if (poller_.root_count() > 0 && now >= next_poll_) {
    std::vector<WatchEvent> events;
    poller_.Scan(events, notices_, stop);
    next_poll_ = Clock::now() + options_.poll_interval;
    for (WatchEvent& e : events) Emit(std::move(e));
  }
}

bool InotifyWatcher::HasOutput() const {
  return !notices_.empty() || (!queue_.empty() && !queue_.front().awaiting_to);
}

WatchBatch InotifyWatcher::TakeOutput() {
  WatchBatch batch;
  while (!queue_.empty() && !queue_.front().awaiting_to) {
    Item& item = queue_.front();
    // A file being written gives IN_MODIFY after IN_MODIFY: one is enough.
    const bool repeat = !batch.events.empty() && batch.events.back() == item.event;
    if (!item.dropped && !repeat) batch.events.push_back(std::move(item.event));
    queue_.pop_front();
  }
  batch.notices = std::move(notices_);
  notices_.clear();
  return batch;
}

Status InotifyWatcher::ReadEvents() {
  // Bounded, so a flood of events cannot keep Wait from returning.
  alignas(struct inotify_event) uint8_t buf[64 * 1024];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Status::OK();
      return ErrnoStatus(errno, "read file events from", "inotify");
    }
    if (n == 0) return Status::OK();
    HandleRecords(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
  }
  return Status::OK();
}

void InotifyWatcher::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);  // full counter: still readable
}

Result<WatchBatch> InotifyWatcher::Wait(std::chrono::milliseconds timeout, std::stop_token stop) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::stop_callback on_stop(stop, [this] { Wake(); });
  while (true) {
    Clock::time_point now = Clock::now();
    RunTimers(now, stop);
    ResolveExpired(now, /*force=*/false);

    Clock::time_point until = deadline;
    if (!unwatched_.empty() || !missing_roots_.empty()) until = std::min(until, next_rescan_);
    if (poller_.root_count() > 0) until = std::min(until, next_poll_);
    for (const Item& item : queue_) {
      if (item.awaiting_to) until = std::min(until, item.deadline);
    }
    int wait_ms = 0;
    if (!HasOutput() && until > now && !stop.stop_requested()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
      wait_ms = static_cast<int>(std::min<int64_t>(left, std::numeric_limits<int>::max()));
    }
    struct pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) return ErrnoStatus(errno, "wait for file events from", "inotify");
    bool woken = false;
    if (n > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
      woken = true;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) CAIRN_RETURN_IF_ERROR(ReadEvents());
    now = Clock::now();
    ResolveExpired(now, /*force=*/false);
    if (HasOutput() || woken || stop.stop_requested() || now >= deadline) return TakeOutput();
  }
}

WatcherStats InotifyWatcher::Stats() const {
  WatcherStats s;
  s.mechanism = "inotify";
  s.roots = roots_.size();
  s.watches = wd_path_.size();
  s.watch_limit = Limit();
  s.polled_trees = poller_.root_count() + unwatched_.size() + missing_roots_.size();
  s.overflows = overflows_;
  return s;
}

}  // namespace cairn::watch
