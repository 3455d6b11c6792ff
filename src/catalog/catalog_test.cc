#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::catalog {
namespace {

namespace fs = std::filesystem;
using repo::FileType;
using repo::VersionRecord;

Id MakeId(uint32_t seed) {
  Id id;
  for (size_t i = 0; i < id.bytes.size(); ++i) {
    id.bytes[i] = static_cast<uint8_t>((seed * 131 + i * 17 + (seed >> 8)) & 0xff);
  }
  id.bytes[0] = static_cast<uint8_t>(seed);
  id.bytes[1] = static_cast<uint8_t>(seed >> 8);
  id.bytes[2] = static_cast<uint8_t>(seed >> 16);
  return id;
}

VersionRecord Rec(std::string device, std::string path, TimeNs t, uint64_t size = 0,
                  bool deleted = false, FileType type = FileType::kFile) {
  VersionRecord r;
  r.device = std::move(device);
  r.path = std::move(path);
  r.backup_time = t;
  r.size = size;
  r.deleted = deleted;
  r.type = type;
  return r;
}

VersionRecord Dir(std::string device, std::string path, TimeNs t) {
  return Rec(std::move(device), std::move(path), t, 0, false, FileType::kDir);
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    dir_ = tmp_.path();
    path_ = (dir_ / "nested" / "cache" / "catalog.db").string();
  }
  // The catalog closes before tmp_ removes its folder.
  void TearDown() override { cat_.reset(); }

