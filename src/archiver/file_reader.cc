#include "archiver/file_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "base/errno_status.h"
#include "crypto/crypto.h"

namespace cairn::archiver {

namespace {

std::string UserName(uid_t uid) {
  static std::mutex mu;
  static std::unordered_map<uid_t, std::string> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(uid);
  if (it != cache.end()) return it->second;
  struct passwd pw, *res = nullptr;
  char buf[4096];
  std::string name;
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) name = res->pw_name;
  cache[uid] = name;
  return name;
}

std::string GroupName(gid_t gid) {
  static std::mutex mu;
  static std::unordered_map<gid_t, std::string> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(gid);
  if (it != cache.end()) return it->second;
  struct group gr, *res = nullptr;
  char buf[4096];
  std::string name;
  if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res) name = res->gr_name;
  cache[gid] = name;
  return name;
}

TimeNs ToNs(const struct timespec& ts) {
  return static_cast<TimeNs>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

bool FillMetadata(const std::string& path, const struct stat& st, repo::VersionRecord& rec) {
  using repo::FileType;
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      rec.type = FileType::kFile;
      break;
    case S_IFDIR:
      rec.type = FileType::kDir;
      break;
    case S_IFLNK:
      rec.type = FileType::kSymlink;
      break;
    case S_IFIFO:
      rec.type = FileType::kFifo;
      break;
    case S_IFSOCK:
      rec.type = FileType::kSocket;
      break;
    case S_IFCHR:
      rec.type = FileType::kCharDevice;
      break;
    case S_IFBLK:
      rec.type = FileType::kBlockDevice;
      break;
    default:
      return false;
  }
  rec.path = path;
  rec.size = rec.type == FileType::kFile ? static_cast<uint64_t>(st.st_size) : 0;
  rec.mode = st.st_mode & 07777;
  rec.uid = st.st_uid;
  rec.gid = st.st_gid;
  rec.user = UserName(st.st_uid);
  rec.group = GroupName(st.st_gid);
  rec.mtime = ToNs(st.st_mtim);
  rec.ctime = ToNs(st.st_ctim);
  rec.inode = st.st_ino;
  rec.dev = st.st_dev;
  rec.rdev = (rec.type == FileType::kCharDevice || rec.type == FileType::kBlockDevice)
                 ? static_cast<uint64_t>(st.st_rdev)
                 : 0;
  rec.sparse = rec.type == FileType::kFile && st.st_size > 0 &&
               static_cast<uint64_t>(st.st_blocks) * 512 < static_cast<uint64_t>(st.st_size);
  return true;
}

Result<std::string> ReadLinkTarget(const std::string& path, size_t size_hint) {
  std::string target(std::max<size_t>(size_hint, 255) + 1, '\0');
  while (true) {
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "read the symlink", path);
    // A result that fills the buffer may be cut short: grow and read again.
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

namespace {

// Shared by the path and fd forms: `list(buf, size)` and `get(name, buf, size)`
// behave like llistxattr/lgetxattr.
template <typename List, typename Get>
Status ReadXattrsWith(const std::string& path, List list, Get get, std::vector<repo::Xattr>& out) {
  out.clear();
  ssize_t n = list(nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP || errno == ENODATA) return Status::OK();
    return ErrnoStatus(errno, "list extended attributes of", path);
  }
  if (n == 0) return Status::OK();
  std::string names(static_cast<size_t>(n), '\0');
  n = list(names.data(), names.size());
  if (n < 0) return ErrnoStatus(errno, "list extended attributes of", path);
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    ssize_t vn = get(name.c_str(), nullptr, 0);
    if (vn < 0) continue;  // vanished
    Bytes value(static_cast<size_t>(vn));
    vn = get(name.c_str(), value.data(), value.size());
    if (vn < 0) continue;
    value.resize(static_cast<size_t>(vn));
    out.push_back(repo::Xattr{name, std::move(value)});
  }
  return Status::OK();
}

}  // namespace

