// A small cache of whole packs for restore: files are restored in the order
// their data was written, so consecutive files mostly read the same pack; the
// cache makes every pack be read once, sequentially, instead of one random
// read per chunk. Packs larger than max_pack_bytes are not cached (callers
// fall back to ranged reads).
// Thread-safety: Get may be called from many threads; a pack being loaded by
// one thread is waited for by the others, not loaded twice.
#pragma once

#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "repo/repository.h"

namespace cairn::restorer {

class PackCache {
 public:
  PackCache(repo::Repository& repo, size_t capacity_packs, uint64_t max_pack_bytes)
      : repo_(repo), capacity_(capacity_packs), max_pack_bytes_(max_pack_bytes) {}

  // Declares the chunks the restore will read, so that each pack is read
  // once as the range from its first to its last needed blob (when at least
  // half of that range is needed; otherwise blobs are read one by one).
  void Plan(const std::vector<Id>& chunks);
  // The plaintext of one blob, read through the cache.
  Result<Bytes> LoadBlob(const Id& blob_id);

 private:
  struct Span {
    uint64_t begin = UINT64_MAX, end = 0, needed = 0;
  };
  struct Entry {
    bool loading = true;
    Status status;
    std::shared_ptr<const Bytes> data;
  };
  Result<std::shared_ptr<const Bytes>> GetPack(uint32_t pack_number);

  repo::Repository& repo_;
  size_t capacity_;
  uint64_t max_pack_bytes_;
  std::mutex mu_;
  std::condition_variable loaded_;
  std::unordered_map<uint32_t, Entry> entries_;
  std::list<uint32_t> lru_;                  // most recent first
  std::unordered_map<uint32_t, Span> plan_;  // only packs worth reading as a range
};

}  // namespace cairn::restorer
