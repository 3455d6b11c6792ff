#include "repo/prune.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "backend/local/local_backend.h"
#include "repo/generation.h"
#include "repo/pack_copier.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "testing/temp_dir.h"

namespace cairn::repo {
namespace {

using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;

// Lists packs as if they were in an Azure access tier.
class TierBackend : public backend::ForwardingBackend {
 public:
  TierBackend(std::shared_ptr<backend::Backend> inner, std::string tier)
      : ForwardingBackend(std::move(inner)), tier_(std::move(tier)) {}
  Status List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) override {
    return ForwardingBackend::List(type, [&](const ObjectInfo& info) {
      ObjectInfo i = info;
      if (type == ObjectType::kPack) i.access_tier = tier_;
      return fn(i);
    });
  }

 private:
  std::string tier_;
};

Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x = x * 1103515245u + 12345u;
    c = static_cast<uint8_t>(x >> 16);
  }
  return b;
}

// Flips every bit of the byte at `offset` of `file` (always a change).
void FlipByte(const std::string& file, std::streamoff offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(~c));
}

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto be = backend::LocalBackend::Open(dir_.path());
    ASSERT_TRUE(be.ok());
    local_ = *be;
    InitOptions o;
    o.kdf = crypto::CheapKdfParams();
    o.pack_size = 64 * 1024;
    auto r = Repository::Init(local_, "pw", o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(*r);
    // 24 incompressible blobs of 20 KiB: 4 to a pack, 6 packs.
    for (uint32_t i = 0; i < 24; ++i) {
      Bytes b = Pattern(20000, i);
      Id id = crypto::KeyedId(repo_->keys().id_key, b);
      ASSERT_TRUE(repo_->StoreBlob(BlobType::kData, id, b).ok());
      blobs_.emplace_back(id, b);
    }
    ASSERT_TRUE(repo_->Flush().ok());
    for (const auto& [id, data] : blobs_) {
      auto loc = repo_->index().Find(id);
      ASSERT_TRUE(loc);
      pack_of_[id] = repo_->index().PackId(loc->pack);
      packs_[repo_->index().PackId(loc->pack)].push_back(id);
    }
    ASSERT_GE(packs_.size(), 4u);
  }

  std::unique_ptr<Repository> Reopen(const std::shared_ptr<backend::Backend>& be = nullptr) {
    auto r = Repository::Open(be ? be : local_, "pw");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE((*r)->LoadIndex(false).ok());
    return std::move(*r);
  }

  std::unique_ptr<RepoLock> Lock(Repository& repo, bool exclusive) {
    LockOptions o;
    o.exclusive = exclusive;
    o.device = "test";
    o.operation = "prune";
    o.wait = std::chrono::seconds(5);
    auto l = RepoLock::Acquire(repo, o);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return std::move(*l);
  }

  std::set<Id> PacksInStorage() {
    std::set<Id> out;
    EXPECT_TRUE(local_
                    ->List(ObjectType::kPack,
                           [&](const ObjectInfo& i) {
                             out.insert(*Id::FromHex(i.name.name));
                             return Status::OK();
                           })
                    .ok());
    return out;
  }

  // The blobs of packs_ in order: pack n's ids.
  std::vector<Id> Pack(size_t n) {
    auto it = packs_.begin();
    std::advance(it, n);
    return it->second;
  }
  Id PackIdOf(size_t n) {
    auto it = packs_.begin();
    std::advance(it, n);
    return it->first;
  }

  // Every blob of `live` loads from a freshly opened repository with its
  // bytes; every blob of `dead` is gone from its index.
  void ExpectContents(const std::set<Id>& live, const std::set<Id>& dead) {
    auto fresh = Reopen();
    for (const auto& [id, data] : blobs_) {
      if (live.count(id)) {
        auto got = fresh->LoadBlob(id);
        ASSERT_TRUE(got.ok()) << id.Hex() << ": " << got.status().ToString();
        EXPECT_EQ(*got, data);
      } else if (dead.count(id)) {
        EXPECT_FALSE(fresh->index().Contains(id)) << id.Hex();
      }
    }
  }

  Result<PruneStats> RunPrune(std::unordered_set<Id, IdHash> live, PruneOptions o = {}) {
    o.device = "test";
    Pruner p(*repo_, o);
    {
      auto shared = Lock(*repo_, false);
      CAIRN_RETURN_IF_ERROR(p.Snapshot(*shared));
      CAIRN_RETURN_IF_ERROR(p.Plan(std::move(live)));
      CAIRN_RETURN_IF_ERROR(p.Rewrite());
    }
    auto exclusive = Lock(*repo_, true);
    CAIRN_RETURN_IF_ERROR(p.Finish(*exclusive));
    return p.stats();
  }

  testing::TempDir dir_;
  std::shared_ptr<backend::Backend> local_;
  std::unique_ptr<Repository> repo_;
  std::vector<std::pair<Id, Bytes>> blobs_;
  std::map<Id, Id> pack_of_;
  std::map<Id, std::vector<Id>> packs_;
};

