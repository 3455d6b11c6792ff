#include "restorer/pack_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "testing/temp_dir.h"

namespace cairn::restorer {
namespace {

using namespace std::chrono_literals;

// The local backend, with the first load of one chosen object held back: a
// slow read (a cold disk, a far cloud) while other packs come in quickly.
class SlowObjectBackend : public backend::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  void SlowDown(std::string name) { slow_name_ = std::move(name); }
  Result<Bytes> Load(const backend::ObjectName& n, uint64_t offset, uint64_t length) override {
    if (!slow_name_.empty() && n.name == slow_name_ && !slowed_.exchange(true))
      std::this_thread::sleep_for(400ms);
    return ForwardingBackend::Load(n, offset, length);
  }

 private:
  std::string slow_name_;
  std::atomic<bool> slowed_{false};
};

Bytes RandomBytes(size_t n) {
  Bytes b(n);
  crypto::RandomBytes(b);
  return b;
}

// While one thread reads a slow pack, another reads more packs than the
// cache holds, so the slow pack is the least recently used one the moment it
// arrives. Its reader must still get its blob (it used to get an entry the
// eviction had just freed).
TEST(PackCacheTest, APackThatArrivesLeastRecentlyUsedIsStillReturned) {
  testing::TempDir tmp;
  auto local = backend::LocalBackend::Open(tmp.Sub("repo"));
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto slow = std::make_shared<SlowObjectBackend>(*local);
  repo::InitOptions init;
  init.kdf = crypto::CheapKdfParams();
  init.pack_size = 64 * 1024;
  auto repo = repo::Repository::Init(slow, "secret", init);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();

  // Incompressible 70 KiB blobs: one per pack.
  std::vector<Bytes> blobs;
  std::vector<Id> ids;
  for (int i = 0; i < 4; ++i) {
    blobs.push_back(RandomBytes(70 * 1024));
    ids.push_back(crypto::KeyedId((*repo)->keys().id_key, blobs.back()));
    ASSERT_TRUE((*repo)->StoreBlob(repo::BlobType::kData, ids.back(), blobs.back()).ok());
  }
  ASSERT_TRUE((*repo)->Flush().ok());
  std::set<uint32_t> packs;
  for (const Id& id : ids) packs.insert((*repo)->index().Find(id)->pack);
  ASSERT_EQ(packs.size(), 4u) << "the blobs were expected in four packs";
  auto first = (*repo)->index().Find(ids[0]);
  slow->SlowDown((*repo)->index().PackId(first->pack).Hex());

  PackCache cache(**repo, /*capacity_packs=*/2, 64ull << 20);
  cache.Plan(ids);
  Result<Bytes> slow_result = Status::IOError("not run");
  std::jthread reader([&] { slow_result = cache.LoadBlob(ids[0]); });
  std::this_thread::sleep_for(100ms);  // the reader is now inside the slow load
  for (int i = 1; i < 4; ++i) {
    auto got = cache.LoadBlob(ids[i]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, blobs[i]);
  }
  reader.join();
  ASSERT_TRUE(slow_result.ok()) << slow_result.status().ToString();
  EXPECT_EQ(*slow_result, blobs[0]);
  // And the cache still answers for every blob afterwards.
  for (int i = 0; i < 4; ++i) {
    auto got = cache.LoadBlob(ids[i]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, blobs[i]);
  }
}

}  // namespace
}  // namespace cairn::restorer
