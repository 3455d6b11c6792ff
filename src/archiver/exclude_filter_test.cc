#include "archiver/exclude_filter.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::archiver {
namespace {

using R = ExcludeReason;

const std::string kTag = std::string(kCacheDirSignature) + "\n# This file is a cache tag.\n";

class ExcludeFilterTest : public ::testing::Test {
 protected:
  ExcludeFilter Filter(ExcludeOptions o = {}) {
    return ExcludeFilter(std::move(o), DefaultFileSystem());
  }
  std::string P(const std::string& rel) { return tmp_.Sub(rel); }
  testing::TempDir tmp_;
};

TEST_F(ExcludeFilterTest, DeeperIgnoreFilesDecideFirst) {
  testing::WriteFile(P(".cairnignore"), "*.log\n/top-only\n");
  testing::WriteFile(P("a/.cairnignore"), "!keep.log\n*.bak\n");
  ExcludeFilter f = Filter();
  EXPECT_EQ(f.Excluded(P("x.log"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("a/b/x.log"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("a/keep.log"), false), R::kNone);
  EXPECT_EQ(f.Excluded(P("a/b/keep.log"), false), R::kNone);
  EXPECT_EQ(f.Excluded(P("keep.log"), false), R::kIgnoreFile);  // a/'s rule is a/'s only
  EXPECT_EQ(f.Excluded(P("a/x.bak"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("x.bak"), false), R::kNone);
  EXPECT_EQ(f.Excluded(P("top-only"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("a/top-only"), false), R::kNone);    // anchored to its folder
  EXPECT_EQ(f.Excluded(P(".cairnignore"), false), R::kNone);  // backed up itself
}

TEST_F(ExcludeFilterTest, NothingBelowAnExcludedFolderComesBack) {
  testing::WriteFile(P(".cairnignore"), "build/\n!build/keep\n");
  testing::WriteFile(P("build/.cairnignore"), "!*\n");
  ExcludeFilter f = Filter();
  EXPECT_EQ(f.Excluded(P("build"), true), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("build/keep"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("build/x/y"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("build"), false), R::kNone);  // a file named build
}

TEST_F(ExcludeFilterTest, FoldersHoldingACacheTag) {
  testing::WriteFile(P("cache/CACHEDIR.TAG"), kTag);
  testing::WriteFile(P("cache/sub/blob"), "x");
  testing::WriteFile(P("fake/CACHEDIR.TAG"), "Signature: not the right one, but long enough\n");
  testing::WriteFile(P("short/CACHEDIR.TAG"), "Signature: 8a47");
  testing::WriteFile(P("real/x"), "x");
  testing::MakeDirs(P("linked"));
  ASSERT_EQ(::symlink(P("cache/CACHEDIR.TAG").c_str(), P("linked/CACHEDIR.TAG").c_str()), 0);
  ExcludeFilter f = Filter();
  EXPECT_EQ(f.Excluded(P("cache"), true), R::kCacheDir);
  EXPECT_EQ(f.Excluded(P("cache/CACHEDIR.TAG"), false), R::kCacheDir);
  EXPECT_EQ(f.Excluded(P("cache/sub/blob"), false), R::kCacheDir);
  EXPECT_EQ(f.Excluded(P("fake"), true), R::kNone);
  EXPECT_EQ(f.Excluded(P("short"), true), R::kNone);
  EXPECT_EQ(f.Excluded(P("linked"), true), R::kNone);  // a symlinked tag is not read
  EXPECT_EQ(f.Excluded(P("real"), true), R::kNone);
  EXPECT_EQ(Filter({.exclude_caches = false}).Excluded(P("cache/sub/blob"), false), R::kNone);

  // The tag is looked at again when it changes.
  testing::WriteFile(P("fake/CACHEDIR.TAG"), kTag);
  EXPECT_EQ(f.Excluded(P("fake"), true), R::kCacheDir);
  ASSERT_EQ(::unlink(P("cache/CACHEDIR.TAG").c_str()), 0);
  EXPECT_EQ(f.Excluded(P("cache/sub/blob"), false), R::kNone);
}

TEST_F(ExcludeFilterTest, EditorTemporariesUnlessTurnedOff) {
  ExcludeFilter on = Filter();
  ExcludeFilter off = Filter({.exclude_editor_temporaries = false});
  for (const char* name : {".notes.txt.swp", ".notes.txt.swo", ".notes.txt.swx", "notes.txt~",
                           ".~lock.report.odt#", "#notes.txt#", ".#notes.txt", "~$report.docx"}) {
    EXPECT_EQ(on.Excluded(P(name), false), R::kPattern) << name;
    EXPECT_EQ(off.Excluded(P(name), false), R::kNone) << name;
  }
  for (const char* name : {"notes.txt", ".swp", "notes.swp", "4913", "report.odt", "a#b"})
    EXPECT_EQ(on.Excluded(P(name), false), R::kNone) << name;
  // Folders are never editors' temporaries: "Drafts~" is someone's folder.
  EXPECT_EQ(on.Excluded(P("Drafts~"), true), R::kNone);
  EXPECT_EQ(on.Excluded(P("Drafts~/a.txt"), false), R::kNone);
  EXPECT_EQ(on.Excluded(P("Drafts~/a.txt~"), false), R::kPattern);
}

TEST_F(ExcludeFilterTest, PatternsOnFoldersAndWhatIsBelowThem) {
  ExcludeFilter f = Filter({.patterns = {".git/*", "**/node_modules/", "photos/**/*.raw"}});
  EXPECT_EQ(f.Excluded(P("p/.git"), true), R::kPattern);  // everything in it would be
  EXPECT_EQ(f.Excluded(P("p/.git/config"), false), R::kPattern);
  EXPECT_EQ(f.Excluded(P("p/.gitignore"), false), R::kNone);
  EXPECT_EQ(f.Excluded(P("node_modules"), true), R::kPattern);
  EXPECT_EQ(f.Excluded(P("a/node_modules/x/y.js"), false), R::kPattern);
  EXPECT_EQ(f.Excluded(P("a/node_modules"), false), R::kNone);  // a file of that name
  EXPECT_EQ(f.Excluded(P("photos/a.raw"), false), R::kPattern);
  EXPECT_EQ(f.Excluded(P("photos/2024/05/a.raw"), false), R::kPattern);
  EXPECT_EQ(f.Excluded(P("photos/2024/05/a.jpg"), false), R::kNone);
}

TEST_F(ExcludeFilterTest, AChangedIgnoreFileTakesEffectAtTheNextQuestion) {
  testing::WriteFile(P("d/.cairnignore"), "*.a\n");
  ExcludeFilter f = Filter();
  EXPECT_EQ(f.Excluded(P("d/x.a"), false), R::kIgnoreFile);
  EXPECT_EQ(f.Excluded(P("d/x.b"), false), R::kNone);
  // Same size, rewritten in place at once (the times may not move).
  testing::WriteFile(P("d/.cairnignore"), "*.b\n");
  EXPECT_EQ(f.Excluded(P("d/.cairnignore"), false), R::kNone);  // the watcher's event
  EXPECT_EQ(f.Excluded(P("d/x.a"), false), R::kNone);
  EXPECT_EQ(f.Excluded(P("d/x.b"), false), R::kIgnoreFile);
  // A different size is seen without an event.
  testing::WriteFile(P("d/.cairnignore"), "*.c\n*.d\n");
  EXPECT_EQ(f.Excluded(P("d/x.b"), false), R::kNone);
  EXPECT_EQ(f.Excluded(P("d/x.d"), false), R::kIgnoreFile);
  ASSERT_EQ(::unlink(P("d/.cairnignore").c_str()), 0);
  EXPECT_EQ(f.Excluded(P("d/x.d"), false), R::kNone);
}

TEST_F(ExcludeFilterTest, AncestorsGiveTheChainOfTheParent) {
  testing::WriteFile(P(".cairnignore"), "*.x\n");
  testing::WriteFile(P("a/.cairnignore"), "*.y\n");
  testing::WriteFile(P("a/b/.cairnignore"), "*.z\n");
  ExcludeFilter f = Filter();
  ExcludeFilter::RuleChain chain;
  EXPECT_EQ(f.Ancestors(P("a/b/c"), chain), R::kNone);
  ASSERT_GE(chain.size(), 3u);  // and any above the temporary folder
  EXPECT_EQ(chain[chain.size() - 3]->folder(), tmp_.path());
  EXPECT_EQ(chain.back()->folder(), P("a/b"));
  EXPECT_EQ(f.Check(P("a/b/c.z"), false, chain), R::kIgnoreFile);
  EXPECT_EQ(f.Ancestors(P("a/b.y/c"), chain), R::kIgnoreFile);
}

}  // namespace
}  // namespace cairn::archiver