TEST_F(PruneTest, DeletesDeadPacksRepacksMostlyDeadOnesAndKeepsTheRest) {
  std::vector<Id> whole = Pack(0), partly = Pack(1), dead = Pack(2);
  std::unordered_set<Id, IdHash> live(whole.begin(), whole.end());
  live.insert(partly[0]);
  // Everything in the other packs stays live too.
  for (size_t n = 3; n < packs_.size(); ++n)
    for (const Id& id : Pack(n)) live.insert(id);
  std::set<Id> live_set(live.begin(), live.end());
  std::set<Id> dead_set(dead.begin(), dead.end());
  for (size_t i = 1; i < partly.size(); ++i) dead_set.insert(partly[i]);

  auto r = RunPrune(live);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_to_delete, 1u);
  EXPECT_EQ(r->packs_to_repack, 1u);
  EXPECT_EQ(r->packs_written, 1u);
  EXPECT_EQ(r->packs_deleted, 2u);
  EXPECT_EQ(r->blobs_live, live.size());
  EXPECT_GT(r->bytes_freed, 3u * 20000);
  EXPECT_GT(r->generation, 0u);

  std::set<Id> stored = PacksInStorage();
  EXPECT_TRUE(stored.count(PackIdOf(0)));
  EXPECT_FALSE(stored.count(PackIdOf(1)));
  EXPECT_FALSE(stored.count(PackIdOf(2)));
  ExpectContents(live_set, dead_set);

  // A second run finds nothing to do.
  auto again = RunPrune(live);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->packs_deleted, 0u);
  EXPECT_EQ(again->packs_written, 0u);
  ExpectContents(live_set, dead_set);
}

TEST_F(PruneTest, PacksBelowMaxUnusedStay) {
  std::unordered_set<Id, IdHash> live;
  for (const auto& [id, data] : blobs_) live.insert(id);
  live.erase(Pack(0)[0]);  // a quarter of pack 0 unused
  PruneOptions o;
  o.max_unused = 0.5;
  auto r = RunPrune(live, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_to_repack, 0u);
  EXPECT_EQ(r->packs_deleted, 0u);
  EXPECT_EQ(r->packs_partly_unused_kept, 1u);
  EXPECT_TRUE(PacksInStorage().count(PackIdOf(0)));
  // The default (10%) repacks it.
  auto d = RunPrune(live);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->packs_to_repack, 1u);
  EXPECT_FALSE(PacksInStorage().count(PackIdOf(0)));
}

TEST_F(PruneTest, ASmallPackInUseIsNeverRepacked) {
  // One tiny blob in a pack of its own: the pack header is most of it.
  Bytes tiny = Pattern(200, 777);
  Id id = crypto::KeyedId(repo_->keys().id_key, tiny);
  ASSERT_TRUE(repo_->StoreBlob(BlobType::kData, id, tiny).ok());
  ASSERT_TRUE(repo_->Flush().ok());
  std::unordered_set<Id, IdHash> live;
  for (const auto& [bid, data] : blobs_) live.insert(bid);
  live.insert(id);
  for (int run = 0; run < 2; ++run) {
    auto r = RunPrune(live);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->packs_to_repack, 0u) << "run " << run;
    EXPECT_EQ(r->packs_written, 0u) << "run " << run;
    EXPECT_EQ(r->packs_deleted, 0u) << "run " << run;
  }
}