  void OpenCatalog() {
    cat_.reset();
    auto c = Catalog::Open(path_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cat_ = std::move(c).value();
  }

  // "device:path" of every listed record.
  std::vector<std::string> List(std::string_view device, std::string_view root, TimeNs at,
                                bool recursive) {
    std::vector<std::string> out;
    Status st = cat_->ListTree(device, root, at, recursive, [&](const VersionRecord& r) {
      out.push_back(r.device + ":" + r.path);
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::vector<std::string> FindPaths(std::string_view device, std::string_view pattern) {
    std::vector<std::string> out;
    Status st = cat_->Find(device, pattern, [&](const VersionRecord& r) {
      out.push_back(r.device + ":" + r.path);
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  // Size of the state of `path` at `at`, or -1 if it does not exist.
  int64_t SizeAt(std::string_view device, std::string_view path, TimeNs at) {
    auto r = cat_->Lookup(device, path, at);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || !r->has_value()) return -1;
    return static_cast<int64_t>((*r)->size);
  }

  testing::TempDir tmp_;
  fs::path dir_;  // tmp_'s folder
  std::string path_;
  std::unique_ptr<Catalog> cat_;
};

VersionRecord FullRecord() {
  VersionRecord r;
  r.path = std::string("/home/u/\xff\xfe bad\nname\x01.bin");
  r.device = "laptop-7f3a";
  r.backup_time = 1'764'000'000'123'456'789;
  r.deleted = false;
  r.type = FileType::kFile;
  r.size = 0xfedcba9876543210ULL;  // above INT64_MAX: stored as its bit pattern
  r.mode = 04755;
  r.uid = 4'000'000'000u;
  r.gid = 1001;
  r.user = "ren\xe9";  // Latin-1, not UTF-8
  r.group = "staff";
  r.mtime = 1'763'999'999'000'000'001;
  r.ctime = -5;
  r.inode = ~0ULL;
  r.dev = 0x8000000000000001ULL;
  r.rdev = 77;
  r.sparse = true;
  r.link_target = "/target\nwith newline";
  r.content_sha256 = MakeId(9999);
  r.chunks = {MakeId(1), MakeId(2), MakeId(3)};
  r.xattrs = {{"user.comment", Bytes{'h', 0, 'i', 0xff}},
              {"security.empty", Bytes{}},
              {std::string("user.\x80weird", 11), Bytes(300, 0x5a)}};
  return r;
}

TEST_F(CatalogTest, RoundTripsEveryField) {
  OpenCatalog();
  VersionRecord r = FullRecord();
  ASSERT_OK(cat_->AddSegment(MakeId(100), {}, {r}));

  auto got = cat_->Lookup(r.device, r.path, kLatest);
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, r);

  auto skip = cat_->LatestForSkip(r.device, r.path);
  ASSERT_OK(skip);
  ASSERT_TRUE(skip->has_value());
  EXPECT_EQ(**skip, r);

  auto versions = cat_->Versions("", r.path);
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(versions->front(), r);

  // A record with every optional field empty also round-trips (empty blobs, zero id).
  VersionRecord bare = Rec("laptop-7f3a", "/e", 5, 0, false, FileType::kSymlink);
  ASSERT_OK(cat_->AddSegment(MakeId(101), {}, {bare}));
  auto got_bare = cat_->Lookup("laptop-7f3a", "/e", kLatest);
  ASSERT_OK(got_bare);
  ASSERT_TRUE(got_bare->has_value());
  EXPECT_EQ(**got_bare, bare);
}

TEST_F(CatalogTest, CreatesPrivateParentDirsAndFile) {
  OpenCatalog();
  auto mode_of = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode_of(dir_ / "nested"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "nested" / "cache"), 0700u);
  EXPECT_EQ(mode_of(path_), 0600u);
}

TEST_F(CatalogTest, AddSegmentIsIdempotent) {
  OpenCatalog();
  const Id seg = MakeId(1);
  std::vector<VersionRecord> records = {Rec("d", "/a", 10, 1), Rec("d", "/a", 20, 2)};
  ASSERT_OK(cat_->AddSegment(seg, {}, records));
  ASSERT_OK(cat_->AddSegment(seg, {}, records));
  ASSERT_OK(cat_->AddSegments({{seg, {}, records}, {MakeId(2), {}, {Rec("d", "/b", 5)}}}));

  auto versions = cat_->Versions("d", "/a");
  ASSERT_OK(versions);
  EXPECT_EQ(versions->size(), 2u);
  auto has = cat_->HasSegment(seg);
  ASSERT_OK(has);
  EXPECT_TRUE(*has);
  auto has_other = cat_->HasSegment(MakeId(3));
  ASSERT_OK(has_other);
  EXPECT_FALSE(*has_other);
  auto segments = cat_->Segments();
  ASSERT_OK(segments);
  EXPECT_EQ(*segments, (std::vector<Id>{MakeId(1), MakeId(2)}));
  auto totals = cat_->GetTotals("");
  ASSERT_OK(totals);
  EXPECT_EQ(totals->versions, 3u);
}

TEST_F(CatalogTest, RemovedSegmentsTakeOnlyTheirRecordsWithThem) {
  OpenCatalog();
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 10, 1), Rec("d", "/b", 10, 1)}));
  ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {Rec("d", "/a", 20, 2)}));
  ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {Rec("d", "/a", 30, 3), Rec("d", "/c", 30, 3)}));

  // The newest version of /a goes: /a falls back to the one before; /c is gone.
  ASSERT_OK(cat_->RemoveSegments({MakeId(3), MakeId(99)}));  // 99: unknown, ignored
  auto a = cat_->Lookup("d", "/a", kLatest);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->size, 2u);
  EXPECT_EQ(List("d", "/", kLatest, true), (std::vector<std::string>{"d:/a", "d:/b"}));
  auto versions = cat_->Versions("d", "/a");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u);
  auto segs = cat_->Segments();
  ASSERT_TRUE(segs.ok());
  EXPECT_EQ(*segs, (std::vector<Id>{MakeId(1), MakeId(2)}));

  // A middle one: the latest stays.
  ASSERT_OK(cat_->RemoveSegments({MakeId(1)}));
  EXPECT_EQ(List("d", "/", kLatest, true), std::vector<std::string>{"d:/a"});
  a = cat_->Lookup("d", "/a", kLatest);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->size, 2u);
  // Ingested again later (a segment put back): counted once.
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 10, 1), Rec("d", "/b", 10, 1)}));
  versions = cat_->Versions("d", "/a");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 2u);
}

TEST_F(CatalogTest, SameSegmentTwiceInOneBatchIsIngestedOnce) {
  OpenCatalog();
  std::vector<VersionRecord> records = {Rec("d", "/a", 10, 1)};
  ASSERT_OK(cat_->AddSegments({{MakeId(1), {}, records}, {MakeId(1), {}, records}}));
  auto versions = cat_->Versions("d", "/a");
  ASSERT_OK(versions);
  EXPECT_EQ(versions->size(), 1u);
}

