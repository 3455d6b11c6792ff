// The shared test helpers themselves: ASSERT_OK/EXPECT_OK fail (and say
// why) exactly when they should, TempDir cleans up, the file helpers do what
// their comments say. Every other test relies on them.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <string>
#include <utility>

#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::testing {
namespace {

Status NotFound() { return Status::NotFound("no such pack"); }
Result<int> CorruptInt() { return Status::Corruption("bad checksum"); }

TEST(AssertOkTest, PassesOnOkStatusAndResult) {
  ASSERT_OK(Status::OK());
  EXPECT_OK(Status::OK());
  ASSERT_OK(Result<int>(7));
  // Commas inside the expression need no extra parentheses.
  EXPECT_OK(Result<std::pair<int, int>>(std::pair<int, int>(1, 2)));
}

TEST(AssertOkTest, FailsOnAnErrorStatusWithItsMessage) {
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(NotFound()), "no such pack");
  EXPECT_FATAL_FAILURE(ASSERT_OK(NotFound()), "no such pack");
  // The expression is named too.
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(NotFound()), "NotFound()");
}

TEST(AssertOkTest, FailsOnAnErrorResultWithItsMessage) {
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(CorruptInt()), "bad checksum");
  EXPECT_FATAL_FAILURE(ASSERT_OK(CorruptInt()), "bad checksum");
}

TEST(AssertOkTest, AssertOkStopsTheTest) {
  // ASSERT_OK returns from the enclosing function; EXPECT_OK does not.
  static bool after_assert = false;
  static bool after_expect = false;
  EXPECT_FATAL_FAILURE(
      [] {
        ASSERT_OK(NotFound());
        after_assert = true;
      }(),
      "no such pack");
  EXPECT_NONFATAL_FAILURE(
      [] {
        EXPECT_OK(NotFound());
        after_expect = true;
      }(),
      "no such pack");
  EXPECT_FALSE(after_assert);
  EXPECT_TRUE(after_expect);
}

TEST(TempDirTest, ExistsAndIsRemovedWithItsContent) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    ASSERT_FALSE(path.empty());
    EXPECT_TRUE(Exists(path));
    EXPECT_EQ(dir.Sub("a/b"), path + "/a/b");
    WriteFile(dir.Sub("a/b/c.txt"), "x");
  }
  EXPECT_FALSE(Exists(path));
}

TEST(FileUtilTest, WriteFileMakesParentsAndSetsTheExactMode) {
  TempDir dir;
  const std::string file = dir.Sub("x/y/z.bin");
  const std::string data("bytes\0with a NUL\xff", 17);
  WriteFile(file, data, 0640);
  EXPECT_EQ(ReadFile(file), data);
  struct stat st;
  ASSERT_EQ(lstat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // Rewriting truncates.
  WriteFile(file, "short");
  EXPECT_EQ(ReadFile(file), "short");
}

TEST(FileUtilTest, AppendAndPatch) {
  TempDir dir;
  const std::string file = dir.Sub("f");
  WriteFile(file, "hello");
  AppendFile(file, " world");
  PatchFile(file, 1, "EL");
  EXPECT_EQ(ReadFile(file), "hELlo world");
}

TEST(FileUtilTest, MakeDirsIsMkdirP) {
  TempDir dir;
  MakeDirs(dir.Sub("a/b/c"));
  MakeDirs(dir.Sub("a/b/c"));  // already there: fine
  struct stat st;
  ASSERT_EQ(lstat(dir.Sub("a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(FileUtilTest, FailuresAreTestFailuresNotCrashes) {
  TempDir dir;
  EXPECT_NONFATAL_FAILURE(EXPECT_EQ(ReadFile(dir.Sub("missing")), ""), "missing");
  // Never through a symlink.
  ASSERT_EQ(symlink("target", dir.Sub("link").c_str()), 0);
  EXPECT_NONFATAL_FAILURE(WriteFile(dir.Sub("link"), "x"), "link");
  EXPECT_FALSE(Exists(dir.Sub("target")));
}

TEST(FileUtilTest, ExistsSeesDanglingSymlinks) {
  TempDir dir;
  EXPECT_FALSE(Exists(dir.Sub("link")));
  ASSERT_EQ(symlink("nowhere", dir.Sub("link").c_str()), 0);
  EXPECT_TRUE(Exists(dir.Sub("link")));
}

TEST(FileUtilTest, PrintableEscapesControlAndHighBytes) {
  EXPECT_EQ(Printable(std::string("a\nb\xff", 4)), "a\\x0ab\\xff");
}

}  // namespace
}  // namespace cairn::testing