TEST_F(PruneTest, MaxRepackBytesCapsWhatOneRunReads) {
  std::unordered_set<Id, IdHash> live;
  for (const auto& [id, data] : blobs_) live.insert(id);
  live.erase(Pack(0)[0]);
  live.erase(Pack(1)[0]);
  PruneOptions o;
  o.max_repack_bytes = 100 * 1024;  // one pack of ~80 KiB
  auto r = RunPrune(live, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_to_repack, 1u);
  EXPECT_EQ(r->packs_partly_unused_kept, 1u);
  EXPECT_LE(r->pack_bytes_read, o.max_repack_bytes);
}

// The heart of the design: a backup of another device that deduplicated
// against a chunk of a doomed pack while prune prepared keeps that pack.
TEST_F(PruneTest, ABackupDuringThePreparationKeepsThePacksItUses) {
  std::unordered_set<Id, IdHash> live;
  for (size_t n = 3; n < packs_.size(); ++n)
    for (const Id& id : Pack(n)) live.insert(id);
  live.insert(Pack(1)[0]);
  const Id reused_dead = Pack(2)[1];    // only in a pack prune deletes
  const Id reused_partly = Pack(1)[2];  // in the unused part of a repacked pack
  const Id still_dead = Pack(0)[0];

  PruneOptions po;
  po.device = "test";
  Pruner p(*repo_, po);
  {
    auto shared = Lock(*repo_, false);
    ASSERT_TRUE(p.Snapshot(*shared).ok());
    ASSERT_TRUE(p.Plan(live).ok());
    // Another device backs up meanwhile, under its own shared lock: its
    // index (loaded before prune deletes anything) has every chunk, so it
    // stores nothing and references the doomed ones.
    auto other = Reopen();
    {
      auto lock = Lock(*other, false);
      for (const Id& id : {reused_dead, reused_partly}) {
        const Bytes* data = nullptr;
        for (const auto& [bid, d] : blobs_)
          if (bid == id) data = &d;
        auto added = other->StoreBlob(BlobType::kData, id, *data);
        ASSERT_TRUE(added.ok());
        EXPECT_FALSE(*added);  // deduplicated
      }
      ASSERT_TRUE(other->Flush().ok());
      VersionSegment seg;
      seg.run_id = crypto::RandomId();
      seg.device = "other";
      seg.created = NowNs();
      seg.final = true;
      VersionRecord r;
      r.path = "/other/file";
      r.device = "other";
      r.backup_time = NowNs();
      r.type = FileType::kFile;
      r.size = 40000;
      r.chunks = {reused_dead, reused_partly};
      seg.records.push_back(r);
      ASSERT_TRUE(other->SaveSegment(seg).ok());
    }
    ASSERT_TRUE(p.Rewrite().ok());
  }
  auto exclusive = Lock(*repo_, true);
  Status st = p.Finish(*exclusive);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(p.stats().packs_rescued, 2u);
  std::set<Id> stored = PacksInStorage();
  EXPECT_TRUE(stored.count(PackIdOf(1)));
  EXPECT_TRUE(stored.count(PackIdOf(2)));
  EXPECT_FALSE(stored.count(PackIdOf(0)));
  std::set<Id> must_live(live.begin(), live.end());
  must_live.insert(reused_dead);
  must_live.insert(reused_partly);
  ExpectContents(must_live, {still_dead});
}