TEST_F(CatalogTest, FailedBatchIsRolledBackEntirely) {
  OpenCatalog();
  Status st = cat_->AddSegments({{MakeId(1), {}, {Rec("d", "/a", 10, 1)}},
                                 {MakeId(2), {}, {Rec("d", "", 10, 1)}}});  // empty path
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  auto has = cat_->HasSegment(MakeId(1));
  ASSERT_OK(has);
  EXPECT_FALSE(*has);
  EXPECT_EQ(SizeAt("d", "/a", kLatest), -1);
  // The catalog is still usable afterwards.
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 10, 1)}));
  EXPECT_EQ(SizeAt("d", "/a", kLatest), 1);
}

TEST_F(CatalogTest, VersionsOrderedByTimeThenIngestion) {
  OpenCatalog();
  // Ingested out of time order, with a tie at t=20 and a tombstone.
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/f", 30, 3), Rec("d", "/f", 20, 21)}));
  ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {Rec("d", "/f", 10, 1), Rec("d", "/f", 20, 22)}));
  ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {Rec("d", "/f", 25, 0, true)}));
  ASSERT_OK(cat_->AddSegment(MakeId(4), {}, {Rec("other", "/f", 15, 99)}));

  auto versions = cat_->Versions("d", "/f");
  ASSERT_OK(versions);
  std::vector<std::pair<TimeNs, uint64_t>> got;
  for (const auto& v : *versions) got.emplace_back(v.backup_time, v.size);
  EXPECT_EQ(got, (std::vector<std::pair<TimeNs, uint64_t>>{
                     {10, 1}, {20, 21}, {20, 22}, {25, 0}, {30, 3}}));
  EXPECT_TRUE((*versions)[3].deleted);
  EXPECT_FALSE((*versions)[4].deleted);

  // All devices: merged in the same order.
  auto all = cat_->Versions("", "/f");
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ((*all)[1].device, "other");
  EXPECT_EQ((*all)[1].size, 99u);

  // The tie at t=20 resolves to the later ingested version, in every query.
  EXPECT_EQ(SizeAt("d", "/f", 20), 22);
  EXPECT_EQ(SizeAt("d", "/f", 24), 22);
  auto tree_size = [&](TimeNs at) {
    int64_t size = -1;
    EXPECT_OK(cat_->ListTree("d", "/f", at, true, [&](const VersionRecord& r) {
      size = static_cast<int64_t>(r.size);
      return Status::OK();
    }));
    return size;
  };
  EXPECT_EQ(tree_size(24), 22);
  EXPECT_EQ(tree_size(kLatest), 3);

  // A tie on the latest time: the later ingested one is the latest.
  ASSERT_OK(cat_->AddSegment(MakeId(5), {}, {Rec("d", "/t", 50, 1), Rec("d", "/t", 50, 2)}));
  ASSERT_OK(cat_->AddSegment(MakeId(6), {}, {Rec("d", "/t", 50, 3)}));
  EXPECT_EQ(SizeAt("d", "/t", kLatest), 3);
  auto skip = cat_->LatestForSkip("d", "/t");
  ASSERT_OK(skip);
  ASSERT_TRUE(skip->has_value());
  EXPECT_EQ((*skip)->size, 3u);
  int64_t listed = -1;
  ASSERT_OK(cat_->ListTree("d", "/", kLatest, false, [&](const VersionRecord& r) {
    if (r.path == "/t") listed = static_cast<int64_t>(r.size);
    return Status::OK();
  }));
  EXPECT_EQ(listed, 3);
}

