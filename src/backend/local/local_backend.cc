#include "backend/local/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <utility>

#include "backend/local/posix_error.h"
#include "base/time_util.h"

namespace cairn::backend {

namespace {

constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kFlockSuffix = ".flock";
constexpr std::string_view kReplaceLockFile = ".replace.lock";
constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now; returns 0 or the errno of close(2) (NFS reports late write
  // errors here). Not retried on EINTR: on Linux the fd is gone either way.
  int Close() {
    int fd = std::exchange(fd_, -1);
    if (fd < 0) return 0;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Removes a temporary file unless Release()d.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

int OpenRetrying(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

int FlockRetrying(int fd, int op) {
  int r;
  do {
    r = ::flock(fd, op);
  } while (r != 0 && errno == EINTR);
  return r;
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string RandomHex() {
  uint8_t buf[8];
  ssize_t n = ::getrandom(buf, sizeof(buf), GRND_NONBLOCK);
  if (n != static_cast<ssize_t>(sizeof(buf))) {
    // No entropy source: the names only need to differ, and O_EXCL checks.
    static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                            static_cast<uint64_t>(::getpid()) << 32);
    uint64_t v = rng() ^ static_cast<uint64_t>(NowNs());
    std::memcpy(buf, &v, sizeof(buf));
  }
  return HexEncode(ByteView(buf, sizeof(buf)));
}

std::string Etag(const struct stat& st) {
  int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%llx-%llx-%llx", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(mtime_ns),
                static_cast<unsigned long long>(st.st_ino));
  return buf;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Makes the directory entries of `dir` durable.
Status SyncDir(const std::string& dir) {
  Fd fd(OpenRetrying(dir.c_str(), O_RDONLY | O_DIRECTORY));
  if (!fd.valid()) return PosixError(errno, "open directory", dir);
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != ENOTSUP) {
    // EINVAL/ENOTSUP: the file system cannot sync directories (some network
    // file systems); its metadata is then as durable as it gets.
    return PosixError(errno, "fsync directory", dir);
  }
  return Status::OK();
}

// mkdir 0700 that accepts an existing directory, then syncs the parent so
// the new entry survives a crash.
Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), kDirMode) != 0) {
    int err = errno;
    if (err != EEXIST) return PosixError(err, "create directory", dir);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return PosixError(errno, "stat", dir);
    if (!S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument(dir + " exists and is not a directory");
    }
    // Possibly made by a concurrent caller who has not synced the parent
    // yet: sync it ourselves rather than rely on them.
  }
  return SyncDir(ParentDir(dir));
}

// mkdir -p, each created component 0700.
Status MakeDirs(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::InvalidArgument(dir + " exists and is not a directory");
  }
  if (errno != ENOENT) return PosixError(errno, "stat", dir);
  std::string parent = ParentDir(dir);
  if (parent != dir) CAIRN_RETURN_IF_ERROR(MakeDirs(parent));
  return MakeDir(dir);
}

Status WriteAll(int fd, ByteView data, const std::string& path) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(errno, "write", path);
    }
    if (n == 0) return Status::IOError("write " + path + ": no progress");
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// Writes `data` to a new ".tmp-<random>" file in `dir`, durably. On success
// returns its path; on failure nothing is left behind. Errors name `path`
// (the object being written). When `min_mtime_ns` > 0 the file's mtime is
// set to at least that.
Result<std::string> WriteTemp(const std::string& dir, const std::string& path, ByteView data,
                              int64_t min_mtime_ns) {
  std::string temp;
  Fd fd;
  for (int attempt = 0; !fd.valid(); ++attempt) {
    temp = dir + "/" + std::string(kTempPrefix) + RandomHex();
    fd = Fd(OpenRetrying(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL, kFileMode));
    if (!fd.valid() && (errno != EEXIST || attempt >= 10)) {
      return PosixError(errno, "create temporary file for", path);
    }
  }
  TempFileGuard guard(temp);
  CAIRN_RETURN_IF_ERROR(WriteAll(fd.get(), data, path));
  if (min_mtime_ns > 0) {
    struct timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    int64_t t = std::max<int64_t>(now.tv_sec * 1'000'000'000LL + now.tv_nsec, min_mtime_ns);
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = t / 1'000'000'000;
    times[1].tv_nsec = t % 1'000'000'000;
    if (::futimens(fd.get(), times) != 0) return PosixError(errno, "set mtime of", path);
  }
  if (::fsync(fd.get()) != 0) return PosixError(errno, "fsync", path);
  if (int err = fd.Close(); err != 0) return PosixError(err, "close", path);
  guard.Release();
  return temp;
}

// Gives the durable file `temp` the name `path` unless `path` exists
// (AlreadyExists). Either way `temp` is gone afterwards.
Status PublishNoReplace(const std::string& temp, const std::string& path) {
  TempFileGuard guard(temp);
  if (::link(temp.c_str(), path.c_str()) == 0) return Status::OK();
  int err = errno;
  if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == EMLINK || err == ENOSYS) {
    // File systems without hard links (exFAT, FAT, some network shares)
    // refuse link(2); a rename that refuses to overwrite is just as atomic.
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) {
      guard.Release();
      return Status::OK();
    }
    // Report the original error when the file system has neither.
    if (errno != EINVAL && errno != ENOSYS) err = errno;
  }
  if (err == EEXIST) return Status::AlreadyExists(path + " already exists");
  return PosixError(err, "link", path);
}