TEST_F(PruneTest, AnotherDeletingOperationMeanwhileMeansNothingIsDeleted) {
  const std::vector<Id> first = Pack(0);
  std::unordered_set<Id, IdHash> live(first.begin(), first.end());
  const std::set<Id> before = PacksInStorage();
  Pruner p(*repo_, PruneOptions{});
  {
    auto shared = Lock(*repo_, false);
    ASSERT_TRUE(p.Snapshot(*shared).ok());
    ASSERT_TRUE(p.Plan(live).ok());
    ASSERT_TRUE(p.Rewrite().ok());
  }
  {
    auto other = Lock(*repo_, true);
    ASSERT_TRUE(AdvanceGeneration(*repo_, "other", "compaction").ok());
  }
  auto exclusive = Lock(*repo_, true);
  Status st = p.Finish(*exclusive);
  EXPECT_EQ(st.code(), StatusCode::kPreconditionFailed) << st.ToString();
  EXPECT_NE(st.message().find("run `cairn prune` again"), std::string::npos);
  std::set<Id> after = PacksInStorage();
  for (const Id& id : before) EXPECT_TRUE(after.count(id)) << id.Hex();
  std::set<Id> all;
  for (const auto& [id, d] : blobs_) all.insert(id);
  ExpectContents(all, {});
}

TEST_F(PruneTest, AnInterruptedPruneLeavesDuplicatesTheNextOneRemoves) {
  std::unordered_set<Id, IdHash> live;
  for (const auto& [id, data] : blobs_) live.insert(id);
  for (const Id& id : Pack(2)) live.erase(id);
  live.erase(Pack(1)[0]);
  {
    Pruner p(*repo_, PruneOptions{});
    auto shared = Lock(*repo_, false);
    ASSERT_TRUE(p.Snapshot(*shared).ok());
    ASSERT_TRUE(p.Plan(live).ok());
    ASSERT_TRUE(p.Rewrite().ok());
    // Killed here: nothing deleted, the repacked pack's blobs twice.
  }
  std::set<Id> live_set(live.begin(), live.end());
  ExpectContents(live_set, {});
  auto fresh = Reopen();
  repo_ = std::move(fresh);
  auto r = RunPrune(live);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<Id> third = Pack(2);
  std::set<Id> dead(third.begin(), third.end());
  dead.insert(Pack(1)[0]);
  ExpectContents(live_set, dead);
  // Storage ends as one clean prune would leave it: the live blobs once.
  uint64_t live_bytes = live.size() * 20000;
  uint64_t stored = 0;
  ASSERT_TRUE(local_
                  ->List(ObjectType::kPack,
                         [&](const ObjectInfo& i) {
                           stored += i.size;
                           return Status::OK();
                         })
                  .ok());
  EXPECT_LT(stored, live_bytes + live_bytes / 5);
}

TEST_F(PruneTest, CoolTierPacksWaitForTheirMinimumDuration) {
  auto cool = std::make_shared<TierBackend>(local_, "Cool");
  repo_ = Reopen(cool);
  std::unordered_set<Id, IdHash> live;
  for (const auto& [id, data] : blobs_) live.insert(id);
  for (const Id& id : Pack(2)) live.erase(id);
  auto r = RunPrune(live);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_deleted, 0u);
  EXPECT_EQ(r->packs_waiting_for_tier, 1u);
  EXPECT_GT(r->bytes_waiting_for_tier, 60000u);
  EXPECT_TRUE(PacksInStorage().count(PackIdOf(2)));
  // 31 days later it goes.
  PruneOptions later;
  later.now = NowNs() + int64_t{31} * 24 * 3600 * 1'000'000'000;
  auto r2 = RunPrune(live, later);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->packs_deleted, 1u);
  EXPECT_FALSE(PacksInStorage().count(PackIdOf(2)));
}

TEST_F(PruneTest, IgnoreTierMinimumDeletesAtOnce) {
  repo_ = Reopen(std::make_shared<TierBackend>(local_, "Cold"));
  std::unordered_set<Id, IdHash> live;
  for (const auto& [id, data] : blobs_) live.insert(id);
  for (const Id& id : Pack(2)) live.erase(id);
  PruneOptions o;
  o.ignore_tier_minimum = true;
  auto r = RunPrune(live, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_waiting_for_tier, 0u);
  EXPECT_EQ(r->packs_deleted, 1u);
}