Status ReadXattrs(const std::string& path, std::vector<repo::Xattr>& out) {
  return ReadXattrsWith(
      path, [&](char* buf, size_t size) { return llistxattr(path.c_str(), buf, size); },
      [&](const char* name, void* buf, size_t size) {
        return lgetxattr(path.c_str(), name, buf, size);
      },
      out);
}

Status ReadFileContent(const std::string& path, const chunk::Chunker& chunker,
                       repo::Repository& repo, repo::VersionRecord& rec,
                       const std::function<void(uint64_t)>& on_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat before;
  if (fstat(fd, &before) != 0) return ErrnoStatus(errno, "stat", path);
  if (!S_ISREG(before.st_mode) || before.st_ino != rec.inode)
    return Status::Cancelled(path + " was replaced while being backed up");
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  const size_t max = chunker.params().max_size;
  thread_local Bytes buf;
  if (buf.size() < 2 * max) buf.resize(2 * max);
  size_t start = 0, end = 0;
  bool eof = false;
  crypto::Sha256 sha;
  std::optional<Id> whole_file_sha;
  rec.chunks.clear();
  uint64_t total = 0;
  while (true) {
    while (!eof && end - start < max) {
      if (buf.size() - end < max) {  // compact: move the unconsumed tail to the front
        std::memmove(buf.data(), buf.data() + start, end - start);
        end -= start;
        start = 0;
      }
      ssize_t n = read(fd, buf.data() + end, buf.size() - end);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read", path);
      }
      if (n == 0) {
        eof = true;
        break;
      }
      end += static_cast<size_t>(n);
      total += static_cast<uint64_t>(n);
      if (on_bytes) on_bytes(static_cast<uint64_t>(n));
    }
    if (start == end) break;
    ByteView avail(buf.data() + start, end - start);
    size_t cut = chunker.Cut(avail);
    ByteView chunk = avail.subspan(0, cut);
    Id id;
    if (rec.chunks.empty() && eof && cut == end - start) {
      // The whole file is one chunk (most files are): its SHA-256 is both the
      // content hash and the input of the chunk ID, so it is hashed once.
      whole_file_sha = crypto::Sha256::Digest(chunk);
      id = crypto::KeyedIdOfDigest(repo.keys().id_key, *whole_file_sha);
    } else {
      sha.Update(chunk);
      id = crypto::KeyedId(repo.keys().id_key, chunk);
    }
    auto stored = repo.StoreBlob(repo::BlobType::kData, id, chunk);
    if (!stored.ok()) return stored.error();
    rec.chunks.push_back(id);
    start += cut;
  }
  struct stat after;
  if (fstat(fd, &after) != 0) return ErrnoStatus(errno, "stat", path);
  if (after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
      after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
      after.st_ctim.tv_nsec != before.st_ctim.tv_nsec ||
      total != static_cast<uint64_t>(after.st_size))
    return Status::Cancelled(path + " changed while being read");
  rec.content_sha256 = whole_file_sha ? *whole_file_sha : sha.Final();
  // Through the open file: no second lookup of the path, and the attributes
  // belong to the content just read. Unreadable attributes are not fatal.
  (void)ReadXattrsWith(
      path, [&](char* b, size_t size) { return flistxattr(fd, b, size); },
      [&](const char* name, void* b, size_t size) { return fgetxattr(fd, name, b, size); },
      rec.xattrs);
  rec.size = total;
  rec.mtime = ToNs(after.st_mtim);
  rec.ctime = ToNs(after.st_ctim);
  rec.mode = after.st_mode & 07777;
  rec.uid = after.st_uid;
  rec.gid = after.st_gid;
  rec.sparse = total > 0 && static_cast<uint64_t>(after.st_blocks) * 512 < total;
  return Status::OK();
}

}  // namespace cairn::archiver
