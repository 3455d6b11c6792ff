#include "repo/repository.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "backend/local/local_backend.h"
#include "repo/envelope.h"
#include "repo/repo_lock.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::repo {
namespace {

using backend::ObjectName;
using backend::ObjectType;

InitOptions CheapInit() {
  InitOptions o;
  o.kdf = crypto::CheapKdfParams();
  o.pack_size = 64 * 1024;
  return o;
}

std::shared_ptr<backend::Backend> Local(const std::string& dir) {
  auto be = backend::LocalBackend::Open(dir);
  EXPECT_TRUE(be.ok()) << be.status().ToString();
  return *be;
}

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x = x * 1103515245u + 12345u;
    c = static_cast<uint8_t>(x >> 16);
  }
  return b;
}

TEST(RepositoryTest, InitOpenAndWrongPassword) {
  testing::TempDir dir;
  auto repo = Repository::Init(Local(dir.path()), "secret", CheapInit());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto again = Repository::Init(Local(dir.path()), "secret", CheapInit());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);

  auto opened = Repository::Open(Local(dir.path()), "secret");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->config().repo_id, (*repo)->config().repo_id);
  EXPECT_TRUE((*opened)->keys().data_key == (*repo)->keys().data_key);

  auto wrong = Repository::Open(Local(dir.path()), "not the secret");
  EXPECT_EQ(wrong.status().code(), StatusCode::kWrongPassword);

  testing::TempDir empty;
  auto none = Repository::Open(Local(empty.path()), "secret");
  EXPECT_EQ(none.status().code(), StatusCode::kNoRepository);
}

// A version-2 repository (no forget segments) is read as it is, and raised to
// version 3 by RequireFormat before a forget segment is written, so an older
// cairn refuses it from then on.
TEST(RepositoryTest, RequireFormatRaisesAVersionTwoRepositoryOnce) {
  testing::TempDir dir;
  auto repo = Repository::Init(Local(dir.path()), "pw", CheapInit());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_EQ((*repo)->config().format_major, kFormatMajor);
  // Rewrite the config as a version-2 cairn wrote it.
  auto be = Local(dir.path());
  const backend::ObjectName config{backend::ObjectType::kConfig, "config"};
  auto info = be->Stat(config);
  ASSERT_TRUE(info.ok());
  RepoConfig two = (*repo)->config();
  two.format_major = 2;
  Bytes sealed;
  SealEnvelope((*repo)->keys().meta_key, "config", "config", compress::Algorithm::kNone, 0,
               EncodeRepoConfig(two), sealed);
  ASSERT_TRUE(be->Replace(config, sealed, info->etag).ok());

  auto opened = Repository::Open(Local(dir.path()), "pw");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->config().format_major, 2);
  auto other = Repository::Open(Local(dir.path()), "pw");  // another device, also at 2
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*opened)->RequireFormat(kFormatWithForget).ok());
  EXPECT_EQ((*opened)->config().format_major, 3);
  auto before = be->Stat(config);
  ASSERT_TRUE(before.ok());
  // Already there: nothing is written.
  ASSERT_TRUE((*opened)->RequireFormat(kFormatWithForget).ok());
  EXPECT_EQ(be->Stat(config)->etag, before->etag);
  // Another open repository that still believes version 2 finds it raised.
  EXPECT_EQ((*other)->config().format_major, 2);
  ASSERT_TRUE((*other)->RequireFormat(kFormatWithForget).ok());
  EXPECT_EQ((*other)->config().format_major, 3);
  EXPECT_EQ(be->Stat(config)->etag, before->etag);
  auto reopened = Repository::Open(Local(dir.path()), "pw");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->config().format_major, 3);
  EXPECT_EQ((*reopened)->config().repo_id, (*repo)->config().repo_id);
}

