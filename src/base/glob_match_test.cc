#include "base/glob_match.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// --- "**" (GlobOptions::globstar) ---------------------------------------------

// Exclude patterns: fnmatch ('*' crosses '/') plus "**".
bool Exclude(std::string_view pattern, std::string_view text) {
  return GlobMatch(pattern, text, kExcludeGlob);
}

TEST(GlobMatchGlobstarTest, LeadingDoubleStarSlashMatchesNoComponentOrAny) {
  EXPECT_TRUE(Exclude("**/build/", "build/"));
  EXPECT_TRUE(Exclude("**/build/", "a/build/"));
  EXPECT_TRUE(Exclude("**/build/", "a/b/build/"));
  EXPECT_FALSE(Exclude("**/build/", "rebuild/"));
  EXPECT_FALSE(Exclude("**/build/", "a/build"));
  EXPECT_FALSE(GlobMatch("**/build/", "build/"));  // without globstar: "*/build/"
}

TEST(GlobMatchGlobstarTest, MiddleDoubleStarMatchesZeroOrMoreFolders) {
  EXPECT_TRUE(Exclude("photos/**/*.raw", "photos/a.raw"));
  EXPECT_TRUE(Exclude("photos/**/*.raw", "photos/2024/a.raw"));
  EXPECT_TRUE(Exclude("photos/**/*.raw", "photos/2024/05/a.raw"));
  EXPECT_FALSE(Exclude("photos/**/*.raw", "photos/a.jpg"));
  EXPECT_FALSE(Exclude("photos/**/*.raw", "photosa.raw"));
  EXPECT_TRUE(Exclude("a/**/**/b", "a/b"));
  EXPECT_TRUE(Exclude("a/**/**/b", "a/x/y/z/b"));
}

TEST(GlobMatchGlobstarTest, TrailingAndLoneDoubleStar) {
  EXPECT_TRUE(Exclude("a/**", "a/"));
  EXPECT_TRUE(Exclude("a/**", "a/x/y"));
  EXPECT_FALSE(Exclude("a/**", "a"));
  EXPECT_TRUE(Exclude("**", ""));
  EXPECT_TRUE(Exclude("**", "x/y"));
  EXPECT_TRUE(Exclude("a**b", "a/x/b"));  // not a whole component: '*', which crosses here
}

// .gitignore patterns: '*' stays within a component.
bool Git(std::string_view pattern, std::string_view text) {
  return GlobMatch(pattern, text, kGitignoreGlob);
}

TEST(GlobMatchPathnameTest, StarQuestionAndClassStayInAComponent) {
  EXPECT_TRUE(Git("*.o", "a.o"));
  EXPECT_FALSE(Git("*.o", "dir/a.o"));
  EXPECT_TRUE(Git("doc/*.txt", "doc/a.txt"));
  EXPECT_FALSE(Git("doc/*.txt", "doc/x/a.txt"));
  EXPECT_FALSE(Git("a?b", "a/b"));
  EXPECT_FALSE(Git("a[/]b", "a/b"));
  EXPECT_FALSE(Git("a[!x]b", "a/b"));
  EXPECT_TRUE(Git("*/*", "a/b"));
  EXPECT_FALSE(Git("*/*", "a/b/c"));
  EXPECT_TRUE(Git("*a*b*", "xaxb"));
  EXPECT_FALSE(Git("*a*/b", "xa/y/b"));
}

TEST(GlobMatchPathnameTest, DoubleStarForms) {
  EXPECT_TRUE(Git("**/foo", "foo"));
  EXPECT_TRUE(Git("**/foo", "a/b/foo"));
  EXPECT_FALSE(Git("**/foo", "a/bfoo"));
  EXPECT_TRUE(Git("**/foo/bar", "x/foo/bar"));
  EXPECT_TRUE(Git("abc/**", "abc/x"));
  EXPECT_TRUE(Git("abc/**", "abc/x/y"));
  EXPECT_FALSE(Git("abc/**", "abc"));
  EXPECT_TRUE(Git("a/**/b", "a/b"));
  EXPECT_TRUE(Git("a/**/b", "a/x/b"));
  EXPECT_TRUE(Git("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(Git("a/**/b", "a/xb"));
  EXPECT_TRUE(Git("**", "a/b/c"));
  EXPECT_TRUE(Git("a**b", "axxb"));  // not a whole component: an ordinary '*'
  EXPECT_FALSE(Git("a**b", "a/b"));
  EXPECT_FALSE(Git("a/**b", "a/x/b"));
}

TEST(GlobMatchPathnameTest, EscapesAndCaret) {
  EXPECT_TRUE(Git("\\*", "*"));
  EXPECT_FALSE(Git("\\*", "a"));
  EXPECT_TRUE(Git("\\#x", "#x"));
  EXPECT_TRUE(Git("[\\]]", "]"));
  EXPECT_TRUE(Git("[a\\-z]", "-"));
  EXPECT_FALSE(Git("[a\\-z]", "m"));
  EXPECT_TRUE(Git("[^a]", "b"));
  EXPECT_FALSE(Git("[^a]", "a"));
  EXPECT_FALSE(Git("*.TXT", "a.txt"));
}

// Without a '/' in the text, pathname mode is plain fnmatch: the two matchers
// (backtracking and sets of positions) must agree on every small case.
TEST(GlobMatchPathnameTest, AgreesWithBacktrackingWithoutSlashes) {
  const std::vector<std::string> pieces = {"a", "b", "*", "?", "[ab]", "[!a]", "**"};
  std::vector<std::string> patterns = {""};
  for (int len = 0; len < 4; ++len) {
    std::vector<std::string> longer;
    for (const auto& p : patterns)
      for (const auto& piece : pieces) longer.push_back(p + piece);
    patterns.insert(patterns.end(), longer.begin(), longer.end());
  }
  std::vector<std::string> texts = {""};
  for (int len = 0; len < 5; ++len) {
    std::vector<std::string> longer;
    for (const auto& t : texts)
      for (char c : {'a', 'b'}) longer.push_back(t + c);
    texts.insert(texts.end(), longer.begin(), longer.end());
  }
  int compared = 0;
  for (const auto& p : patterns) {
    for (const auto& t : texts) {
      ASSERT_EQ(GlobMatch(p, t), GlobMatch(p, t, GlobOptions{.pathname = true}))
          << "pattern '" << p << "' text '" << t << "'";
      ++compared;
    }
  }
  EXPECT_GT(compared, 100000);
}

}  // namespace
}  // namespace cairn
