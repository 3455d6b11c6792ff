#include "repo/version_segment.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cairn::repo {
namespace {

TEST(VersionSegmentTest, EveryFieldRoundTrips) {
  VersionSegment s;
  s.run_id.bytes[0] = 9;
  s.sequence = 3;
  s.final = true;
  s.device = "desk";
  s.created = 123456789;
  s.roots = {"/home/u", std::string("/odd\xfe\n")};
  s.files_new = 5;
  s.bytes_stored = 99;
  VersionRecord f;
  f.path = std::string("/home/u/na\nme \xff");
  f.device = "desk";
  f.backup_time = 77;
  f.wall_time = 70;  // the device's clock, behind the ordering time
  f.type = FileType::kFile;
  f.size = 1000;
  f.mode = 0644;
  f.uid = 1000;
  f.gid = 1000;
  f.user = "u";
  f.group = "g";
  f.mtime = 111;
  f.ctime = 222;
  f.inode = 333;
  f.dev = 444;
  f.sparse = true;
  f.content_sha256.bytes[5] = 1;
  Id c1, c2;
  c1.bytes[0] = 1;
  c2.bytes[1] = 2;
  f.chunks = {c1, c2};
  f.xattrs = {{"user.a", Bytes{1, 2, 0, 3}}};
  VersionRecord l;
  l.path = "/home/u/link";
  l.device = "other-device";
  l.backup_time = 78;
  l.type = FileType::kSymlink;
  l.link_target = "../x";
  VersionRecord t;
  t.path = "/home/u/gone";
  t.device = "desk";
  t.backup_time = 79;
  t.wall_time = 3600;
  t.deleted = true;
  s.records = {f, l, t};
  RunInfo run;
  run.run_id.bytes[3] = 7;
  run.device = "desk";
  run.start = 10;
  run.end = 20;
  run.complete = true;
  run.files_new = 1;
  run.files_changed = 2;
  run.files_unchanged = 3;
  run.bytes_read = 4;
  run.bytes_stored = 5;
  run.errors = 6;
  s.runs = {run, RunInfo{}};
  auto back = DecodeSegmentBody(EncodeSegmentBody(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->records, s.records);
  EXPECT_EQ(back->roots, s.roots);
  EXPECT_EQ(back->runs, s.runs);
  EXPECT_EQ(back->run_id, s.run_id);
  EXPECT_EQ(back->sequence, 3u);
  EXPECT_TRUE(back->final);
  EXPECT_EQ(back->files_new, 5u);
  EXPECT_EQ(back->bytes_stored, 99u);
  EXPECT_EQ(back->records[0].WallTime(), 70);
  EXPECT_EQ(back->records[1].wall_time, 0);  // none recorded: WallTime() is the ordering time
  EXPECT_EQ(back->records[1].WallTime(), 78);
  EXPECT_EQ(back->records[2].WallTime(), 3600);
}

// A forget segment (retention): no run, no records, the ids of the versions
// it forgets.
TEST(VersionSegmentTest, ForgetIdsRoundTrip) {
  VersionSegment s;
  s.device = "laptop";
  s.created = 1700000000000000000;
  VersionRecord r;
  r.path = "/home/u/a.txt";
  r.device = "laptop";
  r.backup_time = 5;
  s.forget = {VersionIdOf(r), VersionId{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
  auto back = DecodeSegmentBody(EncodeSegmentBody(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->run_id.IsZero());
  EXPECT_TRUE(back->records.empty());
  EXPECT_EQ(back->forget, s.forget);
  // Without forget ids the key is absent (a version-2 reader's segment).
  s.forget.clear();
  back = DecodeSegmentBody(EncodeSegmentBody(s));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->forget.empty());
}

TEST(VersionSegmentTest, OutputIsStandardCbor) {
  // An independent CBOR decoder reads what we write, with the documented keys.
  VersionSegment s;
  s.device = "desk";
  s.final = true;
  VersionRecord f;
  f.path = "/a\xff";
  f.device = "other";
  f.backup_time = -5;
  f.size = 70000;
  f.user = "u";
  f.rdev = 7;
  f.sparse = true;
  f.link_target = "t";
  f.chunks = {Id{}};
  f.xattrs = {{"user.k", Bytes{9}}};
  VersionRecord t;
  t.path = "/gone";
  t.device = "desk";
  t.deleted = true;
  s.records = {f, t};
  Bytes body = EncodeSegmentBody(s);
  nlohmann::json j = nlohmann::json::from_cbor(body);
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["device"], "desk");
  ASSERT_EQ(j["records"].size(), 2u);
  const auto& r0 = j["records"][0];
  EXPECT_EQ(r0["dv"], "other");
  EXPECT_EQ(r0["bt"], -5);
  EXPECT_EQ(r0["s"], 70000);
  EXPECT_EQ(r0["rdev"], 7);
  EXPECT_EQ(r0["c"].get_binary().size(), 32u);
  EXPECT_EQ(r0["x"][0][1].get_binary()[0], 9);
  EXPECT_EQ(j["records"][1]["del"], true);
  EXPECT_EQ(j["stats"]["files_new"], 0);
  // And we read what a general encoder writes for the same content.
  auto back = DecodeSegmentBody(nlohmann::json::to_cbor(j));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->records, s.records);
}

TEST(VersionSegmentTest, TruncatedIsCorruptionNeverACrash) {
  VersionSegment s;
  s.device = "d";
  VersionRecord f;
  f.path = "/x";
  f.chunks = {Id{}, Id{}};
  s.records = {f, f};
  Bytes body = EncodeSegmentBody(s);
  for (size_t n = 0; n < body.size(); ++n) {
    auto r = DecodeSegmentBody(ByteView(body.data(), n));
    EXPECT_FALSE(r.ok()) << n;
  }
}

TEST(VersionSegmentTest, MalformedIsCorruption) {
  Bytes junk = {0xa1, 0x61, 0x76, 0x05};  // {"v": 5}
  EXPECT_FALSE(DecodeSegmentBody(junk).ok());
  Bytes garbage = {0xff, 0x00, 0x13};
  EXPECT_EQ(DecodeSegmentBody(garbage).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace cairn::repo
