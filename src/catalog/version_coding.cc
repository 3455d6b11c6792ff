#include "catalog/version_coding.h"

#include <cstdint>
#include <cstring>

namespace cairn::catalog {
namespace {

using repo::FileType;
using repo::VersionRecord;

// The common cases (a file or folder with a hash, a wall time and ordinary
// times) fit the first 7 bits, so the flags take one byte.
constexpr uint64_t kTypeMask = 0x07;  // FileType 1..7; 0: the type follows
constexpr uint64_t kHasSha = 1 << 3;
constexpr uint64_t kHasWall = 1 << 4;
constexpr uint64_t kWholeSeconds = 1 << 5;     // mtime is whole seconds: stored as seconds
constexpr uint64_t kCtimeFromBackup = 1 << 6;  // ctime relative to backup_time, not mtime
constexpr uint64_t kSparse = 1 << 7;
constexpr uint64_t kHasLink = 1 << 8;
constexpr uint64_t kHasXattrs = 1 << 9;

constexpr int64_t kNsPerSecond = 1'000'000'000;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

uint64_t Zigzag(uint64_t wrapped_difference) {
  auto v = static_cast<int64_t>(wrapped_difference);
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
uint64_t Unzigzag(uint64_t z) { return (z >> 1) ^ (~(z & 1) + 1); }

// Differences modulo 2^64: a - b and back, exact for every pair of int64.
uint64_t Minus(TimeNs a, TimeNs b) { return static_cast<uint64_t>(a) - static_cast<uint64_t>(b); }
TimeNs Plus(TimeNs a, uint64_t d) { return static_cast<TimeNs>(static_cast<uint64_t>(a) + d); }

void PutBytes(std::string* out, std::string_view b) {
  PutVarint(out, b.size());
  out->append(b);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      auto byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Take(size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool Bytes(std::string_view* out) {
    uint64_t n = 0;
    return Varint(&n) && Take(n, out);
  }
  std::string_view rest() const { return in_; }

 private:
  std::string_view in_;
};

Status Malformed() { return Status::Corruption("catalog: malformed version record"); }

// The fields up to and including the wall time, shared by Decode and Peek.
struct Head {
  uint64_t flags = 0, type = 0, size = 0, mode = 0, attrs = 0;
  TimeNs wall = 0;  // 0: none recorded
};

bool ReadHead(Reader& in, TimeNs backup_time, Head* h) {
  if (!in.Varint(&h->flags)) return false;
  h->type = h->flags & kTypeMask;
  if (h->type == 0 && !in.Varint(&h->type)) return false;
  if (h->type > 0xff) return false;
  if (!in.Varint(&h->size) || !in.Varint(&h->mode) || !in.Varint(&h->attrs) || h->attrs > INT64_MAX)
    return false;
  if (h->flags & kHasWall) {
    uint64_t z = 0;
    if (!in.Varint(&z)) return false;
    h->wall = Plus(backup_time, Unzigzag(z));
  }
  return true;
}

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

}  // namespace

void EncodeVersion(const VersionRecord& r, int64_t attrs, std::string* out) {
  out->clear();
  auto type = static_cast<uint64_t>(r.type);
  // mtime: whole seconds (archives, many file systems) as seconds since the
  // epoch, else its distance to backup_time (short for recent changes).
  const bool whole = r.mtime % kNsPerSecond == 0;
  const uint64_t mtime = whole ? Zigzag(static_cast<uint64_t>(r.mtime / kNsPerSecond))
                               : Zigzag(Minus(r.backup_time, r.mtime));
  // ctime: usually equal or close to mtime; after an unpack or a chmod,
  // closer to the backup.
  const uint64_t ctime_m = Zigzag(Minus(r.ctime, r.mtime));
  const uint64_t ctime_b = Zigzag(Minus(r.backup_time, r.ctime));
  const bool ctime_from_backup = VarintLength(ctime_b) < VarintLength(ctime_m);
  uint64_t flags = (type <= kTypeMask ? type : 0) | (r.content_sha256.IsZero() ? 0 : kHasSha) |
                   (r.wall_time != 0 ? kHasWall : 0) | (whole ? kWholeSeconds : 0) |
                   (ctime_from_backup ? kCtimeFromBackup : 0) | (r.sparse ? kSparse : 0) |
                   (r.link_target.empty() ? 0 : kHasLink) | (r.xattrs.empty() ? 0 : kHasXattrs);
  PutVarint(out, flags);
  if ((flags & kTypeMask) == 0) PutVarint(out, type);
  PutVarint(out, r.size);
  PutVarint(out, r.mode);
  PutVarint(out, static_cast<uint64_t>(attrs));
  if (flags & kHasWall) PutVarint(out, Zigzag(Minus(r.wall_time, r.backup_time)));
  PutVarint(out, mtime);
  PutVarint(out, ctime_from_backup ? ctime_b : ctime_m);
  PutVarint(out, r.inode);
  PutVarint(out, r.rdev);
  if (flags & kHasLink) PutBytes(out, r.link_target);
  if (flags & kHasXattrs) {
    PutVarint(out, r.xattrs.size());
    for (const auto& x : r.xattrs) {
      PutBytes(out, x.name);
      PutBytes(out, AsString(x.value));
    }
  }
  if (flags & kHasSha) {
    out->append(reinterpret_cast<const char*>(r.content_sha256.bytes.data()), 32);
  }
  // Id is exactly its 32 bytes, so the vector is already the concatenation.
  static_assert(sizeof(Id) == 32);
  out->append(reinterpret_cast<const char*>(r.chunks.data()), r.chunks.size() * sizeof(Id));
}

Status DecodeVersion(std::string_view rec, VersionRecord* out, int64_t* attrs) {
  Reader in(rec);
  Head h;
  if (!ReadHead(in, out->backup_time, &h)) return Malformed();
  *attrs = static_cast<int64_t>(h.attrs);
  out->type = static_cast<FileType>(h.type);
  out->sparse = (h.flags & kSparse) != 0;
  out->size = h.size;
  out->mode = static_cast<uint32_t>(h.mode);
  out->wall_time = h.wall;
  uint64_t mtime = 0, ctime = 0;
  if (!in.Varint(&mtime) || !in.Varint(&ctime)) return Malformed();
  if (h.flags & kWholeSeconds) {
    auto seconds = static_cast<int64_t>(Unzigzag(mtime));
    if (seconds > INT64_MAX / kNsPerSecond || seconds < INT64_MIN / kNsPerSecond) {
      return Malformed();
    }
    out->mtime = seconds * kNsPerSecond;
  } else {
    out->mtime = Plus(out->backup_time, ~Unzigzag(mtime) + 1);  // backup_time - difference
  }
  out->ctime = (h.flags & kCtimeFromBackup) ? Plus(out->backup_time, ~Unzigzag(ctime) + 1)
                                            : Plus(out->mtime, Unzigzag(ctime));
  if (!in.Varint(&out->inode) || !in.Varint(&out->rdev)) return Malformed();
  std::string_view b;
  out->link_target.clear();
  if (h.flags & kHasLink) {
    if (!in.Bytes(&b)) return Malformed();
    out->link_target.assign(b);
  }
  out->xattrs.clear();
  if (h.flags & kHasXattrs) {
    uint64_t count = 0;
    if (!in.Varint(&count) || count > in.rest().size() / 2) return Malformed();
    out->xattrs.resize(count);
    for (auto& x : out->xattrs) {
      std::string_view value;
      if (!in.Bytes(&b) || !in.Bytes(&value)) return Malformed();
      x.name.assign(b);
      x.value.assign(value.begin(), value.end());
    }
  }
  out->content_sha256 = Id();
  if (h.flags & kHasSha) {
    if (!in.Take(32, &b)) return Malformed();
    std::memcpy(out->content_sha256.bytes.data(), b.data(), 32);
  }
  std::string_view chunks = in.rest();
  if (chunks.size() % 32 != 0) return Malformed();
  out->chunks.resize(chunks.size() / 32);
  if (!chunks.empty()) std::memcpy(out->chunks.data(), chunks.data(), chunks.size());
  return Status::OK();
}

Result<VersionPeek> PeekVersion(std::string_view rec, TimeNs backup_time) {
  Reader in(rec);
  Head h;
  if (!ReadHead(in, backup_time, &h)) return Malformed();
  VersionPeek p;
  p.wall = h.wall != 0 ? h.wall : backup_time;
  p.type = static_cast<FileType>(h.type);
  p.size = h.size;
  return p;
}

}  // namespace cairn::catalog