TEST(RepositoryTest, BlobsRoundTripAcrossPacksAndReopen) {
  testing::TempDir dir;
  auto repo = *Repository::Init(Local(dir.path()), "pw", CheapInit());
  std::vector<std::pair<Id, Bytes>> blobs;
  for (int i = 0; i < 40; ++i) {
    Bytes b = Pattern(10000 + i * 100, static_cast<uint8_t>(i));
    Id id = crypto::KeyedId(repo->keys().id_key, b);
    auto added = repo->StoreBlob(BlobType::kData, id, b);
    ASSERT_TRUE(added.ok());
    EXPECT_TRUE(*added);
    blobs.emplace_back(id, b);
  }
  auto dup = repo->StoreBlob(BlobType::kData, blobs[3].first, blobs[3].second);
  ASSERT_TRUE(dup.ok());
  EXPECT_FALSE(*dup);
  ASSERT_TRUE(repo->Flush().ok());
  EXPECT_GT(repo->store_stats().packs_written, 3u);  // 64 KiB packs

  auto reopened = *Repository::Open(Local(dir.path()), "pw");
  ASSERT_TRUE(reopened->LoadIndex(false).ok());
  EXPECT_EQ(reopened->index().BlobCount(), blobs.size());
  for (auto& [id, data] : blobs) {
    auto got = reopened->LoadBlob(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);
  }
}

TEST(RepositoryTest, OrphanPacksAreAdoptedAndReused) {
  testing::TempDir dir;
  Bytes b = Pattern(200000, 7);
  Id id;
  {
    auto repo = *Repository::Init(Local(dir.path()), "pw", CheapInit());
    id = crypto::KeyedId(repo->keys().id_key, b);
    ASSERT_TRUE(repo->StoreBlob(BlobType::kData, id, b).ok());  // fills a pack: uploaded
    // No Flush: no index object, as if the process was killed here.
  }
  // Remove any index objects written (there should be none).
  size_t index_objects = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path() + "/index"))
    (void)e, ++index_objects;
  EXPECT_EQ(index_objects, 0u);
  auto repo = *Repository::Open(Local(dir.path()), "pw");
  ASSERT_TRUE(repo->LoadIndex(true).ok());
  EXPECT_TRUE(repo->index().Contains(id));
  auto again = repo->StoreBlob(BlobType::kData, id, b);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);  // reused, not stored twice
  ASSERT_TRUE(repo->Flush().ok());
  EXPECT_EQ(repo->store_stats().index_objects_written, 1u);
}

TEST(RepositoryTest, TamperedBlobIsCorruption) {
  testing::TempDir dir;
  auto repo = *Repository::Init(Local(dir.path()), "pw", CheapInit());
  Bytes b = Pattern(5000, 1);
  Id id = crypto::KeyedId(repo->keys().id_key, b);
  ASSERT_TRUE(repo->StoreBlob(BlobType::kData, id, b).ok());
  ASSERT_TRUE(repo->Flush().ok());
  Id pack = repo->index().PackId(repo->index().Find(id)->pack);
  std::string path = dir.path() + "/data/" + pack.Hex().substr(0, 2) + "/" + pack.Hex();
  const std::string stored = testing::ReadFile(path);
  ASSERT_GT(stored.size(), 100u);
  testing::PatchFile(path, 100, std::string(1, static_cast<char>(stored[100] ^ 1)));
  auto got = repo->LoadBlob(id);
  EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
}

TEST(RepositoryTest, KeySlotsAddRemove) {
  testing::TempDir dir;
  auto repo = *Repository::Init(Local(dir.path()), "first", CheapInit());
  auto added = repo->AddKeySlot("second", crypto::CheapKdfParams(), "paper");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(repo->ListKeySlots()->size(), 2u);
  auto via_second = Repository::Open(Local(dir.path()), "second");
  ASSERT_TRUE(via_second.ok());
  EXPECT_TRUE((*via_second)->keys().meta_key == repo->keys().meta_key);
  ASSERT_TRUE(repo->RemoveKeySlot(repo->key_slot_in_use()).ok());
  EXPECT_EQ(Repository::Open(Local(dir.path()), "first").status().code(),
            StatusCode::kWrongPassword);
  EXPECT_FALSE((*via_second)->RemoveKeySlot(*added).ok());  // the last one stays
}