TEST_F(CatalogTest, LookupAtTimesAndTombstones) {
  OpenCatalog();
  ASSERT_OK(cat_->AddSegment(
      MakeId(1), {},
      {Rec("d", "/f", 100, 1), Rec("d", "/f", 200, 2), Rec("d", "/f", 300, 0, true)}));
  EXPECT_EQ(SizeAt("d", "/f", 50), -1);
  EXPECT_EQ(SizeAt("d", "/f", 100), 1);
  EXPECT_EQ(SizeAt("d", "/f", 150), 1);
  EXPECT_EQ(SizeAt("d", "/f", 200), 2);
  EXPECT_EQ(SizeAt("d", "/f", 299), 2);
  EXPECT_EQ(SizeAt("d", "/f", 300), -1);  // deleted
  EXPECT_EQ(SizeAt("d", "/f", kLatest), -1);
  EXPECT_EQ(SizeAt("other", "/f", kLatest), -1);
  EXPECT_EQ(SizeAt("", "/f", 250), 2);

  auto skip = cat_->LatestForSkip("d", "/f");
  ASSERT_OK(skip);
  EXPECT_FALSE(skip->has_value());
  EXPECT_EQ(cat_->LatestForSkip("", "/f").status().code(), StatusCode::kInvalidArgument);

  // Recreated after deletion: visible again.
  ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {Rec("d", "/f", 400, 4)}));
  EXPECT_EQ(SizeAt("d", "/f", 350), -1);
  EXPECT_EQ(SizeAt("d", "/f", kLatest), 4);
  auto skip2 = cat_->LatestForSkip("d", "/f");
  ASSERT_OK(skip2);
  ASSERT_TRUE(skip2->has_value());
  EXPECT_EQ((*skip2)->size, 4u);

  // A late-arriving older version does not replace the latest.
  ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {Rec("d", "/f", 150, 15)}));
  EXPECT_EQ(SizeAt("d", "/f", kLatest), 4);
  EXPECT_EQ(SizeAt("d", "/f", 160), 15);
  auto skip3 = cat_->LatestForSkip("d", "/f");
  ASSERT_OK(skip3);
  ASSERT_TRUE(skip3->has_value());
  EXPECT_EQ((*skip3)->size, 4u);
}

class TreeTest : public CatalogTest {
 protected:
  void SetUp() override {
    CatalogTest::SetUp();
    OpenCatalog();
    ASSERT_OK(
        cat_->AddSegment(MakeId(1), {},
                         {Dir("a", "/", 10), Dir("a", "/a", 10), Dir("a", "/a/b", 10),
                          Dir("a", "/a/b/c", 10), Rec("a", "/a/b/c/d", 10), Rec("a", "/a/b2", 10),
                          Rec("a", "/a/b.txt", 10), Rec("a", "/a/b-x", 10), Rec("a", "/z", 10),
                          Rec("b", "/a/b/c", 10), Rec("b", "/a/b/e", 10)}));
    // Later: /a/b/c/d deleted on device a.
    ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {Rec("a", "/a/b/c/d", 20, 0, true)}));
  }
};

TEST_F(TreeTest, RecursiveSubdirExcludesSiblingPrefixes) {
  EXPECT_EQ(List("a", "/a/b", 15, true),
            (std::vector<std::string>{"a:/a/b", "a:/a/b/c", "a:/a/b/c/d"}));
  EXPECT_EQ(List("a", "/a/b/", 15, true), List("a", "/a/b", 15, true));
  // After the deletion.
  EXPECT_EQ(List("a", "/a/b", kLatest, true), (std::vector<std::string>{"a:/a/b", "a:/a/b/c"}));
  // Before anything was backed up.
  EXPECT_TRUE(List("a", "/a/b", 5, true).empty());
}

TEST_F(TreeTest, RecursiveWholeTree) {
  EXPECT_EQ(List("a", "/", 15, true),
            (std::vector<std::string>{"a:/", "a:/a", "a:/a/b", "a:/a/b-x", "a:/a/b.txt", "a:/a/b/c",
                                      "a:/a/b/c/d", "a:/a/b2", "a:/z"}));  // bytes
  EXPECT_EQ(List("b", "/", kLatest, true), (std::vector<std::string>{"b:/a/b/c", "b:/a/b/e"}));
}

TEST_F(TreeTest, AllDevicesSortedByPathThenDevice) {
  EXPECT_EQ(List("", "/a/b", kLatest, true),
            (std::vector<std::string>{"a:/a/b", "a:/a/b/c", "b:/a/b/c", "b:/a/b/e"}));
  EXPECT_EQ(List("", "/a/b/c", 15, true),
            (std::vector<std::string>{"a:/a/b/c", "b:/a/b/c", "a:/a/b/c/d"}));
}