// An exclusive flock(2) on a file, released when destroyed.
class FlockGuard {
 public:
  static Result<FlockGuard> Acquire(const std::string& path) {
    Fd fd(OpenRetrying(path.c_str(), O_RDWR | O_CREAT, kFileMode));
    if (!fd.valid()) return PosixError(errno, "open lock file", path);
    if (FlockRetrying(fd.get(), LOCK_EX) != 0) return PosixError(errno, "lock", path);
    return FlockGuard(std::move(fd));
  }

 private:
  explicit FlockGuard(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

// The holder text of a lock file, made safe to show.
std::string ReadHolder(int fd) {
  char buf[512];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  std::string text;
  for (ssize_t i = 0; i < n; ++i) {
    char c = buf[i];
    if (c == '\n' || c == '\r') break;
    text += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return text;
}

std::string HolderText() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  return "pid " + std::to_string(::getpid()) + " on host " + host + " since " +
         FormatRfc3339(NowNs());
}

class LocalLock : public BackendLock {
 public:
  explicit LocalLock(Fd fd) : fd_(std::move(fd)) {}
  // The kernel holds the lock for as long as the file is open.
  Status Refresh() override {
    if (!fd_.valid()) return Status::Locked("the lock was released");
    return Status::OK();
  }
  // Closing the file drops the flock; it cannot fail to.
  Status Release() override {
    fd_ = Fd();
    return Status::OK();
  }

 private:
  Fd fd_;
};

bool ValidName(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name.front() != '.' &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

Status CheckName(const ObjectName& name) {
  if (name.type == ObjectType::kConfig) return Status::OK();
  if (!ValidName(name.name) || (name.type == ObjectType::kPack && name.name.size() < 2) ||
      (name.type == ObjectType::kLock && name.name.ends_with(kFlockSuffix))) {
    return Status::InvalidArgument("invalid object name \"" + name.name + "\" for " +
                                   std::string(ObjectTypeDir(name.type)));
  }
  return Status::OK();
}

constexpr ObjectType kAllTypes[] = {ObjectType::kConfig, ObjectType::kKey,      ObjectType::kPack,
                                    ObjectType::kIndex,  ObjectType::kVersions, ObjectType::kLock};

}  // namespace

Result<std::shared_ptr<LocalBackend>> LocalBackend::Open(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("empty repository directory");
  if (dir.find('\0') != std::string::npos) {
    return Status::InvalidArgument("repository directory contains a NUL byte");
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(dir, ec);
  if (ec) {
    return Status::InvalidArgument("cannot make " + dir + " an absolute path: " + ec.message());
  }
  std::string root = abs.lexically_normal().string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::shared_ptr<LocalBackend>(new LocalBackend(std::move(root)));
}

std::string LocalBackend::FilePath(const ObjectName& name) const {
  return (root_ == "/" ? "" : root_) + "/" + name.Path();
}

Status LocalBackend::Create() {
  CAIRN_RETURN_IF_ERROR(MakeDirs(root_));
  for (ObjectType t : kAllTypes) {
    if (t == ObjectType::kConfig) continue;
    CAIRN_RETURN_IF_ERROR(MakeDir(root_ + "/" + std::string(ObjectTypeDir(t))));
  }
  return Status::OK();
}

Result<bool> LocalBackend::HasAnyObject() {
  struct stat st;
  if (::stat(root_.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return PosixError(errno, "stat", root_);
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(root_ + " is not a directory");
  // Anything that is not part of a repository's layout is someone's data:
  // a repository must not be created over it.
  if (DIR* d = opendir(root_.c_str())) {
    bool foreign = false;
    while (struct dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == ".." || n == "config" || n == "keys" || n == "data" || n == "index" ||
          n == "versions" || n == "locks" || n == ".replace.lock")
        continue;
      foreign = true;
      break;
    }
    closedir(d);
    if (foreign) return true;
  }
  for (ObjectType t : kAllTypes) {
    bool found = false;
    Status s = List(t, [&found](const ObjectInfo&) {
      found = true;
      return Status::Cancelled("found one");
    });
    if (found) return true;
    if (!s.ok()) return s;
  }
  return false;
}

Result<std::string> LocalBackend::WriteTempFor(const ObjectName& name, const std::string& path,
                                               ByteView data, int64_t min_mtime_ns) {
  std::string dir = ParentDir(path);
  Result<std::string> temp = WriteTemp(dir, path, data, min_mtime_ns);
  if (!temp.ok() && temp.error().IsNotFound() && name.type == ObjectType::kPack) {
    // "data/xx" is made on the first save into it; if "data" itself is
    // missing this fails with NotFound, as it should.
    CAIRN_RETURN_IF_ERROR(MakeDir(dir));
    temp = WriteTemp(dir, path, data, min_mtime_ns);
  }
  return temp;
}

Status LocalBackend::Save(const ObjectName& name, ByteView data) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  std::string path = FilePath(name);
  CAIRN_ASSIGN_OR_RETURN(std::string temp, WriteTempFor(name, path, data, 0));
  CAIRN_RETURN_IF_ERROR(PublishNoReplace(temp, path));
  return SyncDir(ParentDir(path));
}

Result<std::string> LocalBackend::Replace(const ObjectName& name, ByteView data,
                                          const std::string& if_match) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  std::string path = FilePath(name);
  CAIRN_ASSIGN_OR_RETURN(FlockGuard lock,
                         FlockGuard::Acquire(root_ + "/" + std::string(kReplaceLockFile)));
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return PosixError(errno, "stat", path);
  std::string current = exists ? Etag(st) : "";
  if (current != if_match) {
    if (if_match.empty()) return Status::PreconditionFailed(path + " already exists");
    if (!exists) return Status::PreconditionFailed(path + " no longer exists");
    return Status::PreconditionFailed(path + " was changed by someone else (etag " + current +
                                      ", expected " + if_match + ")");
  }
  CAIRN_ASSIGN_OR_RETURN(std::string temp,
                         WriteTempFor(name, path, data, exists ? MtimeNs(st) + 1 : 0));
  if (exists) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return PosixError(err, "rename", path);
    }
  } else {
    // Not under the final name yet: a concurrent Save may create it, and
    // must not be overwritten.
    Status s = PublishNoReplace(temp, path);
    if (s.IsAlreadyExists()) return Status::PreconditionFailed(path + " already exists");
    CAIRN_RETURN_IF_ERROR(s);
  }
  CAIRN_RETURN_IF_ERROR(SyncDir(ParentDir(path)));
  if (::stat(path.c_str(), &st) != 0) return PosixError(errno, "stat", path);
  return Etag(st);
}

