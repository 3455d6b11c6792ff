// The chunk index: chunk ID -> (pack, offset, length). In memory it is a
// hash map of ~72 bytes per chunk (32-byte key, 16-byte location, hash-node
// overhead); a 1 TiB repository of 1 MiB chunks holds ~1M entries (~72 MiB).
// In the repository it is a set of index objects, each listing some packs
// and their blobs:
//   index body = "CIX1" | pack_count (u32) | pack_count * (pack_id (32) |
//                blob_count (u32) | blob_count * (type (u8) | id (32) |
//                offset (u32) | length (u32) | raw_length (u32)))
// Thread-safety: Index is safe for concurrent use (reader/writer lock).
#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/mutex.h"
#include "repo/pack.h"

namespace cairn::repo {

struct BlobLocation {
  uint32_t pack = 0;  // index into Index::PackId
  uint32_t offset = 0, length = 0, raw_length = 0;
  BlobType type = BlobType::kData;
};

struct IndexedPack {
  Id pack_id;
  std::vector<PackEntry> entries;
};

class Index {
 public:
  // Records every entry of a pack. Duplicated blob IDs keep the first location.
  void AddPack(const Id& pack_id, const std::vector<PackEntry>& entries);
  std::optional<BlobLocation> Find(const Id& blob_id) const;
  // Forgets everything (the repository's generation moved: reloaded whole).
  // REQUIRES: no BlobLocation from before is used afterwards.
  void Clear();
  bool Contains(const Id& blob_id) const { return Find(blob_id).has_value(); }
  bool HasPack(const Id& pack_id) const;
  Id PackId(uint32_t pack) const;
  size_t BlobCount() const;
  size_t PackCount() const;
  // Calls fn(pack_id, entries-as-locations) for every pack; for check.
  std::vector<Id> Packs() const;

 private:
  mutable SharedMutex mu_;
  std::unordered_map<Id, BlobLocation, IdHash> blobs_ GUARDED_BY(mu_);
  std::unordered_map<Id, uint32_t, IdHash> pack_numbers_ GUARDED_BY(mu_);
  std::vector<Id> packs_ GUARDED_BY(mu_);
};

Bytes EncodeIndexBody(const std::vector<IndexedPack>& packs);
Result<std::vector<IndexedPack>> DecodeIndexBody(ByteView body);

}  // namespace cairn::repo
