#include "restorer/restorer.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "archiver/archiver.h"
#include "backend/local/local_backend.h"
#include "base/errno_status.h"
#include "crypto/crypto.h"
#include "testing/assert_ok.h"
#include "testing/fault_file_system.h"
#include "testing/temp_dir.h"

namespace cairn::restorer {
namespace {

namespace fs = std::filesystem;

void WriteFile(const std::string& path, const Bytes& content) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(content.data()),
             static_cast<std::streamsize>(content.size()));
}

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Bytes(s.begin(), s.end());
}

Bytes RandomBytes(size_t n) {
  Bytes b(n);
  crypto::RandomBytes(b);
  return b;
}

// A repository in tmp/repo with one backup of tmp/src (made by the caller
// before Backup()), and its catalog.
class RestorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.Sub("src");
    fs::create_directories(src_);
  }

  void Backup() {
    auto be = backend::LocalBackend::Open(tmp_.Sub("repo"));
    ASSERT_TRUE(be.ok()) << be.status().ToString();
    backend_ = std::move(*be);
    repo::InitOptions init;
    init.kdf = crypto::CheapKdfParams();
    auto repo = repo::Repository::Init(backend_, "secret", init);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
    auto cat = catalog::Catalog::Open(tmp_.Sub("catalog.db"));
    ASSERT_TRUE(cat.ok()) << cat.status().ToString();
    catalog_ = std::move(*cat);
    archiver::BackupOptions o;
    o.paths = {src_};
    o.device = "dev";
    auto s = archiver::RunBackup(*repo_, *catalog_, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_FALSE(s->partial()) << s->errors.front();
  }

  RestoreOptions Options(const std::string& target) {
    RestoreOptions o;
    o.path = src_;
    o.device = "dev";
    o.target = target;
    return o;
  }

  testing::TempDir tmp_;
  std::string src_;
  std::shared_ptr<backend::LocalBackend> backend_;
  std::unique_ptr<repo::Repository> repo_;
  std::unique_ptr<catalog::Catalog> catalog_;
};

TEST_F(RestorerTest, ExistingFilesAreKeptReplacedOrRecognized) {
  const Bytes a = RandomBytes(3000), b = RandomBytes(5000), changed = RandomBytes(10);
  WriteFile(src_ + "/a", a);
  WriteFile(src_ + "/b", b);
  ASSERT_NO_FATAL_FAILURE(Backup());

  const std::string target = tmp_.Sub("target");
  const std::string dest = target + src_;
  fs::create_directories(dest);
  WriteFile(dest + "/a", a);        // already the backed-up content
  WriteFile(dest + "/b", changed);  // different

  auto kept = RunRestore(*repo_, *catalog_, Options(target));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->already_present, 1u);
  ASSERT_EQ(kept->skipped_existing.size(), 1u);
  EXPECT_EQ(kept->skipped_existing[0], dest + "/b");
  EXPECT_EQ(ReadFile(dest + "/b"), changed);

  RestoreOptions o = Options(target);
  o.overwrite = true;
  auto replaced = RunRestore(*repo_, *catalog_, o);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_TRUE(replaced->errors.empty()) << replaced->errors.front();
  EXPECT_EQ(replaced->files, 1u);
  EXPECT_EQ(ReadFile(dest + "/b"), b);
  for (const auto& e : fs::directory_iterator(dest))  // no temporary file left beside it
    EXPECT_EQ(e.path().filename().string().rfind(".cairn-restore-", 0), std::string::npos)
        << e.path();
}

// A full disk is NoSpace (not a string among per-file errors): it stops the
// restore, and the file being written is removed.
TEST_F(RestorerTest, FullDiskIsNoSpace) {
  for (int i = 0; i < 8; ++i) WriteFile(src_ + "/f" + std::to_string(i), RandomBytes(256 << 10));
  ASSERT_NO_FATAL_FAILURE(Backup());

  const std::string mnt = tmp_.Sub("mnt");
  fs::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m,mode=0755") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN): " << ErrnoText(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};

  RestoreOptions o = Options(mnt + "/target");
  o.threads = 2;
  auto r = RunRestore(*repo_, *catalog_, o);
  ASSERT_FALSE(r.ok()) << "2 MiB restored onto a 1 MiB disk";
  EXPECT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();
  EXPECT_NE(r.status().message().find("free some space"), std::string::npos)
      << r.status().ToString();
  // Every file left is complete: the ones cut short were removed.
  for (const auto& e : fs::recursive_directory_iterator(mnt)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(e.file_size(), 256u << 10) << e.path();
  }
}

using Op = testing::FaultFileSystem::Op;