Result<Bytes> LocalBackend::Load(const ObjectName& name, uint64_t offset, uint64_t length) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  std::string path = FilePath(name);
  Fd fd(OpenRetrying(path.c_str(), O_RDONLY));
  if (!fd.valid()) return PosixError(errno, "open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return PosixError(errno, "stat", path);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || (length > 0 && length > size - offset)) {
    return Status::Corruption("range " + std::to_string(offset) + "+" + std::to_string(length) +
                              " is past the end of " + path + " (" + std::to_string(size) +
                              " bytes)");
  }
  if (length == 0) length = size - offset;
  Bytes out(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n =
        ::pread(fd.get(), out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(errno, "read", path);
    }
    if (n == 0) return Status::Corruption(path + " is shorter than its size while being read");
    done += static_cast<uint64_t>(n);
  }
  return out;
}

Result<ObjectInfo> LocalBackend::Stat(const ObjectName& name) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  std::string path = FilePath(name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PosixError(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return Status::Corruption(path + " is not a regular file");
  ObjectInfo info;
  info.name = name;
  if (name.type == ObjectType::kConfig) info.name.name = "config";
  info.size = static_cast<uint64_t>(st.st_size);
  info.etag = Etag(st);
  info.mtime = MtimeNs(st);
  return info;
}

Status LocalBackend::ListDir(ObjectType type, const std::string& dir, std::string_view subdir,
                             const std::function<Status(const ObjectInfo&)>& fn) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) {
    int err = errno;
    if (err == ENOENT) {
      // A missing type directory is an empty one, but a missing repository
      // (an unmounted disk, a typo) must not look like an empty repository.
      struct stat st;
      if (::stat(root_.c_str(), &st) != 0) return PosixError(errno, "open repository", root_);
      return Status::OK();
    }
    return PosixError(err, "list", dir);
  }
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return PosixError(errno, "list", dir);
      return Status::OK();
    }
    std::string_view entry = e->d_name;
    // Skips ".", "..", ".tmp-*" left by a crash, and lock files.
    if (entry.empty() || entry.front() == '.') continue;
    if (type == ObjectType::kLock && entry.ends_with(kFlockSuffix)) continue;
    // A pack filed under the wrong prefix is unreachable by Load.
    if (!subdir.empty() && !entry.starts_with(subdir)) continue;
    struct stat st;
    if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed meanwhile
      return PosixError(errno, "stat", dir + "/" + std::string(entry));
    }
    if (!S_ISREG(st.st_mode)) continue;
    ObjectInfo info{ObjectName{type, std::string(entry)},
                    static_cast<uint64_t>(st.st_size),
                    Etag(st),
                    "",
                    MtimeNs(st),
                    ""};
    CAIRN_RETURN_IF_ERROR(fn(info));
  }
}

