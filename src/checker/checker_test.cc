#include "checker/checker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "backend/local/local_backend.h"
#include "testing/temp_dir.h"

namespace cairn::checker {
namespace {

namespace fs = std::filesystem;
using backend::ObjectType;
using Kind = Finding::Kind;
using Severity = Finding::Severity;

std::shared_ptr<backend::Backend> Local(const std::string& dir) {
  auto be = backend::LocalBackend::Open(dir);
  EXPECT_TRUE(be.ok()) << be.status().ToString();
  return *be;
}

Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x = x * 1103515245u + 12345u;
    c = static_cast<uint8_t>(x >> 16);
  }
  return b;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  ASSERT_TRUE(f.get(c)) << path << " has no byte " << offset;
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

// "device:path" of each affected file, checking that every entry carries
// the version time and the expected "data missing"/"data damaged" label.
std::set<std::string> Paths(const Finding& f, const std::string& label) {
  std::set<std::string> out;
  for (const std::string& a : f.affected_files) {
    size_t at = a.find(" (version of ");
    EXPECT_NE(at, std::string::npos) << a;
    EXPECT_TRUE(a.ends_with(", " + label + ")")) << a;
    out.insert(a.substr(0, at));
  }
  return out;
}

// A small repository of 64 KiB packs, with one finished backup of these
// files (chunk numbers index chunks_):
//   /f/a: 0, 1   /f/b: 2   /f/c: 3, 4, 5   /f/d: 1 (shared with /f/a)
//   /f/gone: a tombstone (references nothing)
class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo::InitOptions o;
    o.kdf = crypto::CheapKdfParams();
    o.pack_size = 64 * 1024;
    auto repo = repo::Repository::Init(Local(dir_.path()), "pw", o);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    for (uint32_t i = 0; i < 6; ++i) {
      Bytes b = Pattern(40000 + i * 100, i);  // two to a 64 KiB pack
      Id id = crypto::KeyedId((*repo)->keys().id_key, b);
      ASSERT_TRUE((*repo)->StoreBlob(repo::BlobType::kData, id, b).ok());
      chunks_.push_back(id);
    }
    files_ = {{"/f/a", {0, 1}}, {"/f/b", {2}}, {"/f/c", {3, 4, 5}}, {"/f/d", {1}}};
    Save(**repo, files_);
    for (const Id& c : chunks_) {
      auto loc = (*repo)->index().Find(c);
      ASSERT_TRUE(loc.has_value());
      pack_of_[c] = (*repo)->index().PackId(loc->pack);
      offset_of_[c] = loc->offset + loc->length / 2;
    }
    // The point of the fixture: damage to one pack affects only some files.
    std::set<Id> packs;
    for (auto& [c, p] : pack_of_) packs.insert(p);
    ASSERT_GE(packs.size(), 3u);
  }

  // Stores records for `files` (paths -> chunk numbers) and one tombstone in
  // one final segment, after flushing the packs they need.
  void Save(repo::Repository& repo, const std::map<std::string, std::vector<int>>& files) {
    ASSERT_TRUE(repo.Flush().ok());
    repo::VersionSegment s;
    s.run_id = crypto::RandomId();
    s.device = "laptop";
    s.final = true;
    for (const auto& [path, numbers] : files) {
      repo::VersionRecord r;
      r.path = path;
      r.device = "laptop";
      r.backup_time = 1700000000ll * 1000000000ll;
      for (int n : numbers) r.chunks.push_back(chunks_[n]);
      s.records.push_back(r);
    }
    repo::VersionRecord gone;
    gone.path = "/f/gone";
    gone.device = "laptop";
    gone.deleted = true;
    s.records.push_back(gone);
    auto id = repo.SaveSegment(s);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    segments_.push_back(*id);
  }

  // A fresh Open, as the CLI does, so nothing cached in memory helps.
  CheckReport Check(bool read_data, const std::string& subset = "") {
    auto repo = repo::Repository::Open(Local(dir_.path()), "pw");
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    if (!repo.ok()) return {};
    CheckOptions o;
    o.read_data = read_data;
    o.subset = subset;
    auto report = RunCheck(**repo, o);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : CheckReport{};
  }

  // "laptop:<path>" of every file referencing a chunk in one of `packs`.
  std::set<std::string> FilesIn(const std::set<Id>& packs) {
    std::set<std::string> out;
    for (const auto& [path, numbers] : files_)
      for (int n : numbers)
        if (packs.count(pack_of_[chunks_[n]])) out.insert("laptop:" + path);
    return out;
  }

  std::string PackFile(const Id& pack) {
    std::string h = pack.Hex();
    return dir_.Sub("data/" + h.substr(0, 2) + "/" + h);
  }
  std::vector<Id> Listed(ObjectType type) {
    std::vector<Id> out;
    EXPECT_TRUE(Local(dir_.path())
                    ->List(type,
                           [&](const backend::ObjectInfo& i) {
                             out.push_back(*Id::FromHex(i.name.name));
                             return Status::OK();
                           })
                    .ok());
    return out;
  }

  cairn::testing::TempDir dir_;
  std::vector<Id> chunks_;
  std::map<std::string, std::vector<int>> files_;
  std::map<Id, Id> pack_of_;          // chunk -> pack
  std::map<Id, uint64_t> offset_of_;  // chunk -> a byte in its middle, in its pack
  std::vector<Id> segments_;
};

