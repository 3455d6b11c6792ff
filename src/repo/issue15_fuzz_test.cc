// Regressions of what the fuzz targets (fuzz/, issue 15) found in the
// format's readers; each input is also in fuzz/regressions/<target>/.
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "repo/cbor.h"
#include "repo/generation.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/repo_config.h"
#include "repo/repo_lock.h"
#include "repo/version_id.h"
#include "repo/version_segment.h"

namespace cairn::repo {
namespace {

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Holds one object; Load answers `cut` bytes fewer than asked.
class ShortBackend : public backend::Backend {
 public:
  ShortBackend(Bytes data, size_t cut) : data_(std::move(data)), cut_(cut) {}
  std::string Location() const override { return "short:"; }
  Status Create() override { return Status::OK(); }
  Result<bool> HasAnyObject() override { return true; }
  Status Save(const backend::ObjectName&, ByteView) override { return Status::IOError("ro"); }
  Result<std::string> Replace(const backend::ObjectName&, ByteView, const std::string&) override {
    return Status::IOError("ro");
  }
  Result<Bytes> Load(const backend::ObjectName&, uint64_t offset, uint64_t length) override {
    uint64_t n = std::min<uint64_t>(length, data_.size() - offset);
    n -= std::min<uint64_t>(n, cut_);
    return Bytes(data_.data() + offset, data_.data() + offset + n);
  }
  Result<backend::ObjectInfo> Stat(const backend::ObjectName&) override {
    return Status::NotFound("x");
  }
  Status List(backend::ObjectType,
              const std::function<Status(const backend::ObjectInfo&)>&) override {
    return Status::OK();
  }
  Status Remove(const backend::ObjectName&) override { return Status::IOError("ro"); }
  Result<std::unique_ptr<backend::BackendLock>> TryLock(std::string_view,
                                                        std::chrono::seconds) override {
    return Status::IOError("no");
  }

