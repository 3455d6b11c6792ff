#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
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
  r.wall_time = r.backup_time - 3'600'000'000'017;  // the device's clock, behind
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

TEST_F(CatalogTest, RoundTripsEdgeValues) {
  OpenCatalog();
  // Every branch of the record coding: whole-second and nanosecond times,
  // times far from and near the backup time, extremes that overflow a
  // subtraction, types beyond the one-byte flags, odd paths.
  std::vector<VersionRecord> records;
  auto add = [&](std::string path, auto&& change) {
    VersionRecord r = Rec("dev", std::move(path), 1'764'000'000'000'000'000, 7);
    change(r);
    records.push_back(std::move(r));
  };
  add("/whole", [](VersionRecord& r) { r.mtime = 1'600'000'000'000'000'000; });
  add("/ctime-near-backup", [](VersionRecord& r) {
    r.mtime = 1'000'000'000'123'456'789;
    r.ctime = r.backup_time - 5;
  });
  add("/extremes", [](VersionRecord& r) {
    r.mtime = std::numeric_limits<int64_t>::min();
    r.ctime = std::numeric_limits<int64_t>::max();
    r.wall_time = std::numeric_limits<int64_t>::min();
    r.size = ~0ULL;
    r.inode = ~0ULL;
    r.rdev = ~0ULL;
    r.mode = ~0u;
  });
  add("/negative", [](VersionRecord& r) {
    r.backup_time = -3;
    r.wall_time = -1'000'000'000;
    r.mtime = -2'000'000'000;
    r.ctime = -7;
  });
  add("/blockdev", [](VersionRecord& r) {
    r.type = FileType::kBlockDevice;
    r.rdev = 0x0801;
  });
  add("/unknown-type", [](VersionRecord& r) { r.type = static_cast<FileType>(200); });
  add("/hardlink", [](VersionRecord& r) {
    r.type = FileType::kHardlink;
    r.link_target = "/whole";
  });
  add("/owner-only", [](VersionRecord& r) {
    r.user = "ann";
    r.uid = 1000;
  });
  add("/same-owner", [](VersionRecord& r) {
    r.user = "ann";
    r.uid = 1000;
    r.dev = 64769;
  });
  add("/tomb", [](VersionRecord& r) {
    r = VersionRecord();
    r.path = "/tomb";
    r.device = "dev";
    r.backup_time = 9;
    r.deleted = true;
  });
  add("/", [](VersionRecord& r) { r.type = FileType::kDir; });
  add("//double/", [](VersionRecord&) {});
  add("relative/x", [](VersionRecord&) {});
  add("/nul\xff\x01", [](VersionRecord&) {});
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, records));
  for (const VersionRecord& want : records) {
    auto got = cat_->Versions("dev", want.path);
    ASSERT_OK(got);
    ASSERT_EQ(got->size(), 1u) << want.path;
    EXPECT_EQ(got->front(), want) << want.path;
    auto by_id = cat_->VersionById(repo::VersionIdOf(want));
    ASSERT_OK(by_id);
    ASSERT_TRUE(by_id->has_value()) << want.path;
    EXPECT_EQ(**by_id, want) << want.path;
  }
  // Every path once, in byte order, relative ones after the absolute.
  std::vector<std::string> all;
  ASSERT_OK(cat_->Find("", "*", [&](const VersionRecord& r) {
    all.push_back(r.path);
    return Status::OK();
  }));
  std::vector<std::string> want;
  for (const auto& r : records)
    if (!r.deleted) want.push_back(r.path);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all, want);
  // "/" lists what is below it, not the relative path.
  auto listed = List("dev", "/", kLatest, true);
  EXPECT_EQ(listed.size(), want.size() - 1);
  EXPECT_EQ(listed.front(), "dev:/");
  EXPECT_EQ(List("dev", "/", kLatest, false),
            (std::vector<std::string>{"dev:/blockdev", "dev:/ctime-near-backup", "dev:/extremes",
                                      "dev:/hardlink", "dev:/negative", "dev:/nul\xff\x01",
                                      "dev:/owner-only", "dev:/same-owner", "dev:/unknown-type",
                                      "dev:/whole"}));
}

// The history walk retention uses: every (path, device) once, oldest first;
// with lazy paths, the records' paths are empty and path() names the file.
TEST_F(CatalogTest, HistoriesWithLazyPathsMatchTheFullWalk) {
  OpenCatalog();
  ASSERT_OK(cat_->AddSegment(MakeId(300), {},
                             {Rec("a", "/x/one", 30, 1), Rec("a", "/x/two", 10, 2),
                              Rec("b", "/x/one", 20, 3), Rec("a", "/x/one", 5, 4)}));
  std::vector<std::string> full, lazy;
  ASSERT_OK(cat_->ForEachHistory("", [&](std::vector<VersionRecord>&& h) {
    std::string line = h[0].device + " " + h[0].path + ":";
    for (const auto& r : h) line += " " + std::to_string(r.size);
    full.push_back(line);
    return Status::OK();
  }));
  ASSERT_OK(cat_->ForEachHistoryLazyPath(
      "", [&](std::vector<VersionRecord>&& h, const Catalog::PathFn& path) -> Status {
        for (const auto& r : h) EXPECT_TRUE(r.path.empty());
        CAIRN_ASSIGN_OR_RETURN(std::string p, path());
        std::string line = h[0].device + " " + p + ":";
        for (const auto& r : h) line += " " + std::to_string(r.size);
        lazy.push_back(line);
        return Status::OK();
      }));
  std::sort(full.begin(), full.end());
  std::sort(lazy.begin(), lazy.end());
  EXPECT_EQ(full, (std::vector<std::string>{"a /x/one: 4 1", "a /x/two: 2", "b /x/one: 3"}));
  EXPECT_EQ(lazy, full);
}