TEST_F(CheckerTest, IntactRepositoryHasNoFindings) {
  CheckReport r = Check(true);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.affected_files.empty());
  EXPECT_EQ(r.blobs, chunks_.size());
  EXPECT_EQ(r.segments, 1u);
  EXPECT_EQ(r.records, files_.size() + 1);  // and the tombstone
  EXPECT_EQ(r.packs_read, r.packs);
  EXPECT_GE(r.packs, 3u);
  EXPECT_GT(r.bytes_read, 6u * 40000);
}

TEST_F(CheckerTest, DeletedPackIsMissingAndNamesItsFiles) {
  const Id victim = pack_of_[chunks_[1]];  // /f/a and /f/d, and whatever shares the pack
  ASSERT_TRUE(fs::remove(PackFile(victim)));
  CheckReport r = Check(false);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, Kind::kMissingPack);
  EXPECT_EQ(f.severity, Severity::kError);
  EXPECT_EQ(f.object, "pack " + victim.Hex());
  EXPECT_NE(f.message.find(victim.Hex()), std::string::npos) << f.message;
  std::set<std::string> expected = FilesIn({victim});
  EXPECT_TRUE(expected.count("laptop:/f/a") && expected.count("laptop:/f/d"));
  EXPECT_EQ(Paths(f, "data damaged"), expected);
  // The flat views say the same.
  EXPECT_EQ(r.errors, std::vector<std::string>{f.message});
  EXPECT_EQ(r.affected_files, f.affected_files);
}

TEST_F(CheckerTest, FlippedChunkByteIsFoundOnlyByReadingData) {
  const Id chunk = chunks_[2];  // only /f/b uses it
  const Id pack = pack_of_[chunk];
  FlipByte(PackFile(pack), offset_of_[chunk]);

  // The structure is intact: the pack header still agrees with the index.
  EXPECT_TRUE(Check(false).findings.empty());

  CheckReport r = Check(true);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, Kind::kCorruptChunk);
  EXPECT_EQ(f.object, "pack " + pack.Hex());
  EXPECT_NE(f.message.find(chunk.Hex().substr(0, 16)), std::string::npos) << f.message;
  // Only the file using the damaged chunk, not every file in the pack.
  EXPECT_EQ(Paths(f, "data damaged"), std::set<std::string>{"laptop:/f/b"});
}

TEST_F(CheckerTest, ChunkStoredUnderAnotherIdDoesNotMatchIt) {
  {
    auto repo = repo::Repository::Open(Local(dir_.path()), "pw");
    ASSERT_TRUE(repo.ok());
    // Authentic ciphertext whose content does not hash to its ID, as a
    // buggy or malicious writer holding the keys could store.
    const Id wrong = crypto::RandomId();
    ASSERT_TRUE((*repo)->StoreBlob(repo::BlobType::kData, wrong, Pattern(1000, 99)).ok());
    chunks_.push_back(wrong);
    Save(**repo, {{"/f/liar", {6}}});
  }
  CheckReport r = Check(true);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].kind, Kind::kChunkIdMismatch);
  EXPECT_EQ(Paths(r.findings[0], "data damaged"), std::set<std::string>{"laptop:/f/liar"});
}

TEST_F(CheckerTest, TruncatedPackLosesItsHeader) {
  const Id victim = pack_of_[chunks_[4]];
  fs::resize_file(PackFile(victim), offset_of_[chunks_[4]]);
  CheckReport r = Check(false);
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, Kind::kUnreadablePackHeader);
  EXPECT_EQ(f.object, "pack " + victim.Hex());
  EXPECT_EQ(Paths(f, "data damaged"), FilesIn({victim}));
}

