#include "repo/index.h"

#include <cstring>

namespace cairn::repo {

void Index::AddPack(const Id& pack_id, const std::vector<PackEntry>& entries) {
  WriterMutexLock lock(mu_);
  auto [it, inserted] = pack_numbers_.try_emplace(pack_id, static_cast<uint32_t>(packs_.size()));
  if (inserted) packs_.push_back(pack_id);
  uint32_t number = it->second;
  for (const PackEntry& e : entries)
    blobs_.try_emplace(e.id, BlobLocation{number, e.offset, e.length, e.raw_length, e.type});
}

void Index::Clear() {
  WriterMutexLock lock(mu_);
  blobs_.clear();
  pack_numbers_.clear();
  packs_.clear();
}

std::optional<BlobLocation> Index::Find(const Id& blob_id) const {
  ReaderMutexLock lock(mu_);
  auto it = blobs_.find(blob_id);
  if (it == blobs_.end()) return std::nullopt;
  return it->second;
}

bool Index::HasPack(const Id& pack_id) const {
  ReaderMutexLock lock(mu_);
  return pack_numbers_.count(pack_id) > 0;
}

Id Index::PackId(uint32_t pack) const {
  ReaderMutexLock lock(mu_);
  return packs_.at(pack);
}

size_t Index::BlobCount() const {
  ReaderMutexLock lock(mu_);
  return blobs_.size();
}

size_t Index::PackCount() const {
  ReaderMutexLock lock(mu_);
  return packs_.size();
}

std::vector<Id> Index::Packs() const {
  ReaderMutexLock lock(mu_);
  return packs_;
}

Bytes EncodeIndexBody(const std::vector<IndexedPack>& packs) {
  Bytes out{'C', 'I', 'X', '1'};  // (insert of a braced list warns falsely in GCC 12 -O3)
  PutU32(out, static_cast<uint32_t>(packs.size()));
  for (const IndexedPack& p : packs) {
    out.insert(out.end(), p.pack_id.bytes.begin(), p.pack_id.bytes.end());
    PutU32(out, static_cast<uint32_t>(p.entries.size()));
    for (const PackEntry& e : p.entries) {
      out.push_back(static_cast<uint8_t>(e.type));
      out.insert(out.end(), e.id.bytes.begin(), e.id.bytes.end());
      PutU32(out, e.offset);
      PutU32(out, e.length);
      PutU32(out, e.raw_length);
    }
  }
  return out;
}

Result<std::vector<IndexedPack>> DecodeIndexBody(ByteView b) {
  auto bad = [] { return Status::Corruption("index object is malformed"); };
  if (b.size() < 8 || std::memcmp(b.data(), "CIX1", 4) != 0) return bad();
  size_t pos = 4;
  uint32_t npacks = GetU32(b.data() + pos);
  pos += 4;
  std::vector<IndexedPack> out;
  // At most as many packs as the body can describe (36 bytes each): the
  // count is read from the object, not trusted.
  out.reserve(std::min<uint64_t>(npacks, (b.size() - 8) / 36));
  for (uint32_t i = 0; i < npacks; ++i) {
    if (pos + 36 > b.size()) return bad();
    IndexedPack p;
    std::memcpy(p.pack_id.bytes.data(), b.data() + pos, 32);
    uint32_t n = GetU32(b.data() + pos + 32);
    pos += 36;
    if (pos + static_cast<uint64_t>(n) * 45 > b.size()) return bad();
    p.entries.resize(n);
    for (uint32_t k = 0; k < n; ++k, pos += 45) {
      PackEntry& e = p.entries[k];
      if (b[pos] > 1) return bad();
      e.type = static_cast<BlobType>(b[pos]);
      std::memcpy(e.id.bytes.data(), b.data() + pos + 1, 32);
      e.offset = GetU32(b.data() + pos + 33);
      e.length = GetU32(b.data() + pos + 37);
      e.raw_length = GetU32(b.data() + pos + 41);
    }
    out.push_back(std::move(p));
  }
  if (pos != b.size()) return bad();
  return out;
}

}  // namespace cairn::repo
