#include "repo/prune.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "crypto/crypto.h"
#include "repo/generation.h"
#include "repo/index.h"
#include "repo/pack_copier.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "repo/version_segment.h"

namespace cairn::repo {

using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;

namespace {

enum class Fate : uint8_t { kKeep, kDelete, kRepack };

struct PackState {
  uint64_t size = 0;
  int64_t mtime = 0;
  std::string tier;
  bool present = false;                 // in the listing of data/
  const IndexedPack* listed = nullptr;  // its entries, from the first index object listing it
  std::vector<bool> used;               // per entry: this pack holds the live copy
  uint64_t used_bytes = 0, blob_bytes = 0;
  Fate fate = Fate::kKeep;
};

// Azure's minimum storage durations: deleting or moving a blob earlier is
// billed as if it had stayed.
std::chrono::hours TierMinimum(const std::string& tier) {
  if (tier == "Cool") return std::chrono::hours(24 * 30);
  if (tier == "Cold") return std::chrono::hours(24 * 90);
  if (tier == "Archive") return std::chrono::hours(24 * 180);
  return std::chrono::hours(0);
}

bool Fatal(const Status& st) { return st.retryable() || st.code() == StatusCode::kUnavailable; }

}  // namespace

uint64_t PruneStats::BytesPlannedToFree() const {
  uint64_t repack_freed = unused_in_repack;
  return bytes_to_delete + orphan_bytes + repack_freed;
}

struct Pruner::State {
  Repository& repo;
  PruneOptions o;
  PruneStats stats;
  std::string generation_etag;  // at Snapshot
  std::set<Id> segments0, index0;
  std::map<Id, std::vector<IndexedPack>> listing;  // index object -> packs
  std::unordered_map<Id, std::vector<Id>, IdHash> listed_by;
  std::unordered_map<Id, PackState, IdHash> packs;
  std::vector<Id> orphans;  // unindexed, old enough
  std::vector<Id> repack;   // in order of most unused first
  // After Rewrite.
  std::unordered_set<Id, IdHash> doomed;
  std::set<Id> rewrite_index, new_index;
  // Index objects that cannot be read while every present pack is listed by a
  // readable one: they list nothing else, and are deleted with the rest.
  std::set<Id> damaged_index;
  // Blobs of doomed packs that no surviving pack holds -> their pack: what a
  // backup during phase 1 may have deduplicated against.
  std::unordered_map<Id, Id, IdHash> only_in_doomed;
  bool planned = false, rewritten = false;

  State(Repository& r, PruneOptions opt) : repo(r), o(std::move(opt)) {
    if (o.now == 0) o.now = NowNs();
  }