// Every regular file under `dir`, by path.
std::vector<std::string> RegularFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A full disk part way through a file (the 6th 64 KiB write: the second
// file's second): NoSpace stops the restore, the file cut short is removed,
// and every file left is complete and verified.
TEST_F(RestorerTest, NoSpaceWhileWritingRemovesThePartFileAndStops) {
  constexpr int kFiles = 6;
  std::vector<Bytes> content;
  for (int i = 0; i < kFiles; ++i) {
    content.push_back(RandomBytes(256 << 10));  // random: no zero block left as a hole
    WriteFile(src_ + "/f" + std::to_string(i), content.back());
  }
  ASSERT_NO_FATAL_FAILURE(Backup());

  const std::string target = tmp_.Sub("target");
  testing::FaultFileSystem faults;
  faults.Fail(Op::kWriteAt, target, ENOSPC, /*nth=*/6);
  RestoreOptions o = Options(target);
  o.threads = 1;  // one file at a time: the fault hits the second file
  o.fs = &faults;
  auto r = RunRestore(*repo_, *catalog_, o);
  ASSERT_FALSE(r.ok()) << "the restore went on past a full disk";
  EXPECT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();

  ASSERT_EQ(faults.FailedPaths().size(), 1u);
  const std::string cut = faults.FailedPaths()[0];
  EXPECT_FALSE(fs::exists(fs::symlink_status(cut))) << cut << " was left half written";
  EXPECT_GE(faults.Calls(Op::kRemove, cut), 1);
  // Only the first file was complete when the disk filled; nothing else,
  // no temporary file either, is left.
  const std::vector<std::string> left = RegularFiles(target);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_NE(left[0], cut);
  const std::string name = fs::path(left[0]).filename().string();
  ASSERT_EQ(name.size(), 2u) << left[0];
  EXPECT_EQ(ReadFile(left[0]), content[static_cast<size_t>(name[1] - '0')]) << left[0];
}

// fsync fails on the replacement of an existing file (--overwrite): the
// error is reported, the replacement is not kept and the old file stays.
TEST_F(RestorerTest, SyncFailureWhenReplacingKeepsTheOldFile) {
  const Bytes a = RandomBytes(3000), b = RandomBytes(4000), old_a = RandomBytes(10);
  WriteFile(src_ + "/a", a);
  WriteFile(src_ + "/b", b);
  ASSERT_NO_FATAL_FAILURE(Backup());

  const std::string target = tmp_.Sub("target");
  const std::string dest = target + src_;
  fs::create_directories(dest);
  WriteFile(dest + "/a", old_a);  // replaced: written beside it, synced, renamed over it
  WriteFile(dest + "/b", b);      // already there: left alone
  testing::FaultFileSystem faults;
  faults.Fail(Op::kSync, dest, EIO);
  RestoreOptions o = Options(target);
  o.overwrite = true;
  o.fs = &faults;
  auto r = RunRestore(*repo_, *catalog_, o);
  ASSERT_OK(r);  // one file's I/O error does not stop the restore
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_NE(r->errors[0].find("cannot sync"), std::string::npos) << r->errors[0];
  EXPECT_EQ(r->files, 0u);
  EXPECT_EQ(r->already_present, 1u);
  ASSERT_EQ(faults.FailedPaths().size(), 1u);
  EXPECT_FALSE(fs::exists(faults.FailedPaths()[0])) << "the unsynced replacement was kept";
  EXPECT_EQ(ReadFile(dest + "/a"), old_a);
  EXPECT_EQ(ReadFile(dest + "/b"), b);
  EXPECT_EQ(RegularFiles(target), (std::vector<std::string>{dest + "/a", dest + "/b"}));
}

// Metadata the destination refuses (a mode, times, extended attributes):
// the content is restored and verified, the person is told what was not
// applied, and the restore is not partial.
TEST_F(RestorerTest, RefusedMetadataIsReportedNotIgnored) {
  WriteFile(src_ + "/a", RandomBytes(1000));
  WriteFile(src_ + "/b", RandomBytes(1000));
  ASSERT_NO_FATAL_FAILURE(Backup());

  const std::string target = tmp_.Sub("target");
  testing::FaultFileSystem faults;
  faults.Fail(Op::kSetTimes, target + src_ + "/a", EPERM, 1, 100);
  RestoreOptions o = Options(target);
  o.fs = &faults;
  auto r = RunRestore(*repo_, *catalog_, o);
  ASSERT_OK(r);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_EQ(r->files, 2u);
  ASSERT_EQ(r->metadata_warnings.size(), 1u);
  EXPECT_NE(r->metadata_warnings[0].find(target + src_ + "/a"), std::string::npos)
      << r->metadata_warnings[0];
}

TEST(DestinationTest, ReRootsUnderTheTargetOrStaysInPlace) {
  EXPECT_EQ(Destination("", "/home/u/a"), "/home/u/a");
  EXPECT_EQ(Destination("/", "/home/u/a"), "/home/u/a");
  EXPECT_EQ(Destination("/tmp/r", "/home/u/a"), "/tmp/r/home/u/a");
  EXPECT_EQ(Destination("/tmp/r", "/"), "/tmp/r");
  EXPECT_EQ(Destination("", "/"), "/");
}

// A preview says what the restore with the same options then does: where,
// how many files and bytes, and what overwrite would replace; it reads the
// catalog and lstats the destinations, nothing else.
TEST_F(RestorerTest, PreviewSaysWhatTheRestoreWouldDo) {
  const Bytes a = RandomBytes(3000), b = RandomBytes(5000);
  WriteFile(src_ + "/a", a);
  WriteFile(src_ + "/b", b);
  fs::create_directories(src_ + "/sub/deeper");
  WriteFile(src_ + "/sub/deeper/c", RandomBytes(100));
  fs::create_symlink("a", src_ + "/l");
  ASSERT_NO_FATAL_FAILURE(Backup());

  const std::string target = tmp_.Sub("target");
  const std::string dest = target + src_;
  testing::FaultFileSystem counting;  // no fault: counts the calls
  RestoreOptions o = Options(target);
  o.fs = &counting;
  auto fresh = PreviewRestore(*catalog_, o);
  ASSERT_OK(fresh);
  EXPECT_EQ(fresh->target, dest);
  EXPECT_EQ(fresh->files, 3u);
  EXPECT_EQ(fresh->bytes, 8100u);
  EXPECT_EQ(fresh->dirs, 3u);  // src, sub, sub/deeper
  EXPECT_EQ(fresh->links, 1u);
  EXPECT_EQ(fresh->others, 0u);
  EXPECT_TRUE(fresh->would_overwrite.empty());
  EXPECT_EQ(fresh->would_overwrite_count, 0u);
  // Below a destination folder that does not exist, nothing is looked at.
  EXPECT_EQ(counting.Calls(Op::kLstat, target), 1);
  EXPECT_FALSE(fs::exists(target)) << "a preview created the target";

  auto restored = RunRestore(*repo_, *catalog_, Options(target));
  ASSERT_OK(restored);
  EXPECT_EQ(restored->files, fresh->files);
  EXPECT_EQ(restored->bytes, fresh->bytes);
  EXPECT_EQ(restored->dirs, fresh->dirs);
  EXPECT_EQ(restored->links, fresh->links);

  // Now everything is there: each file and link would be replaced.
  const std::vector<std::string> all = {dest + "/a", dest + "/b", dest + "/l",
                                        dest + "/sub/deeper/c"};
  auto again = PreviewRestore(*catalog_, Options(target));
  ASSERT_OK(again);
  EXPECT_EQ(again->would_overwrite, all);
  EXPECT_EQ(again->would_overwrite_count, 4u);
  auto capped = PreviewRestore(*catalog_, Options(target), 2);
  ASSERT_OK(capped);
  EXPECT_EQ(capped->would_overwrite, (std::vector<std::string>{dest + "/a", dest + "/b"}));
  EXPECT_EQ(capped->would_overwrite_count, 4u);
  // Without overwrite the restore keeps them: the changed one is skipped,
  // the identical ones are already present.
  WriteFile(dest + "/b", RandomBytes(10));
  auto kept = RunRestore(*repo_, *catalog_, Options(target));
  ASSERT_OK(kept);
  EXPECT_EQ(kept->skipped_existing, (std::vector<std::string>{dest + "/b", dest + "/l"}));
  EXPECT_EQ(kept->already_present, 2u);
  // A folder where a file would go is not something overwrite replaces.
  fs::remove(dest + "/a");
  fs::create_directories(dest + "/a");
  auto folder = PreviewRestore(*catalog_, Options(target));
  ASSERT_OK(folder);
  EXPECT_EQ(folder->would_overwrite,
            (std::vector<std::string>{dest + "/b", dest + "/l", dest + "/sub/deeper/c"}));

  // In place: the original paths themselves.
  auto in_place = PreviewRestore(*catalog_, Options(""));
  ASSERT_OK(in_place);
  EXPECT_EQ(in_place->target, src_);
  EXPECT_EQ(
      in_place->would_overwrite,
      (std::vector<std::string>{src_ + "/a", src_ + "/b", src_ + "/l", src_ + "/sub/deeper/c"}));
  // One file's version.
  RestoreOptions one = Options(tmp_.Sub("one"));
  one.path = src_ + "/b";
  one.version = 1;
  auto file = PreviewRestore(*catalog_, one);
  ASSERT_OK(file);
  EXPECT_EQ(file->target, tmp_.Sub("one") + src_ + "/b");
  EXPECT_EQ(file->files, 1u);
  EXPECT_EQ(file->bytes, 5000u);
  EXPECT_EQ(file->dirs, 0u);
  // The restore's own errors.
  RestoreOptions bad = Options("relative/target");
  EXPECT_EQ(PreviewRestore(*catalog_, bad).status().code(), StatusCode::kInvalidArgument);
  bad = Options(target);
  bad.path = src_ + "/never-backed-up";
  EXPECT_EQ(PreviewRestore(*catalog_, bad).status().code(), StatusCode::kNotFound);
  bad.path = src_ + "/b";
  bad.version = 2;
  EXPECT_EQ(PreviewRestore(*catalog_, bad).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace cairn::restorer
