#include "archiver/file_reader.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <unordered_map>

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

namespace {

void ToRecordXattrs(std::vector<FileXattr>& in, std::vector<repo::Xattr>& out) {
  out.clear();
  out.reserve(in.size());
  for (FileXattr& x : in) out.push_back(repo::Xattr{std::move(x.name), std::move(x.value)});
}

}  // namespace

Status ReadXattrs(FileSystem& fs, const std::string& path, std::vector<repo::Xattr>& out) {
  std::vector<FileXattr> xattrs;
  Status st = fs.ReadXattrs(path, xattrs);
  ToRecordXattrs(xattrs, out);
  return st;
}

Status ReadFileContent(FileSystem& fs, const std::string& path, const chunk::Chunker& chunker,
                       repo::Repository& repo, repo::VersionRecord& rec,
                       const std::function<void(uint64_t)>& on_bytes) {
  // No-follow, no atime update, sequential read-ahead (see OpenForRead).
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, fs.OpenForRead(path));
  CAIRN_ASSIGN_OR_RETURN(const struct stat before, file->Stat());
  if (!S_ISREG(before.st_mode) || before.st_ino != rec.inode)
    return Status::Cancelled(path + " was replaced while being backed up");

  const size_t max = chunker.params().max_size;
  // Room for two chunks, or for the whole file and a little more (to see its
  // end in one read) when that is less: most files are small, and a buffer
  // of 2 chunks (8 MiB) zero-filled for each would cost more than reading
  // them (a daemon's batch of a few small files paid ~4,500 page faults).
  // A file that grows past it is read to the end of the buffer, then found
  // changed (size) and read again, bigger.
  const uint64_t whole = static_cast<uint64_t>(before.st_size) + (64u << 10);
  thread_local Bytes big;
  Bytes small;
  Bytes* chosen = &big;
  if (whole < 2 * max) {
    small.resize(static_cast<size_t>(whole));
    chosen = &small;
  } else if (big.size() < 2 * max) {
    big.resize(2 * max);
  }
  Bytes& buf = *chosen;
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
      // Large reads (up to 2 chunks), straight into the chunking buffer.
      CAIRN_ASSIGN_OR_RETURN(const size_t n, file->Read(buf.data() + end, buf.size() - end));
      if (n == 0) {
        eof = true;
        break;
      }
      end += n;
      total += n;
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
  CAIRN_ASSIGN_OR_RETURN(const struct stat after, file->Stat());
  if (after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
      after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
      after.st_ctim.tv_nsec != before.st_ctim.tv_nsec ||
      total != static_cast<uint64_t>(after.st_size))
    return Status::Cancelled(path + " changed while being read");
  rec.content_sha256 = whole_file_sha ? *whole_file_sha : sha.Final();
  // Through the open file: no second lookup of the path, and the attributes
  // belong to the content just read. Unreadable attributes are not fatal.
  std::vector<FileXattr> xattrs;
  (void)file->ReadXattrs(xattrs);
  ToRecordXattrs(xattrs, rec.xattrs);
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
