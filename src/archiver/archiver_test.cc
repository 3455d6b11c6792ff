#include "archiver/archiver.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <future>

#include "archiver/exclude_filter.h"
#include "archiver/file_reader.h"
#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::archiver {
namespace {

// More files than the work queue holds and than one checkpoint takes: the
// walker sleeps on a full queue and is woken again, checkpoints happen with
// the queue full, and every file arrives with its content.
TEST(ArchiverTest, ManyFilesPassThroughASmallFullQueue) {
  testing::TempDir tmp;
  const std::string src = tmp.Sub("src");
  constexpr int kDirs = 20, kPerDir = 100;
  for (int d = 0; d < kDirs; ++d) {
    for (int f = 0; f < kPerDir; ++f)
      testing::WriteFile(src + "/d" + std::to_string(d) + "/f" + std::to_string(f),
                         "file " + std::to_string(d * kPerDir + f) + "\n");
  }
  auto be = backend::LocalBackend::Open(tmp.Sub("repo"));
  ASSERT_TRUE(be.ok()) << be.status().ToString();
  repo::InitOptions init;
  init.kdf = crypto::CheapKdfParams();
  init.pack_size = 64 * 1024;
  auto repo = repo::Repository::Init(*be, "secret", init);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto catalog = catalog::Catalog::Open(tmp.Sub("catalog.db"));
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();

  BackupOptions options;
  options.paths = {src};
  options.device = "test";
  options.threads = 1;  // the walker outruns one worker: the queue fills
  options.max_queued_files = 16;
  options.checkpoint_records = 300;
  // A lost wake-up would hang the walker: fail in seconds, not at CTest's
  // timeout.
  auto run = std::async(std::launch::async, [&] { return RunBackup(**repo, **catalog, options); });
  if (run.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "the backup did not finish within 60 s (walker or worker never woken?)";
    std::_Exit(1);
  }
  auto summary = run.get();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->files_new, uint64_t{kDirs * kPerDir});
  EXPECT_TRUE(summary->errors.empty());
  EXPECT_GE(summary->segments, uint64_t{kDirs * kPerDir / 300});

  for (int n = 0; n < kDirs * kPerDir; n += 37) {
    const std::string path =
        src + "/d" + std::to_string(n / kPerDir) + "/f" + std::to_string(n % kPerDir);
    const std::string want = "file " + std::to_string(n) + "\n";
    auto rec = (*catalog)->Lookup("test", path, catalog::kLatest);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    ASSERT_TRUE(rec->has_value()) << path << " was not backed up";
    EXPECT_EQ((*rec)->content_sha256, crypto::Sha256::Digest(AsBytes(want))) << path;
    ASSERT_EQ((*rec)->chunks.size(), 1u) << path;
    auto blob = (*repo)->LoadBlob((*rec)->chunks[0]);
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    EXPECT_EQ(AsString(*blob), want) << path;
  }
}

// A symlink's target is read whole, however long; a failed read is an error,
// never a target of NUL bytes (it used to be one).
TEST(ReadLinkTargetTest, ReadsLongTargetsAndReportsFailures) {
  testing::TempDir tmp;
  const std::string long_target = "/" + std::string(1000, 'x') + "/end";
  ASSERT_EQ(symlink(long_target.c_str(), tmp.Sub("long").c_str()), 0);
  auto got = DefaultFileSystem().ReadLink(tmp.Sub("long"), 0);  // a hint too small: grown as needed
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, long_target);

  auto gone = DefaultFileSystem().ReadLink(tmp.Sub("missing"), 10);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound) << gone.status().ToString();

  testing::WriteFile(tmp.Sub("file"), "not a symlink");
  auto not_link = DefaultFileSystem().ReadLink(tmp.Sub("file"), 13);
  ASSERT_FALSE(not_link.ok());
  EXPECT_EQ(not_link.status().code(), StatusCode::kIOError) << not_link.status().ToString();
}

