// The archiver against file-system faults (testing/fault_file_system.h), on
// real files and a real repository: one file's or folder's error makes the
// run partial and names it; everything else is backed up; the next run
// picks up what was missed.
#include <errno.h>

#include <gtest/gtest.h>

#include <memory>

#include "archiver/archiver.h"
#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "testing/assert_ok.h"
#include "testing/fault_backend.h"
#include "testing/fault_file_system.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::archiver {
namespace {

using Op = testing::FaultFileSystem::Op;

class ArchiverFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.Sub("src");
    auto be = backend::LocalBackend::Open(tmp_.Sub("repo"));
    ASSERT_OK(be);
    backend_ = *be;
    repo::InitOptions init;
    init.kdf = crypto::CheapKdfParams();
    auto repo = repo::Repository::Init(backend_, "secret", init);
    ASSERT_OK(repo);
    repo_ = std::move(*repo);
    auto catalog = catalog::Catalog::Open(tmp_.Sub("catalog.db"));
    ASSERT_OK(catalog);
    catalog_ = std::move(*catalog);
  }

  Result<BackupSummary> Backup() {
    BackupOptions o;
    o.paths = {src_};
    o.device = "dev";
    o.fs = &fs_;
    return RunBackup(*repo_, *catalog_, o);
  }

  // The content of the latest version of `path` in the repository, or
  // nullopt when no version of it was recorded.
  std::optional<std::string> Stored(const std::string& path) {
    auto rec = catalog_->Lookup("dev", path, catalog::kLatest);
    EXPECT_OK(rec);
    if (!rec.ok() || !rec->has_value()) return std::nullopt;
    std::string content;
    for (const Id& id : (*rec)->chunks) {
      auto blob = repo_->LoadBlob(id);
      EXPECT_OK(blob);
      if (blob.ok()) content += AsString(*blob);
    }
    return content;
  }

  testing::TempDir tmp_;
  std::string src_;
  testing::FaultFileSystem fs_;
  std::shared_ptr<backend::LocalBackend> backend_;
  std::unique_ptr<repo::Repository> repo_;
  std::unique_ptr<catalog::Catalog> catalog_;
};

TEST_F(ArchiverFaultTest, ReadErrorOnOneFileMakesTheRunPartialAndTheNextRunTakesIt) {
  testing::WriteFile(src_ + "/a", "alpha");
  testing::WriteFile(src_ + "/b", "bravo");
  testing::WriteFile(src_ + "/sub/c", "charlie");
  fs_.Fail(Op::kRead, src_ + "/b", EIO);

  auto first = Backup();
  ASSERT_OK(first);
  EXPECT_TRUE(first->partial());
  ASSERT_EQ(first->errors.size(), 1u);
  EXPECT_NE(first->errors[0].find(src_ + "/b"), std::string::npos) << first->errors[0];
  EXPECT_NE(first->errors[0].find("cannot read"), std::string::npos) << first->errors[0];
  EXPECT_EQ(first->files_new, 2u);
  EXPECT_EQ(fs_.FailedPaths(), std::vector<std::string>{src_ + "/b"});
  EXPECT_EQ(Stored(src_ + "/a"), "alpha");
  EXPECT_EQ(Stored(src_ + "/sub/c"), "charlie");
  EXPECT_EQ(Stored(src_ + "/b"), std::nullopt) << "a file that could not be read was recorded";

  // The fault was for one read: the next run reads b, and only b.
  auto second = Backup();
  ASSERT_OK(second);
  EXPECT_FALSE(second->partial()) << second->errors.front();
  EXPECT_EQ(second->files_new, 1u);
  EXPECT_EQ(second->files_unchanged, 2u);
  EXPECT_EQ(Stored(src_ + "/b"), "bravo");
}