Status LocalBackend::List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) {
  if (type == ObjectType::kConfig) {
    Result<ObjectInfo> info = Stat(ObjectName{ObjectType::kConfig, "config"});
    if (info.ok()) return fn(*info);
    if (!info.error().IsNotFound()) return info.error();
    struct stat st;
    if (::stat(root_.c_str(), &st) != 0) return PosixError(errno, "open repository", root_);
    return Status::OK();
  }
  std::string dir = root_ + "/" + std::string(ObjectTypeDir(type));
  if (type != ObjectType::kPack) return ListDir(type, dir, "", fn);

  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) {
    if (errno == ENOENT) return ListDir(type, dir, "", fn);  // reports a missing root
    return PosixError(errno, "list", dir);
  }
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return PosixError(errno, "list", dir);
      return Status::OK();
    }
    std::string_view sub = e->d_name;
    if (sub.size() != 2 || sub.front() == '.') continue;
    CAIRN_RETURN_IF_ERROR(ListDir(type, dir + "/" + std::string(sub), sub, fn));
  }
}

Status LocalBackend::Remove(const ObjectName& name) {
  CAIRN_RETURN_IF_ERROR(CheckName(name));
  std::string path = FilePath(name);
  {
    // Ordered against Replace, so a compare-and-swap never resurrects an
    // object removed after its check.
    CAIRN_ASSIGN_OR_RETURN(FlockGuard lock,
                           FlockGuard::Acquire(root_ + "/" + std::string(kReplaceLockFile)));
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return Status::OK();
      return PosixError(errno, "remove", path);
    }
  }
  return SyncDir(ParentDir(path));
}

Result<std::unique_ptr<BackendLock>> LocalBackend::TryLock(std::string_view lock_name,
                                                           std::chrono::seconds /*ttl*/) {
  if (!ValidName(lock_name)) {
    return Status::InvalidArgument("invalid lock name \"" + std::string(lock_name) + "\"");
  }
  std::string path = root_ + "/" + std::string(ObjectTypeDir(ObjectType::kLock)) + "/" +
                     std::string(lock_name) + std::string(kFlockSuffix);
  Fd fd(OpenRetrying(path.c_str(), O_RDWR | O_CREAT, kFileMode));
  if (!fd.valid()) return PosixError(errno, "open lock file", path);
  if (FlockRetrying(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) return PosixError(err, "lock", path);
    std::string holder = ReadHolder(fd.get());
    if (holder.empty()) holder = "another process (it has not recorded who yet)";
    return Status::Locked("the repository lock \"" + std::string(lock_name) + "\" in " + root_ +
                          " is locked by " + holder);
  }
  // Who holds it, for the message others get. Best effort: the lock is held
  // whether or not this note could be written.
  std::string holder = HolderText() + "\n";
  if (::ftruncate(fd.get(), 0) == 0) {
    [[maybe_unused]] ssize_t n = ::pwrite(fd.get(), holder.data(), holder.size(), 0);
  }
  return std::unique_ptr<BackendLock>(new LocalLock(std::move(fd)));
}

Result<std::shared_ptr<Backend>> OpenLocalLocation(const std::string& location,
                                                   const OpenOptions&) {
  std::string_view dir = location;
  if (dir.starts_with("local:")) dir.remove_prefix(6);
  if (dir.empty()) return Status::InvalidArgument("\"local:\" needs a directory path after it");
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<LocalBackend> local, LocalBackend::Open(std::string(dir)));
  return std::shared_ptr<Backend>(std::move(local));
}

}  // namespace cairn::backend