TEST_F(TreeTest, NonRecursiveListsDirectChildrenOnly) {
  EXPECT_EQ(List("a", "/a", kLatest, false),
            (std::vector<std::string>{"a:/a/b", "a:/a/b-x", "a:/a/b.txt", "a:/a/b2"}));
  EXPECT_EQ(List("a", "/", kLatest, false), (std::vector<std::string>{"a:/a", "a:/z"}));
  EXPECT_EQ(List("a", "/a/b/c", 15, false), (std::vector<std::string>{"a:/a/b/c/d"}));
  EXPECT_TRUE(List("a", "/a/b/c", kLatest, false).empty());
  EXPECT_EQ(List("", "/a/b", kLatest, false),
            (std::vector<std::string>{"a:/a/b/c", "b:/a/b/c", "b:/a/b/e"}));
  EXPECT_EQ(List("b", "/a/b/", kLatest, false), (std::vector<std::string>{"b:/a/b/c", "b:/a/b/e"}));
}

TEST_F(TreeTest, CallbackErrorStopsAndRelativeRootIsRejected) {
  int calls = 0;
  Status st = cat_->ListTree("a", "/", kLatest, true, [&](const VersionRecord&) {
    ++calls;
    return calls == 2 ? Status::Cancelled("enough") : Status::OK();
  });
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
  st = cat_->ListTree("a", "a/b", kLatest, true, [](const VersionRecord&) { return Status::OK(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST_F(TreeTest, CallbackMayQueryTheCatalog) {
  // Re-entering the same query while it is running uses a fresh statement.
  std::vector<std::string> inner;
  Status st = cat_->ListTree("a", "/a", kLatest, false, [&](const VersionRecord& r) {
    auto sub = List("a", r.path, kLatest, false);
    inner.insert(inner.end(), sub.begin(), sub.end());
    return Status::OK();
  });
  ASSERT_OK(st);
  EXPECT_EQ(inner, (std::vector<std::string>{"a:/a/b/c"}));
}

TEST_F(CatalogTest, FindMatchesBaseNameOrFullPath) {
  OpenCatalog();
  ASSERT_OK(cat_->AddSegment(
      MakeId(1), {},
      {Dir("a", "/a", 1), Rec("a", "/a/b.txt", 1), Rec("a", "/a/B2.TXT", 1), Dir("a", "/a/c", 1),
       Rec("a", "/a/c/readme.md", 1), Rec("a", "/a/gone.txt", 1),
       Rec("a", "/a/gone.txt", 2, 0, true), Rec("b", "/b/other.txt", 1), Rec("a", "/a/old.txt", 1),
       Rec("a", "/a/old.txt", 2, 7)}));
  EXPECT_EQ(FindPaths("a", "*.txt"),
            (std::vector<std::string>{"a:/a/B2.TXT", "a:/a/b.txt", "a:/a/old.txt"}));
  EXPECT_EQ(FindPaths("", "*.TXT"), (std::vector<std::string>{"a:/a/B2.TXT", "a:/a/b.txt",
                                                              "a:/a/old.txt", "b:/b/other.txt"}));
  EXPECT_EQ(FindPaths("a", "b?.txt"), (std::vector<std::string>{"a:/a/B2.TXT"}));
  EXPECT_EQ(FindPaths("a", "?"), (std::vector<std::string>{"a:/a", "a:/a/c"}));
  EXPECT_EQ(FindPaths("a", "readme.md"), (std::vector<std::string>{"a:/a/c/readme.md"}));
  EXPECT_EQ(FindPaths("a", "/a/c*"), (std::vector<std::string>{"a:/a/c", "a:/a/c/readme.md"}));
  EXPECT_TRUE(FindPaths("a", "gone*").empty());
  EXPECT_TRUE(FindPaths("a", "nothing").empty());
  // Only the latest version is reported.
  int64_t size = -1;
  ASSERT_OK(cat_->Find("a", "old.txt", [&](const VersionRecord& r) {
    size = static_cast<int64_t>(r.size);
    return Status::OK();
  }));
  EXPECT_EQ(size, 7);
}

TEST_F(CatalogTest, MetaDevicesTotalsAndMaxTime) {
  OpenCatalog();
  auto empty_max = cat_->MaxBackupTime();
  ASSERT_OK(empty_max);
  EXPECT_EQ(*empty_max, 0);
  auto none = cat_->GetMeta("repo_id");
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_OK(cat_->SetMeta("repo_id", "abc"));
  ASSERT_OK(cat_->SetMeta("repo_id", std::string("x\0y", 3)));
  auto meta = cat_->GetMeta("repo_id");
  ASSERT_OK(meta);
  ASSERT_TRUE(meta->has_value());
  EXPECT_EQ(**meta, std::string("x\0y", 3));

  ASSERT_OK(cat_->AddSegment(
      MakeId(1), {},
      {Rec("pc", "/f", 10, 100), Rec("pc", "/f", 20, 150), Rec("pc", "/g", 10, 5),
       Rec("pc", "/g", 30, 0, true), Dir("pc", "/d", 10), Rec("mac", "/h", 25, 7)}));
  auto max = cat_->MaxBackupTime();
  ASSERT_OK(max);
  EXPECT_EQ(*max, 30);
  auto devices = cat_->Devices();
  ASSERT_OK(devices);
  EXPECT_EQ(*devices, (std::vector<std::pair<std::string, uint64_t>>{{"mac", 1}, {"pc", 5}}));
  auto pc = cat_->GetTotals("pc");
  ASSERT_OK(pc);
  EXPECT_EQ(pc->versions, 5u);
  EXPECT_EQ(pc->paths, 2u);  // /f and /d; /g is deleted
  EXPECT_EQ(pc->latest_bytes, 150u);
  auto all = cat_->GetTotals("");
  ASSERT_OK(all);
  EXPECT_EQ(all->versions, 6u);
  EXPECT_EQ(all->paths, 3u);
  EXPECT_EQ(all->latest_bytes, 157u);
}

TEST_F(CatalogTest, ClearDropsEverything) {
  OpenCatalog();
  ASSERT_OK(cat_->SetMeta("repo_id", "abc"));
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 10, 1)}));
  ASSERT_OK(cat_->Clear());
  auto segments = cat_->Segments();
  ASSERT_OK(segments);
  EXPECT_TRUE(segments->empty());
  EXPECT_EQ(SizeAt("d", "/a", kLatest), -1);
  EXPECT_TRUE(List("", "/", kLatest, true).empty());
  auto max = cat_->MaxBackupTime();
  ASSERT_OK(max);
  EXPECT_EQ(*max, 0);
  auto meta = cat_->GetMeta("repo_id");
  ASSERT_OK(meta);
  EXPECT_FALSE(meta->has_value());
  // The same segment can be ingested again (a rebuild).
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 10, 1)}));
  EXPECT_EQ(SizeAt("d", "/a", kLatest), 1);
}

