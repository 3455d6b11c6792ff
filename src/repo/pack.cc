#include "repo/pack.h"

#include <cstring>

#include "repo/envelope.h"

namespace cairn::repo {

namespace {
constexpr size_t kEntrySize = 1 + 32 + 4 + 4;

Result<std::vector<PackEntry>> DecodeHeader(ByteView h, uint64_t blobs_end) {
  if (h.size() < 8 || std::memcmp(h.data(), "CPK1", 4) != 0)
    return Status::Corruption("pack header has a bad magic");
  uint32_t count = GetU32(h.data() + 4);
  if (h.size() != 8 + static_cast<uint64_t>(count) * kEntrySize)
    return Status::Corruption("pack header has a bad length");
  std::vector<PackEntry> out(count);
  uint64_t offset = 0;
  const uint8_t* p = h.data() + 8;
  for (uint32_t i = 0; i < count; ++i, p += kEntrySize) {
    PackEntry& e = out[i];
    if (p[0] > 1) return Status::Corruption("pack header has an unknown blob type");
    e.type = static_cast<BlobType>(p[0]);
    std::memcpy(e.id.bytes.data(), p + 1, 32);
    e.length = GetU32(p + 33);
    e.raw_length = GetU32(p + 37);
    e.offset = static_cast<uint32_t>(offset);
    offset += e.length;
  }
  if (offset != blobs_end) return Status::Corruption("pack header does not match the pack size");
  return out;
}
}  // namespace

std::string_view BlobKind(BlobType t) { return t == BlobType::kData ? "data" : "meta"; }

void FinishPack(const crypto::Key& meta_key, const Id& pack_id,
                const std::vector<PackEntry>& entries, Bytes& pack) {
  Bytes h;
  h.reserve(8 + entries.size() * kEntrySize);
  h.insert(h.end(), {'C', 'P', 'K', '1'});
  PutU32(h, static_cast<uint32_t>(entries.size()));
  for (const PackEntry& e : entries) {
    h.push_back(static_cast<uint8_t>(e.type));
    h.insert(h.end(), e.id.bytes.begin(), e.id.bytes.end());
    PutU32(h, e.length);
    PutU32(h, e.raw_length);
  }
  size_t before = pack.size();
  SealEnvelope(meta_key, "packheader", pack_id.Hex(), compress::Algorithm::kZstd, 3, h, pack);
  PutU32(pack, static_cast<uint32_t>(pack.size() - before));
}

Result<std::vector<PackEntry>> ParsePackTrailer(const crypto::Key& meta_key, const Id& pack_id,
                                                ByteView pack) {
  if (pack.size() < 4) return Status::Corruption("pack " + pack_id.Hex() + " is truncated");
  uint32_t hlen = GetU32(pack.data() + pack.size() - 4);
  if (hlen + 4ull > pack.size())
    return Status::Corruption("pack " + pack_id.Hex() + " is truncated");
  ByteView sealed(pack.data() + pack.size() - 4 - hlen, hlen);
  auto h = OpenEnvelope(meta_key, "packheader", pack_id.Hex(), sealed);
  if (!h.ok()) return h.error().WithContext("pack " + pack_id.Hex());
  auto entries = DecodeHeader(*h, pack.size() - 4 - hlen);
  if (!entries.ok()) return entries.error().WithContext("pack " + pack_id.Hex());
  return entries;
}

Result<std::vector<PackEntry>> ReadPackHeader(backend::Backend& be, const crypto::Key& meta_key,
                                              const Id& pack_id, uint64_t pack_size) {
  backend::ObjectName name{backend::ObjectType::kPack, pack_id.Hex()};
  if (pack_size < 4) return Status::Corruption("pack " + pack_id.Hex() + " is truncated");
  uint64_t tail = std::min<uint64_t>(pack_size, 64 * 1024);
  CAIRN_ASSIGN_OR_RETURN(Bytes buf, be.Load(name, pack_size - tail, tail));
  // The storage answers what was asked or fails; anything shorter is a pack
  // smaller than its size said (or a broken answer): never read before it.
  if (buf.size() != tail) return Status::Corruption("pack " + pack_id.Hex() + " is truncated");
  uint32_t hlen = GetU32(buf.data() + buf.size() - 4);
  if (hlen + 4ull > pack_size) return Status::Corruption("pack " + pack_id.Hex() + " is truncated");
  if (hlen + 4ull > tail) {
    CAIRN_ASSIGN_OR_RETURN(buf, be.Load(name, pack_size - 4 - hlen, hlen + 4ull));
    if (buf.size() != hlen + 4ull)
      return Status::Corruption("pack " + pack_id.Hex() + " is truncated");
  }
  ByteView sealed(buf.data() + buf.size() - 4 - hlen, hlen);
  auto h = OpenEnvelope(meta_key, "packheader", pack_id.Hex(), sealed);
  if (!h.ok()) return h.error().WithContext("pack " + pack_id.Hex());
  auto entries = DecodeHeader(*h, pack_size - 4 - hlen);
  if (!entries.ok()) return entries.error().WithContext("pack " + pack_id.Hex());
  return entries;
}

}  // namespace cairn::repo