TEST(RepositoryTest, SegmentsRoundTrip) {
  testing::TempDir dir;
  auto repo = *Repository::Init(Local(dir.path()), "pw", CheapInit());
  VersionSegment s;
  s.run_id = crypto::RandomId();
  s.device = "laptop";
  s.final = true;
  VersionRecord r;
  r.path = "/home/u/a\nb\xff.txt";
  r.device = "laptop";
  r.backup_time = 42;
  r.size = 3;
  r.chunks = {crypto::RandomId()};
  s.records.push_back(r);
  auto id = repo->SaveSegment(s);
  ASSERT_TRUE(id.ok());
  std::vector<Id> ids;
  ASSERT_TRUE(repo->ListSegments([&](const Id& i) {
                    ids.push_back(i);
                    return Status::OK();
                  })
                  .ok());
  ASSERT_EQ(ids.size(), 1u);
  auto back = repo->LoadSegment(ids[0]);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0], r);
  // A segment copied under another name fails authentication.
  std::filesystem::copy_file(dir.path() + "/versions/" + id->Hex(),
                             dir.path() + "/versions/" + std::string(64, 'a'));
  auto moved = repo->LoadSegment(*Id::FromHex(std::string(64, 'a')));
  EXPECT_EQ(moved.status().code(), StatusCode::kCorruption);
}

TEST(RepoConfigTest, RoundTripsAndRefusesOtherFormats) {
  RepoConfig c;
  c.repo_id = crypto::RandomId();
  c.chunker.seed[0] = 7;
  auto back = DecodeRepoConfig(EncodeRepoConfig(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->format_major, kFormatMajor);
  EXPECT_EQ(back->repo_id, c.repo_id);
  EXPECT_EQ(back->chunker.seed, c.chunker.seed);

  auto with = [&](const std::string& from, const std::string& to) {
    std::string text(AsString(EncodeRepoConfig(c)));
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << text;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return DecodeRepoConfig(AsBytes(text));
  };
  // Version 1 keyed chunk IDs differently: refused with what to do.
  auto old = with("\"version\":3", "\"version\":1");
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(old.status().message().find("cairn init"), std::string::npos);
  // Version 2 (no forget segments yet) is read.
  auto two = with("\"version\":3", "\"version\":2");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->format_major, 2);
  auto newer = with("\"version\":3", "\"version\":4");
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("upgrade cairn"), std::string::npos);
  auto other_ids = with("hmac-sha256-of-sha256", "blake3");
  ASSERT_FALSE(other_ids.ok());
  EXPECT_EQ(other_ids.status().code(), StatusCode::kUnsupported);
}

TEST(RepoLockTest, SharedLocksCoexistExclusiveConflicts) {
  testing::TempDir dir;
  auto repo = *Repository::Init(Local(dir.path()), "pw", CheapInit());
  LockOptions shared;
  shared.operation = "backup";
  shared.device = "dev1";
  auto a = RepoLock::Acquire(*repo, shared);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = RepoLock::Acquire(*repo, shared);
  ASSERT_TRUE(b.ok());
  LockOptions excl;
  excl.exclusive = true;
  excl.operation = "key remove";
  auto c = RepoLock::Acquire(*repo, excl);
  ASSERT_EQ(c.status().code(), StatusCode::kLocked);
  EXPECT_NE(c.status().message().find("dev1"), std::string::npos) << c.status().message();
  a->reset();
  b->reset();
  auto d = RepoLock::Acquire(*repo, excl);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(RepoLock::Acquire(*repo, shared).status().code(), StatusCode::kLocked);
}

TEST(RepoLockTest, ExpiredLockIsIgnored) {
  testing::TempDir dir;
  auto repo = *Repository::Init(Local(dir.path()), "pw", CheapInit());
  // A lock object left by a dead holder, already expired.
  std::string body = R"({"host":"gone","pid":1,"device":"old","operation":"backup",)"
                     R"("exclusive":true,"created":1,"expires":2})";
  ASSERT_TRUE(repo->SaveSealed(ObjectType::kLock, "lock", crypto::RandomId(), AsBytes(body)).ok());
  LockOptions excl;
  excl.exclusive = true;
  auto l = RepoLock::Acquire(*repo, excl);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
}

}  // namespace
}  // namespace cairn::repo
