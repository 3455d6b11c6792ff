#include "watch/tree_poller.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_set>

#include "base/errno_status.h"

namespace cairn::watch {

namespace {

int64_t Ns(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The parent folder of a normalised path ("/a/b" -> "/a", "/a" -> "/").
std::string_view Parent(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? std::string_view("/") : path.substr(0, slash);
}

}  // namespace

bool TreePoller::Entry::is_dir() const { return S_ISDIR(mode); }

bool TreePoller::Entry::DiffersFrom(const Entry& before) const {
  if ((mode & S_IFMT) != (before.mode & S_IFMT) || ino != before.ino || dev != before.dev) {
    return true;
  }
  if (is_dir()) return mode != before.mode || uid != before.uid || gid != before.gid;
  return size != before.size || mtime_ns != before.mtime_ns || ctime_ns != before.ctime_ns;
}

void TreePoller::Tell(std::vector<WatchNotice>& notices, const std::string& path,
                      const std::string& text) {
  if (told_.insert(path).second) notices.push_back({WatchNotice::Level::kWarning, text});
}

bool TreePoller::ScanTree(const std::string& root, Snapshot& out,
                          std::vector<std::string>& unreadable, std::vector<WatchNotice>& notices,
                          std::stop_token stop) {
  auto make_entry = [](const struct stat& st) {
    Entry e;
    e.mode = st.st_mode;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.size = static_cast<uint64_t>(st.st_size);
    e.mtime_ns = Ns(st.st_mtim);
    e.ctime_ns = Ns(st.st_ctim);
    e.ino = st.st_ino;
    e.dev = st.st_dev;
    return e;
  };
  // The root itself is followed if a symlink: the user named that folder.
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return true;  // gone: an empty scan
    unreadable.push_back(root);
    Tell(notices, root, ErrnoStatus(errno, "examine", root).message());
    return true;
  }
  if (!S_ISDIR(st.st_mode)) return true;  // no folder any more: as gone
  out[root] = make_entry(st);

  std::vector<std::string> stack{root};
  while (!stack.empty()) {
    if (stop.stop_requested()) return false;
    const std::string dir = std::move(stack.back());
    stack.pop_back();
    int fd =
        ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (dir == root ? 0 : O_NOFOLLOW));
    DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (d == nullptr) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      if (err == ENOENT || err == ENOTDIR) continue;  // removed since its parent was read
      unreadable.push_back(dir);
      Tell(notices, dir, ErrnoStatus(err, "read the folder", dir).message());
      continue;
    }
    told_.erase(dir);
    while (true) {
      errno = 0;
      struct dirent* de = ::readdir(d);
      if (de == nullptr) {
        if (errno != 0) {
          unreadable.push_back(dir);
          Tell(notices, dir, ErrnoStatus(errno, "read the folder", dir).message());
        }
        break;
      }
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
      std::string path = JoinPath(dir, name);
      const bool is_dir = S_ISDIR(st.st_mode);
      if (filter_.Excluded(path, is_dir)) continue;
      out[path] = make_entry(st);
      if (is_dir) stack.push_back(std::move(path));
    }
    ::closedir(d);
  }
  return true;
}

Status TreePoller::AddRoot(const std::string& root, std::stop_token stop) {
  if (roots_.count(root)) return Status::OK();
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return ErrnoStatus(errno, "watch", root);
  if (!S_ISDIR(st.st_mode)) return Status::IOError("cannot watch " + root + ": not a folder");
  Snapshot snap;
  std::vector<std::string> unreadable;
  std::vector<WatchNotice> ignored;  // a first scan reports nothing; later scans say it
  if (!ScanTree(root, snap, unreadable, ignored, stop)) {
    return Status::Cancelled("stopped while scanning " + root);
  }
  // Said by the first Scan that meets them still.
  for (const std::string& dir : unreadable) told_.erase(dir);
  roots_[root] = std::move(snap);
  return Status::OK();
}

bool TreePoller::RemoveRoot(const std::string& root) { return roots_.erase(root) > 0; }

std::vector<std::string> TreePoller::Roots() const {
  std::vector<std::string> out;
  for (const auto& [root, snap] : roots_) out.push_back(root);
  return out;
}

size_t TreePoller::entry_count() const {
  size_t n = 0;
  for (const auto& [root, snap] : roots_) n += snap.size();
  return n;
}

void TreePoller::Scan(std::vector<WatchEvent>& events, std::vector<WatchNotice>& notices,
                      std::stop_token stop) {
  for (auto& [root, before] : roots_) {
    Snapshot now;
    std::vector<std::string> unreadable;
    if (!ScanTree(root, now, unreadable, notices, stop)) return;
    // What could not be read is taken as unchanged.
    for (const std::string& dir : unreadable) {
      for (auto it = before.lower_bound(dir); it != before.end(); ++it) {
        if (!IsSameOrUnder(it->first, dir)) {
          // Children of `dir` are not contiguous after it ("/a/b-c" sorts
          // between "/a/b" and "/a/b/c"); they all sort before "/a/b0".
          if (it->first > dir + "0") break;
          continue;
        }
        now.emplace(it->first, it->second);
      }
    }
    // New and changed paths, then removed ones, each in path order.
    for (const auto& [path, entry] : now) {
      auto old = before.find(path);
      if (old == before.end() || entry.DiffersFrom(old->second)) {
        events.push_back({EventKind::kChanged, path, "", entry.is_dir()});
      }
    }
    std::unordered_set<std::string> removed_dirs;
    for (const auto& [path, entry] : before) {
      if (now.count(path)) continue;
      bool under_removed = false;
      for (std::string_view p = path; p != root && p != "/";) {
        p = Parent(p);
        if (removed_dirs.count(std::string(p))) {
          under_removed = true;
          break;
        }
      }
      if (entry.is_dir()) removed_dirs.insert(path);
      if (!under_removed) events.push_back({EventKind::kRemoved, path, "", entry.is_dir()});
    }
    before = std::move(now);
  }
}

}  // namespace cairn::watch