TEST_F(CatalogTest, NestedTransactionsAndRollback) {
  OpenCatalog();
  ASSERT_OK(cat_->Begin());
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 10, 1)}));
  ASSERT_OK(cat_->Begin());
  ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {Rec("d", "/b", 10, 2)}));
  ASSERT_OK(cat_->Rollback());  // undoes only /b
  ASSERT_OK(cat_->Commit());
  EXPECT_EQ(SizeAt("d", "/a", kLatest), 1);
  EXPECT_EQ(SizeAt("d", "/b", kLatest), -1);

  ASSERT_OK(cat_->Begin());
  ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {Rec("d", "/c", 10, 3)}));
  ASSERT_OK(cat_->Rollback());
  EXPECT_EQ(SizeAt("d", "/c", kLatest), -1);
  EXPECT_EQ(cat_->Commit().code(), StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, ReopenKeepsData) {
  OpenCatalog();
  VersionRecord r = FullRecord();
  ASSERT_OK(cat_->SetMeta("repo_id", "r1"));
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {r}));
  OpenCatalog();  // closes and reopens
  auto got = cat_->Lookup(r.device, r.path, kLatest);
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, r);
  auto meta = cat_->GetMeta("repo_id");
  ASSERT_OK(meta);
  EXPECT_EQ(*meta, std::optional<std::string>("r1"));
  auto has = cat_->HasSegment(MakeId(1));
  ASSERT_OK(has);
  EXPECT_TRUE(*has);
}