  Status Stopped() const {
    if (o.stop.stop_requested()) return Status::Cancelled("prune cancelled; nothing deleted");
    return Status::OK();
  }
  void Progress(const std::string& phase, uint64_t done, uint64_t total) const {
    if (o.progress) o.progress(phase, done, total);
  }
};

Pruner::Pruner(Repository& repo, PruneOptions options)
    : s_(std::make_unique<State>(repo, std::move(options))) {}
Pruner::~Pruner() = default;
const PruneStats& Pruner::stats() const { return s_->stats; }

Status Pruner::Snapshot(RepoLock& lock) {
  State& s = *s_;
  s.generation_etag = lock.generation_etag();
  // Segments first: the live set the caller computes afterwards covers at
  // least these, and Finish reads every segment not among them.
  CAIRN_RETURN_IF_ERROR(s.repo.ListSegments([&](const Id& id) {
    s.segments0.insert(id);
    return Status::OK();
  }));
  s.stats.segments = s.segments0.size();
  CAIRN_RETURN_IF_ERROR(s.repo.backend().List(ObjectType::kIndex, [&](const ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (id.ok()) s.index0.insert(*id);
    return Status::OK();
  }));
  s.stats.index_objects = s.index0.size();
  CAIRN_RETURN_IF_ERROR(s.repo.backend().List(ObjectType::kPack, [&](const ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (!id.ok()) return Status::OK();
    PackState& p = s.packs[*id];
    p.present = true;
    p.size = info.size;
    p.mtime = info.mtime;
    p.tier = info.access_tier;
    return Status::OK();
  }));
  uint64_t n = 0;
  std::map<Id, std::string> damaged;  // index objects that cannot be read -> why
  for (const Id& i : s.index0) {
    CAIRN_RETURN_IF_ERROR(s.Stopped());
    auto body = s.repo.LoadSealed(ObjectType::kIndex, "index", i);
    Result<std::vector<IndexedPack>> listed =
        body.ok() ? DecodeIndexBody(*body) : Result<std::vector<IndexedPack>>(body.error());
    if (!listed.ok()) {
      if (Fatal(listed.error())) return listed.error();
      damaged[i] = listed.error().message();
      continue;
    }
    s.listing[i] = std::move(*listed);
    s.Progress("reading the index", ++n, s.index0.size());
  }
  for (auto& [index_id, listed] : s.listing)
    for (const IndexedPack& p : listed) {
      s.listed_by[p.pack_id].push_back(index_id);
      PackState& st = s.packs[p.pack_id];
      if (!st.listed) st.listed = &p;
    }
  if (!damaged.empty()) {
    // A damaged index object's packs look like orphans: while any present
    // pack is unlisted, it may be one of them, and nothing is deleted. Once a
    // backup has indexed them again (it reads their headers), the damaged
    // object lists nothing that is not listed elsewhere.
    size_t unlisted = 0;
    for (const auto& [id, p] : s.packs)
      if (p.present && !p.listed) ++unlisted;
    const auto& [first, why] = *damaged.begin();
    if (unlisted > 0)
      return Status::PreconditionFailed(
          "index object " + first.Hex() + " cannot be read (" + why + ")" +
          (damaged.size() > 1 ? " nor can " + std::to_string(damaged.size() - 1) + " more" : "") +
          ", and " + std::to_string(unlisted) +
          " pack(s) are listed by no readable index object, so prune cannot tell which packs "
          "are in use and deletes nothing. Run `cairn backup` first: it indexes those packs "
          "again from their own headers; then prune removes the damaged object");
    for (const auto& [id, why_not] : damaged) s.damaged_index.insert(id);
  }
  return Status::OK();
}

Status Pruner::Plan(std::unordered_set<Id, IdHash> live) {
  State& s = *s_;
  PruneStats& st = s.stats;
  const TimeNs now = s.o.now;
  auto tier_blocks = [&](const PackState& p) {
    if (s.o.ignore_tier_minimum || p.mtime == 0) return false;
    auto min = TierMinimum(p.tier);
    return min.count() > 0 &&
           now - p.mtime < std::chrono::duration_cast<std::chrono::nanoseconds>(min).count();
  };
  // Deterministic claim order: a blob stored twice (two devices wrote it at
  // once, or an interrupted prune) is live in the first pack by id.
  std::vector<std::pair<Id, PackState*>> order;
  order.reserve(s.packs.size());
  for (auto& [id, p] : s.packs) order.emplace_back(id, &p);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  std::vector<std::pair<double, Id>> repack_candidates;
  for (auto& [id, p] : order) {
    CAIRN_RETURN_IF_ERROR(s.Stopped());
    if (!p->listed) {
      // Unindexed: an interrupted backup's (its chunks are referenced by no
      // segment, §9) or a running backup's, not yet indexed.
      bool old =
          p->mtime != 0 &&
          now - p->mtime >=
              std::chrono::duration_cast<std::chrono::nanoseconds>(s.o.orphan_min_age).count();
      if (old && !tier_blocks(*p)) {
        s.orphans.push_back(id);
        ++st.orphan_packs;
        st.orphan_bytes += p->size;
      } else {
        ++st.young_orphans;
      }
      continue;
    }
    if (!p->present) {
      st.warnings.push_back("pack " + id.Hex() +
                            " is listed by the index but missing from storage (run `cairn check`)");
      // Its blobs stay claimed-by-nothing here; a live one counts as missing.
      continue;
    }
    const auto& entries = p->listed->entries;
    p->used.assign(entries.size(), false);
    for (size_t i = 0; i < entries.size(); ++i) {
      const PackEntry& e = entries[i];
      ++st.blobs;
      p->blob_bytes += e.length;
      if (live.erase(e.id)) {
        p->used[i] = true;
        p->used_bytes += e.length;
        ++st.blobs_live;
      }
    }
    ++st.packs;
    st.pack_bytes += p->size;
    st.bytes_live += p->used_bytes;
    const uint64_t unused = p->size > p->used_bytes ? p->size - p->used_bytes : 0;
    st.bytes_unused += unused;
    if (p->used_bytes == 0) {
      if (tier_blocks(*p)) {
        ++st.packs_waiting_for_tier;
        st.bytes_waiting_for_tier += p->size;
        continue;
      }
      p->fate = Fate::kDelete;
      ++st.packs_to_delete;
      st.bytes_to_delete += p->size;
      continue;
    }
    // Only unused *blobs* count: a small pack's header is a large share of
    // it, and repacking it would only make another such pack, every run.
    const uint64_t unused_blobs = p->blob_bytes > p->used_bytes ? p->blob_bytes - p->used_bytes : 0;
    const double share =
        p->size ? static_cast<double>(unused_blobs) / static_cast<double>(p->size) : 0;
    if (unused_blobs > 0 && share > s.o.max_unused) {
      if (tier_blocks(*p)) {
        ++st.packs_waiting_for_tier;
        st.bytes_waiting_for_tier += unused_blobs;
        continue;
      }
      repack_candidates.emplace_back(share, id);
    } else if (unused_blobs > 0) {
      ++st.packs_partly_unused_kept;
      st.unused_bytes_kept += unused_blobs;
    }
  }
  // Referenced chunks that no indexed pack holds: damage `check` reports;
  // prune changes nothing about them.
  st.referenced_missing = live.size();
  if (!live.empty())
    st.warnings.push_back(std::to_string(live.size()) +
                          " chunk(s) that versions reference are in no pack (run `cairn check`)");
  std::sort(repack_candidates.begin(), repack_candidates.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  uint64_t budget = 0;
  for (const auto& [share, id] : repack_candidates) {
    PackState& p = s.packs[id];
    const uint64_t unused = p.size - p.used_bytes;  // freed: the unused blobs and the old header
    if (s.o.max_repack_bytes && budget + p.size > s.o.max_repack_bytes) {
      ++st.packs_partly_unused_kept;
      st.unused_bytes_kept += unused;
      continue;
    }
    budget += p.size;
    p.fate = Fate::kRepack;
    s.repack.push_back(id);
    ++st.packs_to_repack;
    st.bytes_to_repack += p.size;
    st.unused_in_repack += unused;
  }
  s.planned = true;
  return Status::OK();
}

Status Pruner::Rewrite() {
  State& s = *s_;
  PruneStats& st = s.stats;
  if (!s.planned) return Status::InvalidArgument("Pruner::Rewrite before Plan");
  // Before anything is written: can these credentials delete at all? (A
  // name that does not exist: storage checks the permission first.)
  Status probe = s.repo.backend().Remove(ObjectName{ObjectType::kPack, crypto::RandomId().Hex()});
  if (probe.code() == StatusCode::kPermissionDenied)
    return Status::PermissionDenied(
        "prune must delete, and the credentials for this repository cannot (" + probe.message() +
        "); nothing was written. Run prune with a connection string or SAS that may delete "
        "(SAS permission d); backups and `cairn forget` work without it");
  if (!probe.ok() && !probe.IsNotFound()) return probe;
  PackCopier copier(s.repo);
  uint64_t n = 0;
  for (const Id& id : s.repack) {
    CAIRN_RETURN_IF_ERROR(s.Stopped());
    PackState& p = s.packs[id];
    s.Progress("repacking", ++n, s.repack.size());
    // Only the live blobs are authenticated: the others are dropped.
    std::unordered_set<Id, IdHash> wanted;
    for (size_t i = 0; i < p.listed->entries.size(); ++i)
      if (p.used[i]) wanted.insert(p.listed->entries[i].id);
    auto pack =
        LoadVerifiedPack(s.repo, id, [&](const PackEntry& e) { return wanted.count(e.id) > 0; });
    if (!pack.ok()) {
      if (Fatal(pack.error())) return pack.error();
      st.warnings.push_back(pack.error().message() + "; not repacked (run `cairn check`)");
      p.fate = Fate::kKeep;
      continue;
    }
    st.pack_bytes_read += pack->data.size();
    // The pack's own header lists what it holds; the index said the same
    // when it was written. Copy the live blobs by the index's entries, found
    // in the verified pack by id.
    std::unordered_map<Id, const PackEntry*, IdHash> in_pack;
    for (const PackEntry& e : pack->entries) in_pack.emplace(e.id, &e);
    const auto& entries = p.listed->entries;
    bool complete = true;
    for (size_t i = 0; i < entries.size() && complete; ++i) {
      if (!p.used[i]) continue;
      auto it = in_pack.find(entries[i].id);
      if (it == in_pack.end()) {
        complete = false;
        break;
      }
      const PackEntry& e = *it->second;
      CAIRN_RETURN_IF_ERROR(copier.Add(e, ByteView(pack->data.data() + e.offset, e.length)));
    }
    if (!complete) {
      st.warnings.push_back("pack " + id.Hex() +
                            " does not hold every blob the index lists for it; not repacked "
                            "(run `cairn check`)");
      p.fate = Fate::kKeep;  // what was copied is a harmless duplicate
      continue;
    }
    s.doomed.insert(id);
  }
  CAIRN_RETURN_IF_ERROR(copier.Finish());
  st.packs_written = copier.new_packs().size();
  st.pack_bytes_written = copier.bytes_written();
  for (auto& [id, p] : s.packs)
    if (p.fate == Fate::kDelete) s.doomed.insert(id);

  // Index objects that list a doomed pack are replaced by ones listing the
  // rest of what they listed, plus the new packs.
  for (const Id& d : s.doomed)
    for (const Id& i : s.listed_by[d]) s.rewrite_index.insert(i);
  std::vector<IndexedPack> keep;
  std::unordered_set<Id, IdHash> kept;
  for (const Id& i : s.rewrite_index)
    for (const IndexedPack& p : s.listing[i])
      if (!s.doomed.count(p.pack_id) && kept.insert(p.pack_id).second) keep.push_back(p);
  for (const IndexedPack& p : copier.new_packs()) keep.push_back(p);
  if (!keep.empty()) {
    CAIRN_RETURN_IF_ERROR(s.Stopped());
    CAIRN_ASSIGN_OR_RETURN(std::vector<Id> written, SaveIndexObjects(s.repo, std::move(keep)));
    s.new_index.insert(written.begin(), written.end());
    st.index_written = written.size();
  }
  st.index_rewritten = s.rewrite_index.size();

  // What a backup during phase 1 may reference that only a doomed pack has.
  for (const Id& d : s.doomed)
    for (const PackEntry& e : s.packs[d].listed->entries) s.only_in_doomed.emplace(e.id, d);
  if (!s.only_in_doomed.empty()) {
    for (const auto& [id, p] : s.packs) {
      if (!p.listed || !p.present || s.doomed.count(id)) continue;
      for (const PackEntry& e : p.listed->entries) s.only_in_doomed.erase(e.id);
    }
    for (const IndexedPack& p : copier.new_packs())
      for (const PackEntry& e : p.entries) s.only_in_doomed.erase(e.id);
  }
  s.rewritten = true;
  return Status::OK();
}

Status Pruner::Finish(RepoLock& exclusive) {
  State& s = *s_;
  PruneStats& st = s.stats;
  if (!s.rewritten) return Status::InvalidArgument("Pruner::Finish before Rewrite");
  if (exclusive.generation_etag() != s.generation_etag)
    return Status::PreconditionFailed(
        "another prune or compaction changed the repository while this prune was preparing, so "
        "it deletes nothing (what it wrote is cleaned up by the next prune); run `cairn prune` "
        "again");
  auto held = [&]() -> Status {
    CAIRN_RETURN_IF_ERROR(s.Stopped());
    Status h = exclusive.health();
    if (!h.ok()) return h.WithContext("prune stopped");
    return Status::OK();
  };

  // Backups that ran during phase 1: their segments and index objects.
  std::vector<Id> new_segments;
  CAIRN_RETURN_IF_ERROR(s.repo.ListSegments([&](const Id& id) {
    if (!s.segments0.count(id)) new_segments.push_back(id);
    return Status::OK();
  }));
  std::unordered_set<Id, IdHash> rescued;
  for (const Id& id : new_segments) {
    CAIRN_RETURN_IF_ERROR(held());
    auto seg = s.repo.LoadSegment(id);
    if (!seg.ok())
      return seg.error().WithContext("prune cannot read segment " + id.Hex() +
                                     ", written while it prepared; nothing deleted");
    if (s.only_in_doomed.empty()) continue;
    for (const VersionRecord& r : seg->records)
      for (const Id& c : r.chunks)
        if (auto it = s.only_in_doomed.find(c); it != s.only_in_doomed.end())
          rescued.insert(it->second);
  }
  std::unordered_set<Id, IdHash> listed_late;
  std::vector<Id> late_index;
  CAIRN_RETURN_IF_ERROR(s.repo.backend().List(ObjectType::kIndex, [&](const ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (id.ok() && !s.index0.count(*id) && !s.new_index.count(*id)) late_index.push_back(*id);
    return Status::OK();
  }));
  for (const Id& i : late_index) {
    CAIRN_RETURN_IF_ERROR(held());
    auto body = s.repo.LoadSealed(ObjectType::kIndex, "index", i);
    Result<std::vector<IndexedPack>> listed =
        body.ok() ? DecodeIndexBody(*body) : Result<std::vector<IndexedPack>>(body.error());
    if (!listed.ok())
      return listed.error().WithContext("prune cannot read index object " + i.Hex() +
                                        ", written while it prepared; nothing deleted");
    for (const IndexedPack& p : *listed) {
      listed_late.insert(p.pack_id);
      if (s.doomed.count(p.pack_id)) rescued.insert(p.pack_id);
    }
  }
  // Rescued packs stay, listed by an index object of their own (the
  // rewritten ones no longer list them).
  if (!rescued.empty()) {
    std::vector<IndexedPack> again;
    for (const Id& id : rescued) {
      s.doomed.erase(id);
      again.push_back(*s.packs[id].listed);
    }
    CAIRN_ASSIGN_OR_RETURN(std::vector<Id> written, SaveIndexObjects(s.repo, std::move(again)));
    st.index_written += written.size();
    st.packs_rescued = rescued.size();
  }
  std::vector<Id> orphans;
  for (const Id& id : s.orphans)
    if (!listed_late.count(id)) orphans.push_back(id);

  if (s.rewrite_index.empty() && s.doomed.empty() && orphans.empty() && s.damaged_index.empty())
    return Status::OK();
  CAIRN_RETURN_IF_ERROR(held());
  CAIRN_ASSIGN_OR_RETURN(GenerationState gen, AdvanceGeneration(s.repo, s.o.device, "prune"));
  st.generation = gen.generation.number;
  // Index objects first: a crash after this leaves doomed packs unindexed
  // (harmless orphans the next prune deletes), never an index entry that
  // names a deleted pack.
  const uint64_t total =
      s.rewrite_index.size() + s.damaged_index.size() + s.doomed.size() + orphans.size();
  uint64_t n = 0;
  auto remove = [&](ObjectType type, const Id& id) -> Status {
    CAIRN_RETURN_IF_ERROR(held());
    ObjectName name{type, id.Hex()};
    Status r = s.repo.backend().Remove(name);
    if (!r.ok() && !r.IsNotFound()) return r.WithContext("deleting " + name.Path());
    s.Progress("deleting", ++n, total);
    return Status::OK();
  };
  Status done = [&]() -> Status {
    for (const Id& i : s.rewrite_index) {
      CAIRN_RETURN_IF_ERROR(remove(ObjectType::kIndex, i));
      ++st.index_deleted;
    }
    for (const Id& i : s.damaged_index) {
      CAIRN_RETURN_IF_ERROR(remove(ObjectType::kIndex, i));
      ++st.index_deleted;
    }
    for (const Id& p : s.doomed) {
      CAIRN_RETURN_IF_ERROR(remove(ObjectType::kPack, p));
      ++st.packs_deleted;
      st.bytes_freed += s.packs[p].size;
    }
    for (const Id& p : orphans) {
      CAIRN_RETURN_IF_ERROR(remove(ObjectType::kPack, p));
      ++st.packs_deleted;
      st.bytes_freed += s.packs[p].size;
    }
    return Status::OK();
  }();
  s.repo.SyncGeneration(gen.etag);  // the index in memory may name deleted packs
  st.bytes_freed =
      st.bytes_freed > st.pack_bytes_written ? st.bytes_freed - st.pack_bytes_written : 0;
  return done;
}

}  // namespace cairn::repo