 private:
  Bytes data_;
  size_t cut_;
};

// fuzz/regressions/pack_trailer: a storage answering a ranged load with
// fewer bytes than asked made ReadPackHeader read before its buffer.
TEST(Issue15FuzzTest, PackHeaderOfAShortAnswerIsTruncatedNotReadBeforeTheBuffer) {
  crypto::Init();
  const crypto::Key key = crypto::Key::Random();
  const Id id = crypto::RandomId();
  PackEntry e;
  e.id = crypto::RandomId();
  e.length = 10;
  e.raw_length = 10;
  Bytes pack(10, 0);
  FinishPack(key, id, {e}, pack);
  for (size_t cut : {size_t{1}, size_t{4}, pack.size()}) {
    ShortBackend be(pack, cut);
    auto h = ReadPackHeader(be, key, id, pack.size());
    ASSERT_FALSE(h.ok()) << "cut " << cut;
    EXPECT_EQ(h.error().code(), StatusCode::kCorruption);
  }
  ShortBackend whole(pack, 0);
  auto h = ReadPackHeader(whole, key, id, pack.size());
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->size(), 1u);
}

// fuzz/regressions/lock_decode: a number with an exponent was cast to an
// integer out of its range (undefined behaviour).
TEST(Issue15FuzzTest, LockNumbersThatAreNotWholeInt64sAreCorruption) {
  for (const char* body :
       {R"({"host":"h","pid":1,"exclusive":true,"created":1,"expires":1.76e20})",
        R"({"host":"h","pid":1e300,"exclusive":true,"created":1,"expires":2})",
        R"({"host":"h","pid":1,"exclusive":true,"created":18446744073709551615,"expires":2})",
        R"({"host":"h","pid":1,"exclusive":true,"created":1,"expires":2,"priority_until":0.5})"}) {
    auto l = DecodeLock(Id(), B(body));
    ASSERT_FALSE(l.ok()) << body;
    EXPECT_EQ(l.error().code(), StatusCode::kCorruption) << body;
  }
  auto ok =
      DecodeLock(Id(), B(R"({"host":"h","pid":7,"exclusive":false,"created":5,"expires":9})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->pid, 7);
  EXPECT_EQ(ok->expires, 9);
}

// A lock's times are whatever its writer put there: deciding whether it
// blocks must not overflow (an intent created at the end of time).
TEST(Issue15FuzzTest, AnIntentCreatedAtTheEndOfTimeDoesNotOverflow) {
  LockInfo l;
  l.intent = true;
  l.created = INT64_MAX;
  l.priority_until = INT64_MAX;
  l.expires = 0;  // never expires
  EXPECT_TRUE(l.BlocksShared(0));
  EXPECT_FALSE(l.BlocksExclusive(0));
}

// fuzz/regressions/generation.
TEST(Issue15FuzzTest, GenerationNumbersThatAreNotWholeAreCorruption) {
  for (const char* body :
       {R"({"generation":1,"time":1.764e21})", R"({"generation":-1})", R"({"generation":2.5})"}) {
    auto g = DecodeGeneration(B(body));
    ASSERT_FALSE(g.ok()) << body;
    EXPECT_EQ(g.error().code(), StatusCode::kCorruption) << body;
  }
  auto g = DecodeGeneration(B(R"({"generation":3,"time":12})"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->number, 3u);
  EXPECT_EQ(g->time, 12);
}

// fuzz/regressions/key_slot: a slot's version 1e300 was cast to int
// (undefined behaviour), and a slot whose base64 is broken was
// InvalidArgument instead of the Corruption that key.h promises.
TEST(Issue15FuzzTest, MalformedKeySlotsAreCorruption) {
  const std::string good_wrapped = std::string(224, 'A');  // 168 bytes of base64
  auto slot = [&](const std::string& version, const std::string& salt, const std::string& wrapped) {
    return B(R"({"version":)" + version +
             R"(,"kdf":"argon2id13","aead":"xchacha20-poly1305","opslimit":1,)"
             R"("memlimit":8192,"salt":")" +
             salt + R"(","wrapped":")" + wrapped + R"("})");
  };
  const std::string salt = "BwcHBwcHBwcHBwcHBwcHBw==";
  EXPECT_TRUE(DecodeKeySlot(Id(), slot("1", salt, good_wrapped)).ok());
  for (const Bytes& bad : {slot("1e300", salt, good_wrapped), slot("1.5", salt, good_wrapped),
                           slot("1", salt, good_wrapped.substr(0, 100) + ";" + "AAA"),
                           slot("1", "not base64!", good_wrapped)}) {
    auto s = DecodeKeySlot(Id(), bad);
    ASSERT_FALSE(s.ok()) << AsString(bad);
    EXPECT_EQ(s.error().code(), StatusCode::kCorruption) << AsString(bad);
  }
}

// fuzz/regressions/repo_config: a malformed seed or id was InvalidArgument,
// not Corruption; a version 1e300 was cast out of range.
TEST(Issue15FuzzTest, MalformedConfigsAreCorruption) {
  RepoConfig c;
  c.chunker.seed.fill(1);
  std::string good = std::string(AsString(EncodeRepoConfig(c)));
  ASSERT_TRUE(DecodeRepoConfig(B(good)).ok());
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return B(s.replace(at, from.size(), to));
  };
  const std::string seed = HexEncode(c.chunker.seed);
  for (const Bytes& bad :
       {with(seed, seed.substr(0, 62) + "zz"), with("\"version\":3", "\"version\":1e300"),
        with("\"min_size\":262144", "\"min_size\":4294967296"),
        with("\"min_size\":262144", "\"min_size\":1")}) {
    auto r = DecodeRepoConfig(bad);
    ASSERT_FALSE(r.ok()) << AsString(bad);
    EXPECT_EQ(r.error().code(), StatusCode::kCorruption) << AsString(bad);
  }
}

// fuzz/regressions/segment_decode: a content hash on a record that is not a
// file was read but never written back, so a compaction changed the
// version's id.
TEST(Issue15FuzzTest, ContentOfARecordThatIsNoFileIsIgnoredSoRecordsRoundTrip) {
  // A segment as another writer could make it: a symlink with "h" and "c".
  Bytes body;
  CborWriter w(body);
  w.Map(3);
  w.Text("v");
  w.Uint(1);
  w.Text("device");
  w.Text("d");
  w.Text("records");
  w.Array(1);
  w.Map(6);
  w.Text("p");
  w.ByteString(std::string_view("/a"));
  w.Text("bt");
  w.Int(5);
  w.Text("t");
  w.Uint(static_cast<uint64_t>(FileType::kSymlink));
  w.Text("l");
  w.ByteString(std::string_view("b"));
  w.Text("h");
  w.ByteString(Bytes(32, 7));
  w.Text("c");
  w.ByteString(Bytes(64, 8));
  auto once = DecodeSegmentBody(body);
  ASSERT_TRUE(once.ok()) << once.error().ToString();
  ASSERT_EQ(once->records.size(), 1u);
  EXPECT_TRUE(once->records[0].content_sha256.IsZero());
  EXPECT_TRUE(once->records[0].chunks.empty());
  EXPECT_EQ(once->records[0].link_target, "b");
  auto twice = DecodeSegmentBody(EncodeSegmentBody(*once));
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->records, once->records);
  EXPECT_EQ(VersionIdOf(twice->records[0]), VersionIdOf(once->records[0]));
}

}  // namespace
}  // namespace cairn::repo