TEST_F(CatalogTest, GarbageFileIsCorruption) {
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage += static_cast<char>((i * 7919) % 251);
  testing::WriteFile(path_, garbage);
  auto c = Catalog::Open(path_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kCorruption) << c.status().ToString();
  // The documented recovery: remove and reopen.
  ASSERT_OK(Catalog::Remove(path_));
  OpenCatalog();
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/a", 1, 1)}));
}

TEST_F(CatalogTest, DamagedPagesAreCorruption) {
  OpenCatalog();
  std::vector<VersionRecord> records;
  for (int i = 0; i < 3000; ++i) records.push_back(Rec("d", "/f" + std::to_string(i), 1, i));
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, records));
  cat_.reset();  // the last close checkpoints the WAL into the main file
  ASSERT_FALSE(fs::exists(path_ + "-wal"));
  auto size = fs::file_size(path_);
  ASSERT_GT(size, 16384u);
  // Keep page 1 (header, schema); smash the rest.
  testing::PatchFile(path_, 4096, std::string(size - 4096, static_cast<char>(0xa5)));
  // With the integrity check, Open reports it.
  auto checked = Catalog::Open(path_, {.check_integrity = true});
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().code(), StatusCode::kCorruption) << checked.status().ToString();
  // Without it, the first read of a damaged page does.
  auto c = Catalog::Open(path_);
  Status st = c.status();
  if (c.ok()) {
    st = (*c)->ListTree("d", "/", kLatest, true, [](const VersionRecord&) { return Status::OK(); });
  }
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
}

TEST_F(CatalogTest, ShortTextFileIsCorruption) {
  testing::WriteFile(path_, "hello\n");
  auto c = Catalog::Open(path_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kCorruption) << c.status().ToString();
}

TEST_F(CatalogTest, OtherSchemaVersionIsCorruption) {
  OpenCatalog();
  cat_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::Open(path_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kCorruption) << c.status().ToString();
}

TEST_F(CatalogTest, ForeignSqliteDatabaseIsCorruption) {
  testing::MakeDirs(fs::path(path_).parent_path().string());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::Open(path_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kCorruption) << c.status().ToString();
}

