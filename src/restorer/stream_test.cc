#include "restorer/stream.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>

#include "archiver/archiver.h"
#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::restorer {
namespace {

namespace fs = std::filesystem;
using ::cairn::testing::MakeDirs;
using ::cairn::testing::ReadFile;
using ::cairn::testing::WriteFile;

std::string RandomString(size_t n) {
  Bytes b(n);
  crypto::RandomBytes(b);
  return std::string(b.begin(), b.end());
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

// Keeps everything it is given; checks the ByteSink protocol (Begin once,
// before any Write) and can fail a chosen Write like a client going away.
class BufferSink : public ByteSink {
 public:
  Status Begin(const StreamInfo& i) override {
    EXPECT_EQ(begins, 0) << "Begin called twice";
    EXPECT_TRUE(data.empty()) << "Begin after bytes were written";
    ++begins;
    info = i;
    return Status::OK();
  }
  Status Write(ByteView b) override {
    EXPECT_EQ(begins, 1) << "Write before Begin";
    ++writes;
    if (fail_at_write && writes == *fail_at_write) return Status::IOError("the client went away");
    EXPECT_FALSE(fail_at_write && writes > *fail_at_write) << "Write after the sink failed";
    data.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::OK();
  }

  int begins = 0;
  size_t writes = 0;
  std::optional<size_t> fail_at_write;
  std::string data;
  StreamInfo info;
};

// A repository with small chunks (4-64 KiB, 16 KiB on average), so a few
// hundred KiB make a file of many chunks, and one backup of tmp/src.
class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.Sub("src");
    MakeDirs(src_);
  }

  // Backs up `path` (default src_), creating the repository first.
  void Backup(const std::string& path = "") {
    if (!repo_) {
      auto be = backend::LocalBackend::Open(tmp_.Sub("repo"));
      ASSERT_OK(be);
      repo::InitOptions init;
      init.kdf = crypto::CheapKdfParams();
      init.chunker.min_size = 4 << 10;
      init.chunker.avg_size = 16 << 10;
      init.chunker.max_size = 64 << 10;
      auto repo = repo::Repository::Init(*be, "secret", init);
      ASSERT_OK(repo);
      repo_ = std::move(*repo);
      auto cat = catalog::Catalog::Open(tmp_.Sub("catalog.db"));
      ASSERT_OK(cat);
      catalog_ = std::move(*cat);
    }
    archiver::BackupOptions o;
    o.paths = {path.empty() ? src_ : path};
    o.device = "dev";
    auto s = archiver::RunBackup(*repo_, *catalog_, o);
    ASSERT_OK(s);
    ASSERT_FALSE(s->partial()) << s->errors.front();
  }

  StreamOptions Options(const std::string& path) {
    StreamOptions o;
    o.selection.path = path;
    o.selection.device = "dev";
    return o;
  }

  Result<StreamSummary> Stream(const StreamOptions& o, BufferSink& sink) {
    return RunStreamRestore(*repo_, *catalog_, o, sink);
  }

  repo::VersionRecord Record(const std::string& path) {
    auto rec = catalog_->Lookup("dev", path, catalog::kLatest);
    EXPECT_TRUE(rec.ok() && *rec) << path;
    return rec.ok() && *rec ? **rec : repo::VersionRecord{};
  }

  // Where each chunk of `path` ends in the file, in order.
  std::vector<uint64_t> ChunkEnds(const std::string& path) {
    std::vector<uint64_t> ends;
    uint64_t end = 0;
    for (const Id& id : Record(path).chunks) {
      auto loc = repo_->index().Find(id);
      EXPECT_TRUE(loc.has_value());
      end += loc ? loc->raw_length : 0;
      ends.push_back(end);
    }
    return ends;
  }

  // Flips a byte in the middle of chunk `n` of `path`, in its pack.
  void CorruptChunk(const std::string& path, size_t n) {
    repo::VersionRecord rec = Record(path);
    ASSERT_LT(n, rec.chunks.size());
    auto loc = repo_->index().Find(rec.chunks[n]);
    ASSERT_TRUE(loc.has_value());
    std::string pack = repo_->index().PackId(loc->pack).Hex();
    ASSERT_NO_FATAL_FAILURE(FlipByte(tmp_.Sub("repo/data/" + pack.substr(0, 2) + "/" + pack),
                                     loc->offset + loc->length / 2));
  }

  testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<repo::Repository> repo_;
  std::unique_ptr<catalog::Catalog> catalog_;
};

TEST_F(StreamTest, FileStreamsItsBytes) {
  const std::string content = RandomString(300 << 10);
  WriteFile(src_ + "/big.bin", content);
  WriteFile(src_ + "/empty", "");
  ASSERT_NO_FATAL_FAILURE(Backup());
  ASSERT_GE(Record(src_ + "/big.bin").chunks.size(), 4u) << "the test needs a file of many chunks";

  BufferSink sink;
  auto r = Stream(Options(src_ + "/big.bin"), sink);
  ASSERT_OK(r);
  EXPECT_TRUE(sink.data == content) << "streamed " << sink.data.size() << " bytes";
  EXPECT_GT(sink.writes, 1u) << "streamed in one piece, not chunk by chunk";
  EXPECT_EQ(sink.info.kind, StreamInfo::Kind::kFile);
  EXPECT_EQ(sink.info.name, "big.bin");
  EXPECT_EQ(sink.info.size, content.size());
  EXPECT_EQ(sink.info.offset, 0u);
  EXPECT_EQ(sink.info.length, content.size());
  EXPECT_EQ(sink.info.content_sha256, crypto::Sha256::Digest(AsBytes(content)));
  EXPECT_EQ(sink.info.version_id.size(), 24u);
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(r->content_bytes, content.size());
  EXPECT_EQ(r->stream_bytes, content.size());

  BufferSink empty;
  ASSERT_OK(Stream(Options(src_ + "/empty"), empty));
  EXPECT_EQ(empty.begins, 1);
  EXPECT_TRUE(empty.data.empty());
  EXPECT_EQ(empty.info.size, 0u);
}

TEST_F(StreamTest, RangeAcrossChunkBoundariesIsThatSlice) {
  const std::string content = RandomString(300 << 10);
  WriteFile(src_ + "/big.bin", content);
  ASSERT_NO_FATAL_FAILURE(Backup());
  const std::vector<uint64_t> ends = ChunkEnds(src_ + "/big.bin");
  ASSERT_GE(ends.size(), 4u);
  ASSERT_EQ(ends.back(), content.size());

  // From 100 bytes before the end of chunk 0 to 100 bytes into chunk 3:
  // three boundaries crossed.
  StreamOptions o = Options(src_ + "/big.bin");
  o.range = ByteRange{ends[0] - 100, (ends[2] + 100) - (ends[0] - 100)};
  BufferSink sink;
  auto r = Stream(o, sink);
  ASSERT_OK(r);
  EXPECT_TRUE(sink.data == content.substr(o.range->offset, *o.range->length));
  EXPECT_EQ(sink.info.offset, o.range->offset);
  EXPECT_EQ(sink.info.length, *o.range->length);
  EXPECT_EQ(sink.info.size, content.size());
  EXPECT_EQ(r->content_bytes, *o.range->length);

  // Open-ended, and longer than what is left: to the end.
  o.range = ByteRange{content.size() - 5000, std::nullopt};
  BufferSink tail;
  ASSERT_OK(Stream(o, tail));
  EXPECT_TRUE(tail.data == content.substr(content.size() - 5000));
  o.range = ByteRange{content.size() - 10, 1 << 20};
  BufferSink clamped;
  ASSERT_OK(Stream(o, clamped));
  EXPECT_TRUE(clamped.data == content.substr(content.size() - 10));
  EXPECT_EQ(clamped.info.length, 10u);

  // Past the end: refused before anything is streamed.
  o.range = ByteRange{content.size() + 1, std::nullopt};
  BufferSink past;
  auto refused = Stream(o, past);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().ToString();
  EXPECT_EQ(past.begins, 0);
}