// An unreadable folder (EACCES, which root never gets from a real chmod) is
// an error naming it; its siblings and their trees are backed up.
TEST_F(ArchiverFaultTest, UnreadableFolderIsReportedAndItsSiblingsBackedUp) {
  testing::WriteFile(src_ + "/locked/x", "x");
  testing::WriteFile(src_ + "/locked/deep/y", "y");
  testing::WriteFile(src_ + "/open/z", "z");
  testing::WriteFile(src_ + "/top", "top");
  fs_.Fail(Op::kListDir, src_ + "/locked", EACCES, 1, testing::FaultFileSystem::kEvery);

  auto first = Backup();
  ASSERT_OK(first);
  ASSERT_EQ(first->errors.size(), 1u);
  EXPECT_NE(first->errors[0].find(src_ + "/locked"), std::string::npos) << first->errors[0];
  EXPECT_NE(first->errors[0].find("Permission denied"), std::string::npos) << first->errors[0];
  EXPECT_EQ(first->files_new, 2u);
  EXPECT_EQ(Stored(src_ + "/open/z"), "z");
  EXPECT_EQ(Stored(src_ + "/top"), "top");
  EXPECT_EQ(Stored(src_ + "/locked/x"), std::nullopt);
  EXPECT_EQ(Stored(src_ + "/locked/deep/y"), std::nullopt);

  fs_.ClearFaults();  // readable again
  auto second = Backup();
  ASSERT_OK(second);
  EXPECT_FALSE(second->partial()) << second->errors.front();
  EXPECT_EQ(second->files_new, 2u);
  EXPECT_EQ(Stored(src_ + "/locked/x"), "x");
  EXPECT_EQ(Stored(src_ + "/locked/deep/y"), "y");
}

// A file that cannot be looked at (lstat fails with EIO) is an error, not a
// deletion: its last version stays the latest.
TEST_F(ArchiverFaultTest, FileThatCannotBeStattedIsReportedNotDeleted) {
  testing::WriteFile(src_ + "/keep", "keep");
  testing::WriteFile(src_ + "/flaky", "flaky");
  auto first = Backup();
  ASSERT_OK(first);
  ASSERT_FALSE(first->partial()) << first->errors.front();

  fs_.Fail(Op::kLstat, src_ + "/flaky", EIO, 1, testing::FaultFileSystem::kEvery);
  testing::WriteFile(src_ + "/keep", "kept, changed");
  auto second = Backup();
  ASSERT_OK(second);
  ASSERT_EQ(second->errors.size(), 1u);
  EXPECT_NE(second->errors[0].find(src_ + "/flaky"), std::string::npos) << second->errors[0];
  EXPECT_EQ(second->deleted, 0u);
  EXPECT_EQ(Stored(src_ + "/keep"), "kept, changed");
  EXPECT_EQ(Stored(src_ + "/flaky"), "flaky");  // still its last version, no tombstone
}

}  // namespace
}  // namespace cairn::archiver

namespace cairn::archiver {
namespace {

// A pack upload fails (the network is down): that run stops; once storage is
// back, the same open repository backs up again (a daemon does not have to
// be restarted) and nothing of the failed pack is taken as stored.
TEST(ArchiverStorageTest, StorageUnreachableThenBackTheSameOpenRepositoryBacksUpAgain) {
  testing::TempDir tmp;
  auto local = backend::LocalBackend::Open(tmp.Sub("repo"));
  ASSERT_OK(local);
  auto faulty = std::make_shared<testing::FaultBackend>(*local);
  repo::InitOptions init;
  init.kdf = crypto::CheapKdfParams();
  auto repo = repo::Repository::Init(faulty, "secret", init);
  ASSERT_OK(repo);
  auto catalog = catalog::Catalog::Open(tmp.Sub("catalog.db"));
  ASSERT_OK(catalog);
  const std::string src = tmp.Sub("src");
  testing::WriteFile(src + "/a", std::string(300000, 'a') + "end");
  BackupOptions o;
  o.paths = {src};
  o.device = "dev";

  faulty->FailNext(testing::FaultBackend::Method::kSave, 1,
                   Status::Unavailable("injected: the network is down"));
  auto failed = RunBackup(**repo, **catalog, o);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  // Until the next run clears it, the open repository still refuses.
  EXPECT_FALSE(RunBackup(**repo, **catalog, o).ok());

  (*repo)->ClearUploadError();
  auto again = RunBackup(**repo, **catalog, o);
  ASSERT_OK(again);
  EXPECT_EQ(again->files_new, 1u);
  auto rec = (*catalog)->Lookup("dev", src + "/a", catalog::kLatest);
  ASSERT_OK(rec);
  ASSERT_TRUE(rec->has_value());
  std::string content;
  for (const Id& id : (*rec)->chunks) {
    auto blob = (*repo)->LoadBlob(id);
    ASSERT_OK(blob);
    content += AsString(*blob);
  }
  EXPECT_EQ(content, std::string(300000, 'a') + "end");
}

}  // namespace
}  // namespace cairn::archiver
