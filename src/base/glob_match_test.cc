#include "base/glob_match.h"

#include <gtest/gtest.h>

#include <string>

namespace cairn {
namespace {

// The options `cairn find` uses (src/catalog/catalog.cc): bytes, ASCII
// case-insensitive, backslash escapes, '!' or '^' negates.
constexpr GlobOptions kCaseless{.ascii_case_insensitive = true,
                                .utf8 = false,
                                .backslash_escapes = true,
                                .caret_negates = true};

bool Caseless(std::string_view pattern, std::string_view text) {
  return GlobMatch(pattern, text, kCaseless);
}

// --- Caseless bytes, escapes (the find dialect) -----------------------------

TEST(GlobMatchTest, Literals) {
  EXPECT_TRUE(Caseless("abc", "abc"));
  EXPECT_FALSE(Caseless("abc", "abd"));
  EXPECT_FALSE(Caseless("abc", "abcd"));
  EXPECT_FALSE(Caseless("abcd", "abc"));
  EXPECT_TRUE(Caseless("", ""));
  EXPECT_FALSE(Caseless("", "a"));
}

TEST(GlobMatchTest, Star) {
  EXPECT_TRUE(Caseless("*", ""));
  EXPECT_TRUE(Caseless("*", "anything/at/all"));
  EXPECT_TRUE(Caseless("*.txt", "notes.txt"));
  EXPECT_FALSE(Caseless("*.txt", "notes.txt.bak"));
  EXPECT_TRUE(Caseless("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(Caseless("a*b*c", "aXXbYYbZ"));
  EXPECT_TRUE(Caseless("/home/*/x", "/home/u/deep/x"));  // '*' crosses '/'
  EXPECT_TRUE(Caseless("**a", "bba"));
}

TEST(GlobMatchTest, QuestionMark) {
  EXPECT_TRUE(Caseless("a?c", "abc"));
  EXPECT_FALSE(Caseless("a?c", "ac"));
  EXPECT_TRUE(Caseless("??", "\xff\n"));            // any byte, even non-UTF-8 and newline
  EXPECT_FALSE(Caseless("?.txt", "\xc3\xa9.txt"));  // bytes: é is two
  EXPECT_TRUE(Caseless("??.txt", "\xc3\xa9.txt"));
}

TEST(GlobMatchTest, Classes) {
  EXPECT_TRUE(Caseless("[abc]", "b"));
  EXPECT_FALSE(Caseless("[abc]", "d"));
  EXPECT_TRUE(Caseless("[a-c]x", "cx"));
  EXPECT_FALSE(Caseless("[a-c]x", "dx"));
  EXPECT_TRUE(Caseless("[!a-c]", "d"));
  EXPECT_FALSE(Caseless("[!a-c]", "a"));
  EXPECT_TRUE(Caseless("[^a]", "b"));
  EXPECT_FALSE(Caseless("[^a]", "A"));
  EXPECT_TRUE(Caseless("[]]", "]"));
  EXPECT_TRUE(Caseless("[a-]", "-"));
  EXPECT_TRUE(Caseless("x[", "x["));  // unterminated: literal
  EXPECT_FALSE(Caseless("x[", "xa"));
}

TEST(GlobMatchTest, CaseInsensitiveAscii) {
  EXPECT_TRUE(Caseless("*.JPG", "photo.jpg"));
  EXPECT_TRUE(Caseless("*.jpg", "PHOTO.JPG"));
  EXPECT_TRUE(Caseless("[A-Z]", "q"));
  EXPECT_TRUE(Caseless("[a-z]", "Q"));
  EXPECT_FALSE(Caseless("\xc3\xa9", "\xc3\x89"));  // é vs É: not ASCII, exact
}

TEST(GlobMatchTest, Escape) {
  EXPECT_TRUE(Caseless("a\\*", "a*"));
  EXPECT_FALSE(Caseless("a\\*", "ab"));
  EXPECT_TRUE(Caseless("\\?", "?"));
  EXPECT_FALSE(Caseless("\\?", "x"));
  EXPECT_TRUE(Caseless("\\A", "a"));    // an escaped letter still folds case
  EXPECT_TRUE(Caseless("a\\", "a\\"));  // a trailing '\' is itself
}

// --- The defaults: Python's fnmatch.fnmatchcase --------------------------------

TEST(GlobMatchFnmatchTest, CaseSensitive) {
  EXPECT_TRUE(GlobMatch("*.jpg", "a.jpg"));
  EXPECT_FALSE(GlobMatch("*.JPG", "a.jpg"));
  EXPECT_FALSE(GlobMatch("[A-Z]", "q"));
}

TEST(GlobMatchFnmatchTest, Utf8Characters) {
  EXPECT_TRUE(GlobMatch("?.txt", "\xc3\xa9.txt"));  // é: one character, two bytes
  EXPECT_FALSE(GlobMatch("??.txt", "\xc3\xa9.txt"));
  EXPECT_TRUE(GlobMatch("[\xc3\xa0-\xc3\xbf]", "\xc3\xa9"));  // [à-ÿ] holds é
  EXPECT_TRUE(GlobMatch("??", "\xff\xfe"));  // invalid UTF-8: one character per byte
  EXPECT_FALSE(GlobMatch("?", "\xff\xfe"));
  EXPECT_TRUE(GlobMatch("*\xc3\xa9", "x\xc3\xa9"));  // backtracking steps whole characters
}

TEST(GlobMatchFnmatchTest, BackslashAndCaretAreOrdinary) {
  EXPECT_TRUE(GlobMatch("a\\*", "a\\bc"));
  EXPECT_FALSE(GlobMatch("a\\*", "a*"));
  EXPECT_TRUE(GlobMatch("[^a]", "^"));
  EXPECT_TRUE(GlobMatch("[^a]", "a"));
  EXPECT_FALSE(GlobMatch("[^a]", "b"));
  EXPECT_TRUE(GlobMatch("[!]x]", "y"));  // ']' after the negation mark is a member
  EXPECT_FALSE(GlobMatch("[!]x]", "]"));
  EXPECT_FALSE(GlobMatch("[z-a]", "m"));  // a reversed range is empty
}

}  // namespace
}  // namespace cairn