// A range reads only the chunks it overlaps: damage elsewhere in the file
// does not touch it, damage inside it ends it in an error, and a whole-file
// stream meets the damage and ends in an error after Begin.
TEST_F(StreamTest, DamagedChunkEndsTheStreamInAnError) {
  const std::string content = RandomString(300 << 10);
  WriteFile(src_ + "/big.bin", content);
  ASSERT_NO_FATAL_FAILURE(Backup());
  const std::vector<uint64_t> ends = ChunkEnds(src_ + "/big.bin");
  ASSERT_GE(ends.size(), 4u);
  ASSERT_NO_FATAL_FAILURE(CorruptChunk(src_ + "/big.bin", 2));

  StreamOptions o = Options(src_ + "/big.bin");
  o.range = ByteRange{0, ends[1]};  // chunks 0 and 1
  BufferSink before;
  ASSERT_OK(Stream(o, before));
  EXPECT_TRUE(before.data == content.substr(0, ends[1]));

  o.range = ByteRange{ends[1] + 10, 100};  // inside chunk 2
  BufferSink inside;
  auto r = Stream(o, inside);
  ASSERT_FALSE(r.ok()) << "a damaged chunk was streamed";
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find("big.bin"), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(inside.data.empty());

  BufferSink whole;
  r = Stream(Options(src_ + "/big.bin"), whole);
  ASSERT_FALSE(r.ok()) << "a damaged file streamed as complete";
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_EQ(whole.begins, 1);
  EXPECT_TRUE(whole.data == content.substr(0, ends[1])) << "the bytes before the damage";

  // In a tar: the same error, the archive left unfinished.
  BufferSink tar;
  r = Stream(Options(src_), tar);
  ASSERT_FALSE(r.ok()) << "a tar holding a damaged file streamed as complete";
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_EQ(tar.info.kind, StreamInfo::Kind::kTar);
}

// A chunk that authenticates but holds other bytes than its id names (what
// a holder of the keys could plant: the AEAD binds the id, not the content):
// a whole file fails its SHA-256 at the end, a range fails the chunk's id.
TEST_F(StreamTest, ForgedChunkFailsTheContentChecks) {
  WriteFile(src_ + "/real.txt", "the real content\n");
  ASSERT_NO_FATAL_FAILURE(Backup());
  const std::string claimed = RandomString(20000), planted = RandomString(20000);
  const Id id = crypto::KeyedId(repo_->keys().id_key, AsBytes(claimed));
  ASSERT_OK(repo_->StoreBlob(repo::BlobType::kData, id, AsBytes(planted)));
  ASSERT_OK(repo_->Flush());
  repo::VersionRecord forged = Record(src_ + "/real.txt");
  forged.path = src_ + "/forged.bin";
  forged.backup_time += 1;
  forged.size = claimed.size();
  forged.chunks = {id};
  forged.content_sha256 = crypto::Sha256::Digest(AsBytes(claimed));
  ASSERT_OK(catalog_->AddSegment(crypto::RandomId(), {}, {forged}));

  BufferSink whole;
  auto r = Stream(Options(forged.path), whole);
  ASSERT_FALSE(r.ok()) << "planted content streamed as verified";
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find("SHA-256"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(whole.data.size(), planted.size()) << "written before the end could be checked";

  StreamOptions o = Options(forged.path);
  o.range = ByteRange{100, 50};
  BufferSink ranged;
  r = Stream(o, ranged);
  ASSERT_FALSE(r.ok()) << "planted content streamed as verified";
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find("does not match its id"), std::string::npos)
      << r.status().ToString();
  EXPECT_TRUE(ranged.data.empty());
}

// The sink's error (a client that went away) stops the stream at once and is
// what it returns; a stop request ends it with Cancelled.
TEST_F(StreamTest, SinkErrorAndStopEndTheStream) {
  const std::string content = RandomString(300 << 10);
  WriteFile(src_ + "/big.bin", content);
  ASSERT_NO_FATAL_FAILURE(Backup());

  BufferSink failing;
  failing.fail_at_write = 2;
  auto r = Stream(Options(src_ + "/big.bin"), failing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError) << r.status().ToString();
  EXPECT_EQ(failing.writes, 2u);

  BufferSink failing_tar;
  failing_tar.fail_at_write = 3;
  r = Stream(Options(src_), failing_tar);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIOError) << r.status().ToString();
  EXPECT_EQ(failing_tar.writes, 3u) << "the tar's end blocks were written after the error";

  std::stop_source stop;
  stop.request_stop();
  StreamOptions o = Options(src_ + "/big.bin");
  o.stop = stop.get_token();
  BufferSink stopped;
  r = Stream(o, stopped);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_TRUE(stopped.data.empty());

  o = Options(src_);
  o.range = ByteRange{0, 10};
  BufferSink ranged_folder;
  r = Stream(o, ranged_folder);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(ranged_folder.begins, 0);
}