TEST_F(CatalogTest, VersionByIdFindsTheVersionAmongManySiblings) {
  OpenCatalog();
  std::vector<VersionRecord> records;
  for (int i = 0; i < 3000; ++i) {
    VersionRecord r = Rec("d", "/big/f" + std::to_string(i), 100 + i, i);
    r.content_sha256 = MakeId(i);
    records.push_back(r);
  }
  records.push_back(Rec("d", "/big/f17", 5000, 0, true));  // a tombstone has an id too
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, records));
  for (int i : {0, 17, 1234, 2999, 3000}) {
    auto got = cat_->VersionById(repo::VersionIdOf(records[i]));
    ASSERT_OK(got);
    ASSERT_TRUE(got->has_value()) << i;
    EXPECT_EQ(**got, records[i]);
  }
  VersionRecord other = records[5];
  other.backup_time += 1;  // not ingested
  auto none = cat_->VersionById(repo::VersionIdOf(other));
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
}

// Device b's clock is an hour behind: the hybrid clock (design.md §10) gave
// its versions backup times after a's, but its wall-clock times are its own.
// `at` selects by wall-clock time; order stays by backup time.
TEST_F(CatalogTest, TwoDevicesWithClocksAnHourApart) {
  OpenCatalog();
  constexpr TimeNs kHour = 3'600'000'000'000;
  constexpr TimeNs kMin = kHour / 60;
  auto on = [](std::string device, TimeNs bt, TimeNs wall, uint64_t size, bool deleted = false) {
    VersionRecord r = Rec(std::move(device), "/f", bt, size, deleted);
    r.wall_time = wall;
    return r;
  };
  // a at 10:00 (its clock right); b a moment later by the order, but at
  // 09:00 + 1 ns by its own clock; a again at 11:00.
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {on("a", 10 * kHour, 10 * kHour, 1)}));
  ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {on("b", 10 * kHour + 1, 9 * kHour + 1, 2)}));
  ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {on("a", 11 * kHour, 11 * kHour, 3)}));

  EXPECT_EQ(SizeAt("b", "/f", 9 * kHour), -1);             // b had not made it yet
  EXPECT_EQ(SizeAt("b", "/f", 9 * kHour + 30 * kMin), 2);  // by b's clock, it had
  EXPECT_EQ(SizeAt("a", "/f", 9 * kHour + 30 * kMin), -1);
  EXPECT_EQ(SizeAt("a", "/f", 10 * kHour + 30 * kMin), 1);
  // All devices: the last in order among those made by then.
  EXPECT_EQ(SizeAt("", "/f", 9 * kHour + 30 * kMin), 2);
  EXPECT_EQ(SizeAt("", "/f", 10 * kHour + 30 * kMin), 2);  // b's is after a's in order
  EXPECT_EQ(SizeAt("", "/f", 11 * kHour), 3);
  EXPECT_EQ(SizeAt("", "/f", kLatest), 3);
  EXPECT_EQ(List("", "/", 9 * kHour + 30 * kMin, true), std::vector<std::string>{"b:/f"});
  EXPECT_EQ(List("", "/", 10 * kHour, false), (std::vector<std::string>{"a:/f", "b:/f"}));

  // b's clock is then set right: its next version has a wall time an hour
  // after the previous one's, and one made with the clock set back has a
  // wall time before it. Versions keep the order of backup times.
  ASSERT_OK(cat_->AddSegment(MakeId(4), {}, {on("b", 12 * kHour, 12 * kHour, 4)}));
  ASSERT_OK(cat_->AddSegment(MakeId(5), {}, {on("b", 13 * kHour, 11 * kHour + 30 * kMin, 5)}));
  auto versions = cat_->Versions("b", "/f");
  ASSERT_OK(versions);
  std::vector<uint64_t> sizes;
  for (const auto& v : *versions) sizes.push_back(v.size);
  EXPECT_EQ(sizes, (std::vector<uint64_t>{2, 4, 5}));
  EXPECT_EQ(SizeAt("b", "/f", 11 * kHour + 45 * kMin), 5);  // 4 is after by b's clock
  EXPECT_EQ(SizeAt("b", "/f", 12 * kHour), 5);              // both made: 5 is later in order
  EXPECT_EQ(SizeAt("b", "/f", 11 * kHour), 2);
  int64_t listed = -1;
  ASSERT_OK(cat_->ListTree("b", "/", 11 * kHour + 45 * kMin, true, [&](const VersionRecord& r) {
    listed = static_cast<int64_t>(r.size);
    return Status::OK();
  }));
  EXPECT_EQ(listed, 5);
  listed = -1;
  ASSERT_OK(cat_->ListTree("b", "/", 11 * kHour + 10 * kMin, true, [&](const VersionRecord& r) {
    listed = static_cast<int64_t>(r.size);
    return Status::OK();
  }));
  EXPECT_EQ(listed, 2);

  // A tombstone hides the path from its own wall-clock time on.
  ASSERT_OK(cat_->AddSegment(MakeId(6), {}, {on("a", 14 * kHour, 13 * kHour, 0, true)}));
  EXPECT_EQ(SizeAt("a", "/f", 12 * kHour + 59 * kMin), 3);
  EXPECT_EQ(SizeAt("a", "/f", 13 * kHour), -1);
  EXPECT_EQ(SizeAt("", "/f", 13 * kHour), -1);  // a's tombstone is the last in order
  EXPECT_EQ(List("", "/", kLatest, true), std::vector<std::string>{"b:/f"});
  // Wall-clock times round-trip; a version without one reads back 0.
  auto latest = cat_->Lookup("b", "/f", kLatest);
  ASSERT_OK(latest);
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->wall_time, 11 * kHour + 30 * kMin);
  ASSERT_OK(cat_->AddSegment(MakeId(7), {}, {Rec("c", "/f", 20 * kHour, 9)}));
  auto bare = cat_->Lookup("c", "/f", kLatest);
  ASSERT_OK(bare);
  ASSERT_TRUE(bare->has_value());
  EXPECT_EQ((*bare)->wall_time, 0);
  EXPECT_EQ(SizeAt("c", "/f", 20 * kHour - 1), -1);  // no wall time: its backup time counts
  EXPECT_EQ(SizeAt("c", "/f", 20 * kHour), 9);
}