TEST_F(CatalogTest, HundredThousandRecords) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  OpenCatalog();
  constexpr int kDirs = 1000, kFiles = 100;
  constexpr TimeNs kT1 = 1000, kT2 = 2000, kT3 = 3000;
  auto file_path = [](int d, int f) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "/data/d%04d/f%03d.bin", d, f);
    return std::string(buf);
  };
  auto dir_path = [](int d) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "/data/d%04d", d);
    return std::string(buf);
  };

  std::vector<Catalog::NewSegment> first;
  first.push_back({MakeId(0), {}, {Dir("dev", "/data", kT1)}});
  for (int d = 0; d < kDirs; ++d) {
    std::vector<VersionRecord> seg;
    seg.push_back(Dir("dev", dir_path(d), kT1));
    for (int f = 0; f < kFiles; ++f) {
      VersionRecord r = Rec("dev", file_path(d, f), kT1, 1000 + f);
      r.chunks = {MakeId(d * kFiles + f), MakeId(d * kFiles + f + 1)};
      r.mtime = kT1 - 5;
      seg.push_back(std::move(r));
    }
    first.push_back({MakeId(1 + d), {}, std::move(seg)});
  }
  // Second pass: every 10th file modified at T2; every 50th (offset 25) deleted at T3.
  std::vector<Catalog::NewSegment> second;
  std::vector<VersionRecord> modified, deleted;
  for (int d = 0; d < kDirs; ++d) {
    for (int f = 0; f < kFiles; ++f) {
      if (f % 10 == 0) modified.push_back(Rec("dev", file_path(d, f), kT2, 5));
      if (f % 50 == 25) deleted.push_back(Rec("dev", file_path(d, f), kT3, 0, true));
    }
  }
  second.push_back({MakeId(100001), {}, std::move(modified)});
  second.push_back({MakeId(100002), {}, std::move(deleted)});

  auto t0 = Clock::now();
  ASSERT_OK(cat_->AddSegments(first));
  auto t1 = Clock::now();
  ASSERT_OK(cat_->AddSegments(second));
  auto t2 = Clock::now();

  auto count = [&](std::string_view root, TimeNs at, bool recursive, int64_t* sizes = nullptr) {
    size_t n = 0;
    std::string prev;
    Status st = cat_->ListTree("dev", root, at, recursive, [&](const VersionRecord& r) {
      EXPECT_LT(prev, r.path);  // sorted, no duplicates
      prev = r.path;
      if (sizes != nullptr) *sizes += static_cast<int64_t>(r.size);
      ++n;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return n;
  };
  const size_t total = 1 + kDirs + kDirs * kFiles;
  auto t3 = Clock::now();
  int64_t latest_sizes = 0;
  EXPECT_EQ(count("/", kLatest, true, &latest_sizes), total - kDirs * 2);
  auto t4 = Clock::now();
  int64_t t1_sizes = 0;
  EXPECT_EQ(count("/", kT1, true, &t1_sizes), total);
  auto t5 = Clock::now();
  EXPECT_EQ(count("/", kT2, true), total);
  auto t6 = Clock::now();
  EXPECT_EQ(count("/data/d0500", kT2, false), static_cast<size_t>(kFiles));
  EXPECT_EQ(count("/data/d0500", kLatest, false), static_cast<size_t>(kFiles - 2));
  EXPECT_EQ(count("/data", kLatest, false), static_cast<size_t>(kDirs));
  auto t7 = Clock::now();
  size_t found = 0;
  ASSERT_OK(cat_->Find("dev", "F00?.BIN", [&](const VersionRecord&) {
    ++found;
    return Status::OK();
  }));
  auto t8 = Clock::now();
  EXPECT_EQ(found, static_cast<size_t>(kDirs * 10));

  // At T1 every file has its original size; later every 10th is 5 bytes.
  int64_t file_sizes_t1 = 0;
  for (int f = 0; f < kFiles; ++f) file_sizes_t1 += 1000 + f;
  EXPECT_EQ(t1_sizes, file_sizes_t1 * kDirs);
  EXPECT_LT(latest_sizes, t1_sizes);

  auto t9 = Clock::now();
  auto skip = cat_->LatestForSkip("dev", file_path(123, 45));
  auto t10 = Clock::now();
  ASSERT_OK(skip);
  ASSERT_TRUE(skip->has_value());
  EXPECT_EQ((*skip)->chunks.size(), 2u);

  auto totals = cat_->GetTotals("dev");
  ASSERT_OK(totals);
  EXPECT_EQ(totals->versions, total + kDirs * 10 + kDirs * 2);
  EXPECT_EQ(totals->paths, total - kDirs * 2);

  auto t11 = Clock::now();
  OpenCatalog();
  auto t12 = Clock::now();
  cat_.reset();
  auto checked = Catalog::Open(path_, {.check_integrity = true});
  auto t13 = Clock::now();
  ASSERT_OK(checked);
  cat_ = std::move(checked).value();
  EXPECT_EQ(count("/data/d0999", kLatest, false), static_cast<size_t>(kFiles - 2));

  std::printf(
      "[ timing ] ingest %zu records: %.0f ms; +%d versions: %.0f ms\n"
      "[ timing ] ListTree / recursive: latest %.0f ms, at T1 %.0f ms, at T2 %.0f ms\n"
      "[ timing ] 3 non-recursive listings %.1f ms; Find %.0f ms; LatestForSkip %.3f ms\n"
      "[ timing ] reopen %.0f ms, with quick_check %.0f ms; file %.1f MB\n",
      total, ms(t0, t1), kDirs * 12, ms(t1, t2), ms(t3, t4), ms(t4, t5), ms(t5, t6), ms(t6, t7),
      ms(t7, t8), ms(t9, t10), ms(t11, t12), ms(t12, t13), fs::file_size(path_) / 1e6);
}

}  // namespace
}  // namespace cairn::catalog