int Shell(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

void SetMtime(const std::string& path, int64_t ns) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(ns / 1000000000LL);
  ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(ns % 1000000000LL);
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A folder as a tar, extracted with the system's tar: the same tree, with
// modes, mtimes (to the nanosecond), symlinks, a hard link, a long
// non-ASCII name, and a hard link whose target lies outside the folder (a
// copy of the target's content).
TEST_F(StreamTest, FolderTarExtractsToTheSameTree) {
  const std::string dir = src_ + "/docs";
  const std::string long_dir = dir + "/" + std::string(60, 'd') + "-日本語のフォルダ";
  const std::string long_name = std::string(40, 'n') + "-été-ñandú-" + std::string(120, 'x');
  const std::string big = RandomString(200 << 10);
  WriteFile(dir + "/a.txt", "alpha\n", 0640);
  WriteFile(dir + "/sub/b.bin", big, 0600);
  WriteFile(dir + "/sub/run.sh", "#!/bin/sh\n", 0755);
  WriteFile(dir + "/empty", "", 0644);
  WriteFile(long_dir + "/" + long_name, "long and not ASCII\n", 0644);
  ASSERT_EQ(symlink("sub/b.bin", (dir + "/link").c_str()), 0);
  ASSERT_EQ(symlink("/nowhere/at/all", (dir + "/dangling").c_str()), 0);
  ASSERT_EQ(link((dir + "/a.txt").c_str(), (dir + "/sub/a-again.txt").c_str()), 0);
  WriteFile(src_ + "/outside.txt", "outside the folder\n", 0644);
  ASSERT_EQ(link((src_ + "/outside.txt").c_str(), (dir + "/inside-link").c_str()), 0);
  ASSERT_EQ(chmod((dir + "/sub").c_str(), 0750), 0);
  ASSERT_NO_FATAL_FAILURE(SetMtime(dir + "/sub/run.sh", 1500000000123456789LL));
  ASSERT_NO_FATAL_FAILURE(SetMtime(dir + "/link", 1500000001000000007LL));
  ASSERT_NO_FATAL_FAILURE(SetMtime(dir + "/sub", 1500000002987654321LL));
  ASSERT_GT((long_dir + "/" + long_name).size() - src_.size(), 256u) << "longer than ustar holds";
  ASSERT_NO_FATAL_FAILURE(Backup());

  BufferSink sink;
  auto r = Stream(Options(dir), sink);
  ASSERT_OK(r);
  EXPECT_EQ(sink.info.kind, StreamInfo::Kind::kTar);
  EXPECT_EQ(sink.info.name, "docs.tar");
  EXPECT_TRUE(sink.info.left_out.empty()) << sink.info.left_out.front();
  EXPECT_EQ(r->stream_bytes, sink.data.size());
  EXPECT_EQ(sink.data.size() % 512, 0u);
  // Files: a.txt, b.bin, run.sh, empty, the long one, and inside-link (a copy).
  EXPECT_EQ(r->files, 6u);
  EXPECT_EQ(r->links, 3u);  // two symlinks and sub/a-again.txt
  const std::string tar_file = tmp_.Sub("docs.tar");
  WriteFile(tar_file, sink.data);

  // Every name is relative to the folder's parent: no '/' first, no "..".
  const std::string listing = tmp_.Sub("listing");
  ASSERT_EQ(Shell("tar -tf " + tar_file + " > " + listing), 0);
  std::set<std::string> names;
  std::istringstream lines(ReadFile(listing));
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(line.rfind("docs", 0) == 0) << line;
    EXPECT_EQ(line.find(".."), std::string::npos) << line;
    names.insert(line);
  }
  EXPECT_TRUE(names.count("docs/sub/b.bin")) << ReadFile(listing);
  // Owner names are in the headers.
  struct passwd pw {};
  struct passwd* me = nullptr;
  char pw_buf[4096];
  if (getpwuid_r(getuid(), &pw, pw_buf, sizeof pw_buf, &me) == 0 && me != nullptr) {
    ASSERT_EQ(Shell("tar -tvf " + tar_file + " > " + listing), 0);
    EXPECT_NE(ReadFile(listing).find(std::string(me->pw_name) + "/"), std::string::npos)
        << ReadFile(listing);
  }

  const std::string out = tmp_.Sub("out");
  MakeDirs(out);
  ASSERT_EQ(Shell("tar -xpf " + tar_file + " -C " + out), 0);
  const std::string got = out + "/docs";
  for (const char* rel : {"a.txt", "sub/b.bin", "sub/run.sh", "empty", "sub/a-again.txt"}) {
    EXPECT_EQ(ReadFile(got + "/" + rel), ReadFile(dir + "/" + rel)) << rel;
    EXPECT_EQ(Lstat(got + "/" + rel).st_mode, Lstat(dir + "/" + rel).st_mode) << rel;
    EXPECT_EQ(MtimeNs(Lstat(got + "/" + rel)), MtimeNs(Lstat(dir + "/" + rel))) << rel;
  }
  const std::string long_rel = long_dir.substr(dir.size()) + "/" + long_name;
  EXPECT_EQ(ReadFile(got + long_rel), "long and not ASCII\n");
  EXPECT_EQ(ReadFile(got + "/inside-link"), "outside the folder\n");
  // The hard link inside the folder is one again.
  EXPECT_EQ(Lstat(got + "/a.txt").st_ino, Lstat(got + "/sub/a-again.txt").st_ino);
  EXPECT_EQ(fs::read_symlink(got + "/link"), "sub/b.bin");
  EXPECT_EQ(fs::read_symlink(got + "/dangling"), "/nowhere/at/all");
  EXPECT_EQ(MtimeNs(Lstat(got + "/link")), 1500000001000000007LL);
  EXPECT_EQ(Lstat(got + "/sub").st_mode, Lstat(dir + "/sub").st_mode);
  EXPECT_EQ(MtimeNs(Lstat(got + "/sub")), 1500000002987654321LL);
  EXPECT_EQ(MtimeNs(Lstat(got + "/sub/run.sh")), 1500000000123456789LL);
}