SegmentInfo Info(uint32_t run, uint32_t seq, bool final, std::string device, TimeNs created) {
  SegmentInfo info;
  info.run_id = MakeId(1000 + run);
  info.sequence = seq;
  info.final = final;
  info.device = std::move(device);
  info.created = created;
  info.roots = {"/home/u", "/etc"};
  if (final) info.stats = {1, 2, 3, 4, 5, 6};
  return info;
}

TEST_F(CatalogTest, RunHistoryFromSegmentHeaders) {
  OpenCatalog();
  auto runs_of = [&](std::string_view device, size_t limit) {
    std::vector<std::pair<Id, bool>> out;
    auto runs = cat_->Runs(device, limit);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    if (runs.ok())
      for (const auto& r : *runs) out.emplace_back(r.run_id, r.complete);
    return out;
  };
  // Run 1 on pc: two checkpoints, the final one ingested first.
  ASSERT_OK(cat_->AddSegment(MakeId(2), Info(1, 1, true, "pc", 200), {Rec("pc", "/a", 20)}));
  ASSERT_OK(cat_->AddSegment(MakeId(1), Info(1, 0, false, "pc", 100), {Rec("pc", "/b", 10)}));
  // Run 2 on pc: interrupted after one checkpoint. Run 3 on mac: complete.
  ASSERT_OK(cat_->AddSegment(MakeId(3), Info(2, 0, false, "pc", 300), {Rec("pc", "/c", 30)}));
  ASSERT_OK(cat_->AddSegment(MakeId(4), Info(3, 0, true, "mac", 250), {Rec("mac", "/d", 25)}));

  auto runs = cat_->Runs("pc", 10);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, MakeId(1002));
  EXPECT_FALSE((*runs)[0].complete);
  EXPECT_EQ((*runs)[0].stats, RunStats());
  EXPECT_EQ((*runs)[0].start, 300);
  RunInfo want{.run_id = MakeId(1001),
               .device = "pc",
               .start = 100,
               .end = 200,
               .complete = true,
               .roots = {"/home/u", "/etc"},
               .stats = {1, 2, 3, 4, 5, 6}};
  EXPECT_EQ((*runs)[1], want);
  EXPECT_EQ(runs_of("", 10),
            (std::vector<std::pair<Id, bool>>{
                {MakeId(1002), false}, {MakeId(1003), true}, {MakeId(1001), true}}));
  EXPECT_EQ(runs_of("", 1), (std::vector<std::pair<Id, bool>>{{MakeId(1002), false}}));
  EXPECT_EQ(runs_of("mac", 10), (std::vector<std::pair<Id, bool>>{{MakeId(1003), true}}));
  EXPECT_TRUE(runs_of("nobody", 10).empty());
  EXPECT_TRUE(runs_of("pc", 0).empty());
  auto last = cat_->LastCompleteRun("pc");
  ASSERT_OK(last);
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(**last, want);
  auto last_any = cat_->LastCompleteRun("");
  ASSERT_OK(last_any);
  ASSERT_TRUE(last_any->has_value());
  EXPECT_EQ((*last_any)->run_id, MakeId(1003));  // ended at 250, after run 1
  auto none = cat_->LastCompleteRun("nobody");
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  // The history outlives the segments: a compaction replaces run 1's two
  // segments by one that is not a run of its own and tells of run 1.
  repo::VersionSegment merged;
  merged.run_id = MakeId(1009);
  merged.device = "pc";
  merged.created = 400;
  merged.supersedes = {MakeId(1), MakeId(2)};
  merged.runs = {{.run_id = MakeId(1001),
                  .device = "pc",
                  .start = 100,
                  .end = 200,
                  .complete = true,
                  .files_new = 1,
                  .files_changed = 2,
                  .files_unchanged = 3,
                  .bytes_read = 4,
                  .bytes_stored = 5,
                  .errors = 6}};
  const SegmentInfo compacted = SegmentInfo::Of(merged);
  EXPECT_TRUE(compacted.compacted);
  ASSERT_OK(cat_->RemoveSegments({MakeId(1), MakeId(2)}));
  ASSERT_OK(cat_->AddSegment(MakeId(5), compacted, {Rec("pc", "/a", 20), Rec("pc", "/b", 10)}));
  EXPECT_EQ(runs_of("pc", 10),
            (std::vector<std::pair<Id, bool>>{{MakeId(1002), false}, {MakeId(1001), true}}));
  auto still = cat_->LastCompleteRun("pc");
  ASSERT_OK(still);
  ASSERT_TRUE(still->has_value());
  EXPECT_EQ(**still, want);

  // A superseded segment never ingested still brings its run (once); a
  // segment without a run id brings none.
  ASSERT_OK(cat_->AddRunHistory(Info(4, 0, true, "pc", 500)));
  ASSERT_OK(cat_->AddRunHistory(Info(4, 0, true, "pc", 500)));
  ASSERT_OK(cat_->AddSegment(MakeId(6), SegmentInfo(), {Rec("pc", "/e", 60)}));
  EXPECT_EQ(runs_of("pc", 10),
            (std::vector<std::pair<Id, bool>>{
                {MakeId(1004), true}, {MakeId(1002), false}, {MakeId(1001), true}}));
  // The interrupted run completes when its final segment arrives later.
  ASSERT_OK(cat_->AddSegment(MakeId(7), Info(2, 1, true, "pc", 350), {}));
  runs = cat_->Runs("pc", 10);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_TRUE((*runs)[1].complete);
  EXPECT_EQ((*runs)[1].start, 300);
  EXPECT_EQ((*runs)[1].end, 350);
  EXPECT_EQ((*runs)[1].stats, (RunStats{1, 2, 3, 4, 5, 6}));
  // A failed batch adds no run.
  Status st = cat_->AddSegments({{MakeId(8), Info(5, 0, true, "pc", 600), {Rec("pc", "/f", 1)}},
                                 {MakeId(9), {}, {Rec("pc", "", 1)}}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(runs_of("pc", 10).size(), 3u);

  ASSERT_OK(cat_->Clear());
  EXPECT_TRUE(runs_of("", 10).empty());
  // A catalog rebuilt after the compaction learns run 1 from the compacted
  // segment alone (without its roots, which only the run's own segments name).
  ASSERT_OK(cat_->AddSegment(MakeId(5), compacted, {Rec("pc", "/a", 20), Rec("pc", "/b", 10)}));
  auto rebuilt = cat_->Runs("pc", 10);
  ASSERT_OK(rebuilt);
  RunInfo without_roots = want;
  without_roots.roots.clear();
  EXPECT_EQ(*rebuilt, std::vector<RunInfo>{without_roots});
}

// Counts rows of a catalog table through a separate connection.
int64_t CountRows(const std::string& db_path, const char* table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  std::string sql = std::string("SELECT COUNT(*) FROM ") + table;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  int64_t n = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

TEST_F(CatalogTest, RemovedPathsLeaveNoNames) {
  OpenCatalog();
  ASSERT_OK(cat_->AddSegment(MakeId(1), {},
                             {Dir("a", "/x", 1), Dir("a", "/x/y", 1), Rec("a", "/x/y/f", 1),
                              Rec("a", "/x/y/deep/er/g", 1), Rec("b", "/x/y/h", 1)}));
  ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {Rec("a", "/x/z/k", 2)}));
  // ("", x, y, f, deep, er, g, h, z, k)
  EXPECT_EQ(CountRows(path_, "names"), 10);
  ASSERT_OK(cat_->RemoveSegments({MakeId(1)}));
  EXPECT_EQ(List("", "/", kLatest, true), std::vector<std::string>{"a:/x/z/k"});
  EXPECT_EQ(CountRows(path_, "names"), 4);  // "", x, z, k
  EXPECT_EQ(CountRows(path_, "nodes"), 4);
  // Names come back with their versions.
  ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {Rec("b", "/x/y/h", 3)}));
  EXPECT_EQ(List("", "/x", kLatest, true), (std::vector<std::string>{"b:/x/y/h", "a:/x/z/k"}));
  ASSERT_OK(cat_->RemoveSegments({MakeId(2), MakeId(3)}));
  EXPECT_EQ(CountRows(path_, "names"), 0);
  EXPECT_EQ(CountRows(path_, "versions"), 0);
}