TEST_F(PruneTest, UnindexedPacksGoOnlyWhenOldEnough) {
  PackCopier copier(*repo_);
  Bytes b = Pattern(5000, 999);
  Id id = crypto::KeyedId(repo_->keys().id_key, b);
  // A pack that no index lists, as an interrupted backup leaves one (prune
  // deletes it without reading it).
  PackEntry e;
  e.id = id;
  e.raw_length = static_cast<uint32_t>(b.size());
  Bytes sealed(100, 7);
  ASSERT_TRUE(copier.Add(e, sealed).ok());
  ASSERT_TRUE(copier.Finish().ok());
  const Id orphan = copier.new_packs()[0].pack_id;
  std::unordered_set<Id, IdHash> live;
  for (const auto& [bid, data] : blobs_) live.insert(bid);

  auto young = RunPrune(live);
  ASSERT_TRUE(young.ok()) << young.status().ToString();
  EXPECT_EQ(young->young_orphans, 1u);
  EXPECT_TRUE(PacksInStorage().count(orphan));

  PruneOptions later;
  later.now = NowNs() + int64_t{2} * 3600 * 1'000'000'000;
  auto old = RunPrune(live, later);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->orphan_packs, 1u);
  EXPECT_FALSE(PacksInStorage().count(orphan));
  std::set<Id> all(live.begin(), live.end());
  ExpectContents(all, {});
}

TEST_F(PruneTest, ADamagedPackIsNotRepackedOrDeleted) {
  std::unordered_set<Id, IdHash> live;
  for (const auto& [id, data] : blobs_) live.insert(id);
  live.erase(Pack(0)[0]);
  // Flip a byte inside the pack's second blob.
  std::string file;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path()))
    if (f.path().filename().string().find(PackIdOf(0).Hex()) != std::string::npos)
      file = f.path().string();
  ASSERT_FALSE(file.empty());
  FlipByte(file, 25000);
  auto r = RunPrune(live);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->packs_deleted, 0u);
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_NE(r->warnings[0].find(PackIdOf(0).Hex()), std::string::npos) << r->warnings[0];
  EXPECT_TRUE(PacksInStorage().count(PackIdOf(0)));
}

TEST_F(PruneTest, AnUnreadableIndexObjectStopsPruneBeforeAnything) {
  std::string file;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path() + "/index"))
    if (f.is_regular_file()) file = f.path().string();
  ASSERT_FALSE(file.empty());
  FlipByte(file, 40);
  auto r = RunPrune({});
  EXPECT_EQ(r.status().code(), StatusCode::kPreconditionFailed) << r.status().ToString();
  EXPECT_NE(r.status().message().find("deletes nothing"), std::string::npos);
  EXPECT_EQ(PacksInStorage().size(), packs_.size());
}

// A damaged index object (found by the bit-flip campaign): its packs are
// intact, so readers find their blobs from the pack headers; prune refuses
// while they are unlisted (they would look like orphans), and once a writer
// has indexed them again it removes the damaged object and keeps every pack.
TEST_F(PruneTest, ADamagedIndexObjectIsRemovedOnceItsPacksAreIndexedAgain) {
  std::string file;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path() + "/index"))
    if (f.is_regular_file()) file = f.path().string();
  ASSERT_FALSE(file.empty());
  FlipByte(file, 40);
  std::unordered_set<Id, IdHash> live;
  std::set<Id> all;
  for (const auto& [id, data] : blobs_) {
    live.insert(id);
    all.insert(id);
  }

  auto reader = Reopen();
  ASSERT_FALSE(reader->warnings().empty());
  EXPECT_NE(reader->warnings()[0].find("read from their own headers"), std::string::npos)
      << reader->warnings()[0];
  for (const auto& [id, data] : blobs_) {
    auto got = reader->LoadBlob(id);
    ASSERT_TRUE(got.ok()) << id.Hex() << ": " << got.status().ToString();
    EXPECT_EQ(*got, data);
  }

  auto refused = RunPrune(live);
  EXPECT_EQ(refused.status().code(), StatusCode::kPreconditionFailed)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("Run `cairn backup` first"), std::string::npos)
      << refused.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(file));

  ASSERT_TRUE(reader->Flush().ok());  // what the next backup does
  auto pruned = RunPrune(live);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_GE(pruned->index_deleted, 1u);
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_EQ(PacksInStorage().size(), packs_.size());
  ExpectContents(all, {});
  EXPECT_TRUE(Reopen()->warnings().empty());
}

}  // namespace
}  // namespace cairn::repo
