#include "catalog/glob_match.h"

#include <gtest/gtest.h>

#include <string>

namespace cairn::catalog {
namespace {

TEST(GlobMatchTest, Literals) {
  EXPECT_TRUE(GlobMatch("abc", "abc"));
  EXPECT_FALSE(GlobMatch("abc", "abd"));
  EXPECT_FALSE(GlobMatch("abc", "abcd"));
  EXPECT_FALSE(GlobMatch("abcd", "abc"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(GlobMatchTest, Star) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything/at/all"));
  EXPECT_TRUE(GlobMatch("*.txt", "notes.txt"));
  EXPECT_FALSE(GlobMatch("*.txt", "notes.txt.bak"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXXbYYbZ"));
  EXPECT_TRUE(GlobMatch("/home/*/x", "/home/u/deep/x"));  // '*' crosses '/'
  EXPECT_TRUE(GlobMatch("**a", "bba"));
}

TEST(GlobMatchTest, QuestionMark) {
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("??", "\xff\n"));  // any byte, even non-UTF-8 and newline
}

TEST(GlobMatchTest, Classes) {
  EXPECT_TRUE(GlobMatch("[abc]", "b"));
  EXPECT_FALSE(GlobMatch("[abc]", "d"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "cx"));
  EXPECT_FALSE(GlobMatch("[a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("[!a-c]", "d"));
  EXPECT_FALSE(GlobMatch("[!a-c]", "a"));
  EXPECT_TRUE(GlobMatch("[^a]", "b"));
  EXPECT_TRUE(GlobMatch("[]]", "]"));
  EXPECT_TRUE(GlobMatch("[a-]", "-"));
  EXPECT_TRUE(GlobMatch("x[", "x["));  // unterminated: literal
  EXPECT_FALSE(GlobMatch("x[", "xa"));
}

TEST(GlobMatchTest, CaseInsensitiveAscii) {
  EXPECT_TRUE(GlobMatch("*.JPG", "photo.jpg"));
  EXPECT_TRUE(GlobMatch("*.jpg", "PHOTO.JPG"));
  EXPECT_TRUE(GlobMatch("[A-Z]", "q"));
  EXPECT_TRUE(GlobMatch("[a-z]", "Q"));
  EXPECT_FALSE(GlobMatch("\xc3\xa9", "\xc3\x89"));  // é vs É: not ASCII, exact
}

TEST(GlobMatchTest, Escape) {
  EXPECT_TRUE(GlobMatch("a\\*", "a*"));
  EXPECT_FALSE(GlobMatch("a\\*", "ab"));
  EXPECT_TRUE(GlobMatch("\\?", "?"));
  EXPECT_FALSE(GlobMatch("\\?", "x"));
}

}  // namespace
}  // namespace cairn::catalog