// A connection remembers the folders of the paths it resolved; another
// connection that removes those folders (their ids then given to other
// names) must not make it answer for the wrong path.
TEST_F(CatalogTest, ResolvedPathsFollowOtherConnections) {
  OpenCatalog();
  auto other = Catalog::Open(path_);
  ASSERT_OK(other);
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {Rec("d", "/x/y/z", 1, 1)}));
  auto before = cat_->LatestForSkip("d", "/x/y/z");
  ASSERT_OK(before);
  ASSERT_TRUE(before->has_value());
  ASSERT_OK((*other)->RemoveSegments({MakeId(1)}));
  ASSERT_OK((*other)->AddSegment(MakeId(2), {}, {Rec("d", "/p/q/r", 2, 2)}));
  auto after = cat_->LatestForSkip("d", "/x/y/z");
  ASSERT_OK(after);
  EXPECT_FALSE(after->has_value());
  auto moved = cat_->LatestForSkip("d", "/p/q/r");
  ASSERT_OK(moved);
  ASSERT_TRUE(moved->has_value());
  EXPECT_EQ((*moved)->size, 2u);
  EXPECT_EQ(SizeAt("d", "/x/y/z", kLatest), -1);
  auto by_id = cat_->VersionById(repo::VersionIdOf(Rec("d", "/p/q/r", 2, 2)));
  ASSERT_OK(by_id);
  ASSERT_TRUE(by_id->has_value());
  EXPECT_EQ((*by_id)->path, "/p/q/r");
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