// Everything a backup leaves out by its exclude rules, in one tree: patterns
// ('**' too), nested .cairnignore files with a negation, a folder with a
// CACHEDIR.TAG, an editor's swap file; each counted once (a folder as one),
// the .cairnignore files themselves kept.
class ArchiverExcludeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto be = backend::LocalBackend::Open(tmp_.Sub("repo"));
    ASSERT_TRUE(be.ok()) << be.status().ToString();
    backend_ = std::move(*be);
    repo::InitOptions init;
    init.kdf = crypto::CheapKdfParams();
    auto repo = repo::Repository::Init(backend_, "secret", init);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
    auto catalog = catalog::Catalog::Open(tmp_.Sub("catalog.db"));
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(*catalog);
  }
  Result<BackupSummary> Backup(std::vector<std::string> paths, bool caches = true) {
    BackupOptions o;
    o.paths = std::move(paths);
    o.device = "test";
    o.threads = 1;
    o.exclude_patterns = {".git/*", "**/node_modules/"};
    o.exclude_caches = caches;
    return RunBackup(*repo_, *catalog_, o);
  }
  // Backed up and not deleted, as of now.
  bool Stored(const std::string& path) {
    auto rec = catalog_->Lookup("test", path, catalog::kLatest);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    return rec.ok() && rec->has_value() && !(*rec)->deleted;
  }
  testing::TempDir tmp_;
  std::shared_ptr<backend::LocalBackend> backend_;
  std::unique_ptr<repo::Repository> repo_;
  std::unique_ptr<catalog::Catalog> catalog_;
};

TEST_F(ArchiverExcludeTest, EveryRuleLeavesPathsOutAndCountsThem) {
  const std::string src = tmp_.Sub("src");
  testing::WriteFile(src + "/.cairnignore", "# build output\n*.log\nbuild/\n/secret\n");
  testing::WriteFile(src + "/a.txt", "a");
  testing::WriteFile(src + "/x.log", "x");
  testing::WriteFile(src + "/build/out.o", "o");
  testing::WriteFile(src + "/secret", "s");
  testing::WriteFile(src + "/deep/secret", "kept: '/secret' is anchored");
  testing::WriteFile(src + "/sub/.cairnignore", "!keep.log\n");
  testing::WriteFile(src + "/sub/keep.log", "k");
  testing::WriteFile(src + "/sub/y.log", "y");
  testing::WriteFile(src + "/cache/CACHEDIR.TAG", std::string(kCacheDirSignature) + "\n");
  testing::WriteFile(src + "/cache/blob", "b");
  testing::WriteFile(src + "/.notes.txt.swp", "vim");
  testing::WriteFile(src + "/p/.git/config", "g");
  testing::WriteFile(src + "/p/web/node_modules/m/index.js", "m");

  auto r = Backup({src});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->errors.empty());
  // x.log, build, secret, sub/y.log, cache, .notes.txt.swp, p/.git, node_modules
  EXPECT_EQ(r->excluded, 8u);
  for (const char* kept : {"", "/.cairnignore", "/a.txt", "/deep/secret", "/sub",
                           "/sub/.cairnignore", "/sub/keep.log", "/p", "/p/web"})
    EXPECT_TRUE(Stored(src + kept)) << kept;
  for (const char* left : {"/x.log", "/build", "/build/out.o", "/secret", "/sub/y.log", "/cache",
                           "/cache/CACHEDIR.TAG", "/cache/blob", "/.notes.txt.swp", "/p/.git",
                           "/p/.git/config", "/p/web/node_modules"})
    EXPECT_FALSE(Stored(src + left)) << left;

  // A root below an excluded folder is excluded too: the rules are the
  // same whichever folder a backup starts from.
  auto inner = Backup({src + "/build/out.o", src + "/sub/y.log", src + "/sub/keep.log"});
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  EXPECT_EQ(inner->excluded, 2u);
  EXPECT_FALSE(Stored(src + "/build/out.o"));
  EXPECT_FALSE(Stored(src + "/sub/y.log"));

  // A changed .cairnignore is read by the next run; what it excludes now
  // keeps its versions (no deletion record), what it no longer excludes is
  // backed up.
  testing::WriteFile(src + "/.cairnignore", "a.txt\n");
  auto again = Backup({src});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->deleted, 0u);
  EXPECT_TRUE(Stored(src + "/a.txt"));
  EXPECT_TRUE(Stored(src + "/x.log"));
  EXPECT_TRUE(Stored(src + "/build/out.o"));
  EXPECT_TRUE(Stored(src + "/secret"));

  // Caches are backed up when asked to.
  auto caches = Backup({src}, /*caches=*/false);
  ASSERT_TRUE(caches.ok()) << caches.status().ToString();
  EXPECT_TRUE(Stored(src + "/cache/blob"));
  EXPECT_TRUE(Stored(src + "/cache/CACHEDIR.TAG"));
}

}  // namespace
}  // namespace cairn::archiver
