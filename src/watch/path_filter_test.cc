#include "watch/path_filter.h"

#include <gtest/gtest.h>

#include "testing/assert_ok.h"

namespace cairn::watch {
namespace {

TEST(PathFilterTest, NormalizePath) {
  EXPECT_EQ(*NormalizePath("/a/b/"), "/a/b");
  EXPECT_EQ(*NormalizePath("//a//./b/../c"), "/a/c");
  EXPECT_EQ(*NormalizePath("/"), "/");
  EXPECT_EQ(*NormalizePath("/.."), "/");
  EXPECT_EQ(NormalizePath("a/b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizePath("").status().code(), StatusCode::kInvalidArgument);
}

TEST(PathFilterTest, JoinAndUnder) {
  EXPECT_EQ(JoinPath("/", "a"), "/a");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_TRUE(IsSameOrUnder("/a/b", "/a"));
  EXPECT_TRUE(IsSameOrUnder("/a", "/a"));
  EXPECT_FALSE(IsSameOrUnder("/ab", "/a"));
  EXPECT_FALSE(IsSameOrUnder("/a", "/a/b"));
  EXPECT_TRUE(IsSameOrUnder("/x", "/"));
}

TEST(PathFilterTest, PrefixesAndPredicate) {
  PathFilter f(
      {"/home/u/.local/share/cairn/", "relative/ignored"},
      [](std::string_view path, bool is_dir) { return is_dir && path.ends_with("/.git"); });
  EXPECT_TRUE(f.Excluded("/home/u/.local/share/cairn", true));
  EXPECT_TRUE(f.Excluded("/home/u/.local/share/cairn/repo/x", false));
  EXPECT_FALSE(f.Excluded("/home/u/.local/share/cairn2", true));
  EXPECT_TRUE(f.Excluded("/src/.git", true));
  EXPECT_FALSE(f.Excluded("/src/.git", false));
  EXPECT_FALSE(f.Excluded("/relative/ignored", false));
}

}  // namespace
}  // namespace cairn::watch