// Retention: a forget segment's ids take their versions out of every answer,
// whichever arrives first, and removing the forget segment itself (merged by
// a compaction) does not bring them back.
TEST_F(CatalogTest, ForgottenVersionsAreGoneWhateverTheOrderOfArrival) {
  const VersionRecord a1 = Rec("d", "/a", 10, 1), a2 = Rec("d", "/a", 20, 2),
                      a3 = Rec("d", "/a", 30, 3), b1 = Rec("d", "/b", 10, 4);
  SegmentInfo forget;
  forget.forget = {repo::VersionIdOf(a3), repo::VersionIdOf(a1), repo::VersionIdOf(b1)};
  auto sizes = [&](std::string_view path) {
    std::vector<uint64_t> out;
    auto v = cat_->Versions("d", path);
    EXPECT_OK(v);
    if (v.ok())
      for (const auto& r : *v) out.push_back(r.size);
    return out;
  };
  for (bool forget_first : {false, true}) {
    SCOPED_TRACE(forget_first ? "forget segment first" : "records first");
    cat_.reset();
    ASSERT_OK(Catalog::Remove(path_));
    OpenCatalog();
    if (forget_first) ASSERT_OK(cat_->AddSegment(MakeId(9), forget, {}));
    ASSERT_OK(cat_->AddSegment(MakeId(1), {}, {a1, b1}));
    ASSERT_OK(cat_->AddSegment(MakeId(2), {}, {a2, a3}));
    if (!forget_first) ASSERT_OK(cat_->AddSegment(MakeId(9), forget, {}));
    EXPECT_EQ(sizes("/a"), std::vector<uint64_t>{2});
    auto latest = cat_->Lookup("d", "/a", kLatest);
    ASSERT_OK(latest);
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ((*latest)->size, 2u);  // the newest was forgotten: the one before is latest
    EXPECT_EQ(List("d", "/", kLatest, true), std::vector<std::string>{"d:/a"});  // /b is gone
    auto by_id = cat_->VersionById(repo::VersionIdOf(a3));
    ASSERT_OK(by_id);
    EXPECT_FALSE(by_id->has_value());
    // The forget segment merged away (its ids live on in the compacted one):
    // nothing comes back, not even when the records' segment is met again.
    ASSERT_OK(cat_->RemoveSegments({MakeId(9)}));
    ASSERT_OK(cat_->RemoveSegments({MakeId(2)}));
    ASSERT_OK(cat_->AddSegment(MakeId(3), {}, {a2, a3}));
    EXPECT_EQ(sizes("/a"), std::vector<uint64_t>{2});
  }
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

// A page of a folder: (device:path of each entry, the name to list after next).
struct Page {
  std::vector<std::string> entries;
  std::string next;
  bool operator==(const Page&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Page& p) {
  os << "{";
  for (const auto& e : p.entries) os << e << " ";
  return os << "| next \"" << p.next << "\"}";
}

Page ListPage(Catalog& cat, std::string_view device, std::string_view root, TimeNs at,
              std::string_view after, size_t limit) {
  Page p;
  auto next = cat.ListChildren(device, root, at, after, limit, [&](const VersionRecord& r) {
    p.entries.push_back(r.device + ":" + r.path);
    return Status::OK();
  });
  EXPECT_TRUE(next.ok()) << next.status().ToString();
  if (next.ok()) p.next = *next;
  return p;
}

TEST_F(TreeTest, PagesOfAFolderInNameOrder) {
  using V = std::vector<std::string>;
  // Children of /a on device a: b, b-x, b.txt, b2 (bytes: '-' < '.' < '2').
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "", 2), (Page{V{"a:/a/b", "a:/a/b-x"}, "b-x"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "b-x", 2),
            (Page{V{"a:/a/b.txt", "a:/a/b2"}, ""}));  // nothing follows
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "", 3),
            (Page{V{"a:/a/b", "a:/a/b-x", "a:/a/b.txt"}, "b.txt"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "", 4),
            (Page{V{"a:/a/b", "a:/a/b-x", "a:/a/b.txt", "a:/a/b2"}, ""}));
  // No limit: everything after `after`, which need not be a name.
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "b", 0),
            (Page{V{"a:/a/b-x", "a:/a/b.txt", "a:/a/b2"}, ""}));
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "b-", 1), (Page{V{"a:/a/b-x"}, "b-x"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/a", kLatest, "zzz", 10), (Page{V{}, ""}));
  // Without paging, as ListTree.
  Page all = ListPage(*cat_, "a", "/a", kLatest, "", 0);
  EXPECT_EQ(all.entries, List("a", "/a", kLatest, false));
  EXPECT_EQ(all.next, "");
  // "/": its children but "/" itself (the name "" under the first node).
  EXPECT_EQ(ListPage(*cat_, "a", "/", kLatest, "", 1), (Page{V{"a:/a"}, "a"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/", kLatest, "a", 1), (Page{V{"a:/z"}, ""}));
  // Deleted at 20: there at 15, not now.
  EXPECT_EQ(ListPage(*cat_, "a", "/a/b/c", 15, "", 1), (Page{V{"a:/a/b/c/d"}, ""}));
  EXPECT_EQ(ListPage(*cat_, "a", "/a/b/c", kLatest, "", 1), (Page{V{}, ""}));
  // Every device: the entries of one name are never split between pages.
  EXPECT_EQ(ListPage(*cat_, "", "/a/b", kLatest, "", 1), (Page{V{"a:/a/b/c", "b:/a/b/c"}, "c"}));
  EXPECT_EQ(ListPage(*cat_, "", "/a/b", kLatest, "c", 1), (Page{V{"b:/a/b/e"}, ""}));
  // A folder or a device the catalog does not know: nothing.
  EXPECT_EQ(ListPage(*cat_, "a", "/nowhere", kLatest, "", 5), (Page{V{}, ""}));
  EXPECT_EQ(ListPage(*cat_, "nobody", "/a", kLatest, "", 5), (Page{V{}, ""}));
  EXPECT_EQ(cat_->ListChildren("a", "a", kLatest, "", 1,
                               [](const VersionRecord&) { return Status::OK(); })
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(TreeTest, APageEndsWhereOnlyDeletedOrLaterChildrenFollow) {
  using V = std::vector<std::string>;
  ASSERT_OK(cat_->AddSegment(MakeId(3), {},
                             {Dir("a", "/m", 30), Rec("a", "/m/x1", 30), Rec("a", "/m/x2", 30),
                              Rec("a", "/m/x3", 30), Rec("a", "/m/x4", 50), Rec("a", "/m/x5", 30),
                              Rec("a", "/m/x2", 40, 0, true), Rec("a", "/m/x3", 40, 0, true)}));
  // x2 and x3 are deleted: the page after x1 is x4, and after x5 nothing.
  EXPECT_EQ(ListPage(*cat_, "a", "/m", kLatest, "", 1), (Page{V{"a:/m/x1"}, "x1"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/m", kLatest, "x1", 1), (Page{V{"a:/m/x4"}, "x4"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/m", kLatest, "x4", 1), (Page{V{"a:/m/x5"}, ""}));
  // At 35 x2 and x3 exist, x4 does not yet.
  EXPECT_EQ(ListPage(*cat_, "a", "/m", 35, "", 3),
            (Page{V{"a:/m/x1", "a:/m/x2", "a:/m/x3"}, "x3"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/m", 35, "x3", 3), (Page{V{"a:/m/x5"}, ""}));
  // At 45 only x1 and x5: one page of 1 has a next page, the one after none.
  EXPECT_EQ(ListPage(*cat_, "a", "/m", 45, "", 1), (Page{V{"a:/m/x1"}, "x1"}));
  EXPECT_EQ(ListPage(*cat_, "a", "/m", 45, "x1", 1), (Page{V{"a:/m/x5"}, ""}));
  // A callback's error stops the page and is returned.
  int calls = 0;
  auto st = cat_->ListChildren("a", "/m", kLatest, "", 0, [&](const VersionRecord&) {
    return ++calls == 2 ? Status::Cancelled("enough") : Status::OK();
  });
  EXPECT_EQ(st.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
}

// Names are bytes: a page boundary compares them as unsigned bytes, as the
// listing sorts them.
TEST_F(CatalogTest, PagesCompareNamesAsBytes) {
  OpenCatalog();
  const std::string hi = "\xc3\xa9t\xc3\xa9";  // "été" in UTF-8: sorts after ASCII
  ASSERT_OK(cat_->AddSegment(
      MakeId(1), {},
      {Dir("d", "/f", 1), Rec("d", "/f/Zed", 1), Rec("d", "/f/" + hi, 1), Rec("d", "/f/abc", 1),
       Rec("d", "/f/ab", 1), Rec("d", std::string("/f/a\x01", 4), 1)}));
  std::vector<std::string> paged;
  std::string after;
  do {
    Page p = ListPage(*cat_, "d", "/f", kLatest, after, 1);
    ASSERT_EQ(p.entries.size(), 1u);
    paged.push_back(p.entries[0]);
    after = p.next;
  } while (!after.empty() && paged.size() < 10);
  EXPECT_EQ(paged, (std::vector<std::string>{"d:/f/Zed", std::string("d:/f/a\x01", 6), "d:/f/ab",
                                             "d:/f/abc", "d:/f/" + hi}));
  EXPECT_EQ(paged, List("d", "/f", kLatest, false));
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
  // With include_deleted, a path whose latest version is a deletion is
  // found as that record, in path order; one recreated since is not.
  std::vector<std::string> with_deleted;
  ASSERT_OK(cat_->Find(
      "a", "*.txt",
      [&](const VersionRecord& r) {
        with_deleted.push_back(
            r.path + (r.deleted ? " deleted@" + std::to_string(r.backup_time) : std::string()));
        return Status::OK();
      },
      FindOptions{.include_deleted = true}));
  EXPECT_EQ(with_deleted, (std::vector<std::string>{"/a/B2.TXT", "/a/b.txt",
                                                    "/a/gone.txt deleted@2", "/a/old.txt"}));
  // Only the latest version is reported.
  int64_t size = -1;
  ASSERT_OK(cat_->Find("a", "old.txt", [&](const VersionRecord& r) {
    size = static_cast<int64_t>(r.size);
    return Status::OK();
  }));
  EXPECT_EQ(size, 7);
}

// A plain word ("*word*") is matched name by name, a folder's match handed
// down to everything below it; an escaped letter makes the same pattern a
// glob matched against full paths. Both must find the same paths.
TEST_F(CatalogTest, FindPlainWordFindsWhatTheGlobFinds) {
  OpenCatalog();
  std::vector<VersionRecord> recs = {Dir("a", "/src", 1),
                                     Dir("a", "/src/MuTeXes", 1),
                                     Rec("a", "/src/MuTeXes/a.c", 1),
                                     Dir("a", "/src/MuTeXes/deep", 1),
                                     Rec("a", "/src/MuTeXes/deep/b.h", 1),
                                     Rec("a", "/src/lock_mutex.c", 1),
                                     Rec("a", "/src/mute.c", 1),
                                     Rec("a", "/src/mmutexx", 1),
                                     Rec("a", "/mutex", 1),
                                     Rec("a", "/src/gone_mutex.c", 1),
                                     Rec("a", "/src/gone_mutex.c", 2, 0, true)};
  // Names from a few pieces, so that some contain the word by chance.
  uint32_t seed = 12345;
  auto next = [&seed] { return (seed = seed * 1103515245u + 12345u) >> 16; };
  std::set<std::string> seen;
  for (int i = 0; i < 300; ++i) {
    std::string path;
    const int depth = 1 + static_cast<int>(next() % 3);
    for (int d = 0; d < depth; ++d) {
      std::string name;
      static const char* const kPieces[] = {"mu", "tex", "MUT", "eX", "x", "m", "."};
      const int len = 1 + static_cast<int>(next() % 3);
      for (int k = 0; k < len; ++k) name += kPieces[next() % 7];
      path += "/" + name;
      if (!seen.insert(path).second) continue;
      recs.push_back(d + 1 < depth ? Dir("a", path, 1) : Rec("a", path, 1));
    }
  }
  ASSERT_OK(cat_->AddSegment(MakeId(1), {}, recs));
  const std::vector<std::string> plain = FindPaths("a", "*MUTEX*");
  EXPECT_EQ(plain, FindPaths("a", "*MUT\\EX*"));
  EXPECT_EQ(plain, FindPaths("a", "*mut\\ex*"));
  for (const char* p : {"a:/mutex", "a:/src/MuTeXes", "a:/src/MuTeXes/a.c", "a:/src/MuTeXes/deep",
                        "a:/src/MuTeXes/deep/b.h", "a:/src/lock_mutex.c", "a:/src/mmutexx"}) {
    EXPECT_NE(std::find(plain.begin(), plain.end(), p), plain.end()) << p;
  }
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "a:/src/mute.c"), plain.end());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "a:/src/gone_mutex.c"), plain.end());
  EXPECT_GT(plain.size(), 20u);  // the random names matched too
  EXPECT_TRUE(std::is_sorted(plain.begin(), plain.end()));
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
  records.reserve(3000);
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
      ms(t7, t8), ms(t9, t10), ms(t11, t12), ms(t12, t13),
      static_cast<double>(fs::file_size(path_)) / 1e6);
}

// The web dashboard's folder view (docs/api.md, /api/files): the first page
// of a folder of 100,000 files costs about the page, not the folder. Prints
// the times (not asserted: the machine decides them).
TEST_F(CatalogTest, FirstPageOfAHundredThousandFileFolder) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  OpenCatalog();
  constexpr int kFiles = 100'000, kPage = 200;
  constexpr TimeNs kT1 = 1000, kT2 = 2000;
  auto name = [](int i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "file-%06d.dat", i);
    return std::string(buf);
  };
  std::vector<Catalog::NewSegment> segments;
  segments.push_back({MakeId(0), {}, {Dir("dev", "/home", kT1), Dir("dev", "/home/big", kT1)}});
  for (int s = 0; s < 10; ++s) {
    std::vector<VersionRecord> seg;
    for (int i = s * kFiles / 10; i < (s + 1) * kFiles / 10; ++i) {
      VersionRecord r = Rec("dev", "/home/big/" + name(i), kT1, 1000 + i);
      r.chunks = {MakeId(i)};
      seg.push_back(std::move(r));
    }
    segments.push_back({MakeId(1 + s), {}, std::move(seg)});
  }
  // Later: the first 100 files deleted, every 10th of the others changed.
  std::vector<VersionRecord> later;
  for (int i = 0; i < kFiles; ++i) {
    if (i < 100)
      later.push_back(Rec("dev", "/home/big/" + name(i), kT2, 0, true));
    else if (i % 10 == 0)
      later.push_back(Rec("dev", "/home/big/" + name(i), kT2, 7));
  }
  segments.push_back({MakeId(100), {}, std::move(later)});
  ASSERT_OK(cat_->AddSegments(segments));
  OpenCatalog();  // a cold connection, as a web request's reader has

  auto page = [&](TimeNs at, const std::string& after, size_t limit,
                  std::vector<std::string>* out) {
    auto next =
        cat_->ListChildren("dev", "/home/big", at, after, limit, [&](const VersionRecord& r) {
          out->push_back(r.path);
          return Status::OK();
        });
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    return next.ok() ? *next : std::string("error");
  };
  std::vector<std::string> first;
  auto t0 = Clock::now();
  std::string next = page(kLatest, "", kPage, &first);
  auto t1 = Clock::now();
  ASSERT_EQ(first.size(), static_cast<size_t>(kPage));
  EXPECT_EQ(first.front(), "/home/big/" + name(100));  // past the 100 deleted
  EXPECT_EQ(next, name(100 + kPage - 1));
  std::vector<std::string> middle;
  auto t2 = Clock::now();
  page(kLatest, name(50'000), kPage, &middle);
  auto t3 = Clock::now();
  ASSERT_EQ(middle.size(), static_cast<size_t>(kPage));
  EXPECT_EQ(middle.front(), "/home/big/" + name(50'001));
  std::vector<std::string> past;  // as of T1: every 10th file needs its older version
  auto t4 = Clock::now();
  page(kT1 + 1, "", kPage, &past);
  auto t5 = Clock::now();
  ASSERT_EQ(past.size(), static_cast<size_t>(kPage));
  EXPECT_EQ(past.front(), "/home/big/" + name(0));
  // The whole folder at once (what every page cost before paging).
  std::vector<std::string> whole;
  auto t6 = Clock::now();
  ASSERT_OK(cat_->ListTree("dev", "/home/big", kLatest, false, [&](const VersionRecord& r) {
    whole.push_back(r.path);
    return Status::OK();
  }));
  auto t7 = Clock::now();
  ASSERT_EQ(whole.size(), static_cast<size_t>(kFiles - 100));
  // Page after page gives the same listing.
  std::vector<std::string> paged;
  std::string after;
  size_t pages = 0;
  auto t8 = Clock::now();
  do {
    after = page(kLatest, after, 1000, &paged);
    ++pages;
  } while (!after.empty() && pages < 1000);
  auto t9 = Clock::now();
  EXPECT_EQ(paged, whole);
  EXPECT_EQ(pages, static_cast<size_t>((kFiles - 100 + 999) / 1000));

  std::printf(
      "[ timing ] folder of %d files, pages of %d: first page %.2f ms, page from the middle "
      "%.2f ms, first page as of a past time %.2f ms; the whole folder %.0f ms; %zu pages of "
      "1000: %.0f ms\n",
      kFiles, kPage, ms(t0, t1), ms(t2, t3), ms(t4, t5), ms(t6, t7), pages, ms(t8, t9));
}

}  // namespace
}  // namespace cairn::catalog