TEST_F(CheckerTest, IndexDisagreeingWithPackHeader) {
  // Rewrite the (only) index object so one entry points past its pack's end:
  // the header no longer agrees, and reading the data finds the pack short.
  std::vector<Id> indexes = Listed(ObjectType::kIndex);
  ASSERT_FALSE(indexes.empty());
  const Id victim = pack_of_[chunks_[5]];
  {
    auto repo = repo::Repository::Open(Local(dir_.path()), "pw");
    ASSERT_TRUE(repo.ok());
    bool changed = false;
    for (const Id& iid : indexes) {
      auto body = (*repo)->LoadSealed(ObjectType::kIndex, "index", iid);
      ASSERT_TRUE(body.ok());
      auto packs = repo::DecodeIndexBody(*body);
      ASSERT_TRUE(packs.ok());
      for (auto& p : *packs)
        for (auto& e : p.entries)
          if (e.id == chunks_[5]) {
            e.offset += 1 << 20;
            changed = true;
          }
      ASSERT_TRUE((*repo)
                      ->SaveSealed(ObjectType::kIndex, "index", crypto::RandomId(),
                                   repo::EncodeIndexBody(*packs))
                      .ok());
      ASSERT_TRUE(fs::remove(dir_.Sub("index/" + iid.Hex())));
    }
    ASSERT_TRUE(changed);
  }
  CheckReport r = Check(false);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].kind, Kind::kPackHeaderMismatch);
  EXPECT_EQ(r.findings[0].object, "pack " + victim.Hex());
  EXPECT_EQ(Paths(r.findings[0], "data damaged"), FilesIn({victim}));

  r = Check(true);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].kind, Kind::kPackHeaderMismatch);
  const Finding& f = r.findings[1];
  EXPECT_EQ(f.kind, Kind::kTruncatedPack);
  EXPECT_EQ(f.object, "pack " + victim.Hex());
  EXPECT_EQ(Paths(f, "data damaged"), std::set<std::string>{"laptop:/f/c"});
}

// The packs a damaged index object listed are intact: their headers say what
// they hold, as restore finds them, so the damage is the index object alone.
TEST_F(CheckerTest, UnreadableIndexIsNamedAndItsPacksAreFoundByTheirHeaders) {
  std::vector<Id> indexes = Listed(ObjectType::kIndex);
  ASSERT_EQ(indexes.size(), 1u);
  const std::string path = dir_.Sub("index/" + indexes[0].Hex());
  FlipByte(path, fs::file_size(path) / 2);
  for (bool read_data : {false, true}) {
    CheckReport r = Check(read_data);
    EXPECT_FALSE(r.ok());

    std::map<Kind, std::vector<const Finding*>> by_kind;
    for (const Finding& f : r.findings) by_kind[f.kind].push_back(&f);
    ASSERT_EQ(by_kind[Kind::kUnreadableIndex].size(), 1u);
    EXPECT_EQ(by_kind[Kind::kUnreadableIndex][0]->object, "index " + indexes[0].Hex());

    // Every pack is now unindexed: a warning each, not an error.
    std::set<std::string> warned;
    for (const Finding* f : by_kind[Kind::kUnindexedPack]) {
      EXPECT_EQ(f->severity, Severity::kWarning);
      EXPECT_NE(f->message.find("its header is readable"), std::string::npos) << f->message;
      warned.insert(f->object);
    }
    std::set<std::string> packs;
    for (auto& [c, p] : pack_of_) packs.insert("pack " + p.Hex());
    EXPECT_EQ(warned, packs);
    EXPECT_EQ(r.warnings.size(), packs.size());

    // No file lost anything: its chunks are in those packs (and, with
    // --read-data, they were read and verified).
    EXPECT_TRUE(by_kind[Kind::kMissingChunk].empty());
    EXPECT_TRUE(r.affected_files.empty());
    EXPECT_EQ(r.findings.size(), 1u + packs.size());
  }
}

TEST_F(CheckerTest, CorruptSegmentIsNamedWithoutFiles) {
  ASSERT_EQ(segments_.size(), 1u);
  const std::string path = dir_.Sub("versions/" + segments_[0].Hex());
  FlipByte(path, fs::file_size(path) / 2);
  CheckReport r = Check(false);
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, Kind::kUnreadableSegment);
  EXPECT_EQ(f.object, "segment " + segments_[0].Hex());
  EXPECT_NE(f.message.find(segments_[0].Hex()), std::string::npos) << f.message;
  // Which files the segment held is what was lost.
  EXPECT_TRUE(f.affected_files.empty());
  EXPECT_EQ(r.records, 0u);
}

TEST_F(CheckerTest, SubsetReadsOneGroupOfPacks) {
  const uint64_t packs = Check(true).packs_read;
  CheckReport first = Check(true, "1/2"), second = Check(true, "2/2");
  EXPECT_EQ(first.packs_read + second.packs_read, packs);
  EXPECT_EQ(first.packs_read, (packs + 1) / 2);
  EXPECT_FALSE(ValidateSubset("0/2").ok());
  EXPECT_FALSE(ValidateSubset("3/2").ok());
  EXPECT_FALSE(ValidateSubset("150%").ok());
  EXPECT_TRUE(ValidateSubset("10%").ok());
}

TEST(KindNameTest, NamesAreDistinctSnakeCase) {
  // kChunkIdMismatch is the last kind.
  std::set<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(Kind::kChunkIdMismatch); ++k) {
    std::string_view n = KindName(static_cast<Kind>(k));
    EXPECT_NE(n, "unknown") << k;
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos) << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Kind::kChunkIdMismatch) + 1);
  EXPECT_EQ(KindName(Kind::kMissingPack), "missing_pack");
}

}  // namespace
}  // namespace cairn::checker