// What cannot go into the archive is left out and named before the first
// byte (in StreamInfo); the archive stays whole and extracts.
TEST_F(StreamTest, WhatCannotBeArchivedIsNamedBeforeTheFirstByte) {
  // kept.txt is backed up first, so its data is in a pack of its own.
  WriteFile(src_ + "/kept.txt", "kept\n");
  ASSERT_NO_FATAL_FAILURE(Backup(src_ + "/kept.txt"));
  WriteFile(src_ + "/lost.bin", RandomString(100 << 10));
  ASSERT_NO_FATAL_FAILURE(Backup());
  // Data missing from the index: the packs of lost.bin are deleted and the
  // index rebuilt from the packs that are left.
  const repo::VersionRecord lost = Record(src_ + "/lost.bin");
  for (const Id& chunk : lost.chunks) {
    auto loc = repo_->index().Find(chunk);
    ASSERT_TRUE(loc.has_value());
    const std::string pack = repo_->index().PackId(loc->pack).Hex();
    fs::remove(tmp_.Sub("repo/data/" + pack.substr(0, 2) + "/" + pack));
  }
  for (const auto& e : fs::directory_iterator(tmp_.Sub("repo/index"))) fs::remove(e.path());
  auto be = backend::LocalBackend::Open(tmp_.Sub("repo"));
  ASSERT_OK(be);
  auto reopened = repo::Repository::Open(*be, "secret");
  ASSERT_OK(reopened);
  repo_ = std::move(*reopened);
  ASSERT_OK(repo_->LoadIndex(/*adopt_orphan_packs=*/true));
  ASSERT_FALSE(repo_->index().Contains(lost.chunks[0]));
  ASSERT_TRUE(repo_->index().Contains(Record(src_ + "/kept.txt").chunks.at(0)));

  BufferSink sink;
  auto r = Stream(Options(src_), sink);
  ASSERT_OK(r);
  ASSERT_EQ(sink.info.left_out.size(), 1u);
  EXPECT_NE(sink.info.left_out[0].find("lost.bin"), std::string::npos) << sink.info.left_out[0];
  EXPECT_EQ(r->info.left_out, sink.info.left_out);
  const std::string tar_file = tmp_.Sub("src.tar"), out = tmp_.Sub("out");
  WriteFile(tar_file, sink.data);
  MakeDirs(out);
  ASSERT_EQ(Shell("tar -xf " + tar_file + " -C " + out), 0);
  EXPECT_EQ(ReadFile(out + "/src/kept.txt"), "kept\n");
  EXPECT_FALSE(fs::exists(out + "/src/lost.bin"));

  // The file alone: an error before anything is streamed.
  BufferSink alone;
  auto refused = Stream(Options(src_ + "/lost.bin"), alone);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption) << refused.status().ToString();
  EXPECT_EQ(alone.begins, 0);
}

}  // namespace
}  // namespace cairn::restorer
