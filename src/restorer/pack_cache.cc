#include "restorer/pack_cache.h"

#include <algorithm>

namespace cairn::restorer {

Result<std::shared_ptr<const Bytes>> PackCache::GetPack(uint32_t pack) {
  std::unique_lock lock(mu_);
  while (true) {
    auto it = entries_.find(pack);
    if (it == entries_.end()) break;
    if (!it->second.loading) {
      lru_.remove(pack);
      lru_.push_front(pack);
      if (!it->second.status.ok()) return it->second.status;
      return it->second.data;
    }
    loaded_.wait(lock);
  }
  entries_[pack] = Entry{};
  lru_.push_front(pack);
  lock.unlock();
  Id pack_id = repo_.index().PackId(pack);
  Span span = plan_.at(pack);  // plan_ is not modified after Plan()
  auto data = repo_.backend().Load(backend::ObjectName{backend::ObjectType::kPack, pack_id.Hex()},
                                   span.begin, span.end - span.begin);
  // The result is kept here, not read back from the entry: while this thread
  // was loading, others may have used enough packs to make this one the
  // least recently used, so the eviction below may remove its entry.
  std::shared_ptr<const Bytes> result;
  Status status;
  if (data.ok()) {
    result = std::make_shared<const Bytes>(std::move(*data));
  } else {
    status = data.error().IsNotFound() ? Status::Corruption("pack " + pack_id.Hex() + " is missing")
                                       : data.error();
  }
  lock.lock();
  Entry& e = entries_[pack];
  e.loading = false;
  e.data = result;
  e.status = status;
  // It is about to be used: most recent, never the victim below.
  lru_.remove(pack);
  lru_.push_front(pack);
  // Evict the least recently used finished packs beyond capacity.
  while (lru_.size() > capacity_) {
    uint32_t victim = lru_.back();
    auto vit = entries_.find(victim);
    if (vit != entries_.end() && vit->second.loading) break;
    lru_.pop_back();
    entries_.erase(victim);
  }
  loaded_.notify_all();
  if (!status.ok()) return status;
  return result;
}

void PackCache::Plan(const std::vector<Id>& chunks) {
  std::unordered_set<Id, IdHash> seen;
  std::unordered_map<uint32_t, Span> spans;
  for (const Id& c : chunks) {
    if (!seen.insert(c).second) continue;
    auto loc = repo_.index().Find(c);
    if (!loc) continue;
    Span& s = spans[loc->pack];
    s.begin = std::min<uint64_t>(s.begin, loc->offset);
    s.end = std::max<uint64_t>(s.end, static_cast<uint64_t>(loc->offset) + loc->length);
    s.needed += loc->length;
  }
  for (auto& [pack, s] : spans)
    if (s.end - s.begin <= max_pack_bytes_ && s.needed * 2 >= s.end - s.begin) plan_[pack] = s;
}

Result<Bytes> PackCache::LoadBlob(const Id& blob_id) {
  auto loc = repo_.index().Find(blob_id);
  if (!loc) return Status::NotFound("chunk " + blob_id.Hex() + " is not in the index");
  auto planned = plan_.find(loc->pack);
  if (planned == plan_.end() || loc->offset < planned->second.begin ||
      static_cast<uint64_t>(loc->offset) + loc->length > planned->second.end)
    return repo_.LoadBlob(blob_id);
  auto got = GetPack(loc->pack);
  // A damaged pack (truncated, unreadable): read blob by blob, so that the
  // blobs before the damage still restore.
  if (!got.ok()) return repo_.LoadBlob(blob_id);
  const auto& range = *got;
  uint64_t rel = loc->offset - planned->second.begin;
  if (rel + loc->length > range->size()) return repo_.LoadBlob(blob_id);
  return repo_.OpenBlob(blob_id, *loc, ByteView(range->data() + rel, loc->length));
}

}  // namespace cairn::restorer
