#include "archiver/ignore_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace cairn::archiver {
namespace {

using V = IgnoreRules::Verdict;
constexpr V kNone = V::kNone, kExclude = V::kExclude, kInclude = V::kInclude;

// One case: a .cairnignore held by /r, a path relative to /r, whether it is a
// folder, and what the file says of it.
struct Case {
  const char* rules;
  const char* path;
  bool is_dir;
  V expected;
};

// The cases follow https://git-scm.com/docs/gitignore ("PATTERN FORMAT" and
// its examples).
const Case kCases[] = {
    // Blank lines and comments match nothing; "\#" is a '#'.
    {"", "a", false, kNone},
    {"\n\n   \n", "a", false, kNone},
    {"# a comment\n", "# a comment", false, kNone},
    {"\\#hash\n", "#hash", false, kExclude},
    {"  # not a comment (no '#' first)\n", "  # not a comment (no '#' first)", false, kExclude},
    // A pattern without '/' matches the name at any depth.
    {"*.o\n", "a.o", false, kExclude},
    {"*.o\n", "src/deep/a.o", false, kExclude},
    {"*.o\n", "a.oo", false, kNone},
    {"*.o\n", "ao", false, kNone},
    {"foo\n", "x/foo", true, kExclude},
    {"foo\n", "x/foo/bar", false, kNone},  // the folder is excluded, not matched again below
    // A trailing '/' matches folders only.
    {"foo/\n", "foo", true, kExclude},
    {"foo/\n", "foo", false, kNone},
    {"foo/\n", "a/b/foo", true, kExclude},
    {"frotz/\n", "frotz", true, kExclude},
    // A leading or middle '/' anchors to the file's folder.
    {"/foo\n", "foo", false, kExclude},
    {"/foo\n", "a/foo", false, kNone},
    {"doc/frotz\n", "doc/frotz", true, kExclude},
    {"doc/frotz\n", "a/doc/frotz", true, kNone},
    {"doc/frotz/\n", "doc/frotz", true, kExclude},
    {"doc/frotz/\n", "doc/frotz", false, kNone},
    {"/*.c\n", "cat-file.c", false, kExclude},
    {"/*.c\n", "mozilla-sha1/sha1.c", false, kNone},
    // '*' stays within one component.
    {"foo/*\n", "foo/test.json", false, kExclude},
    {"foo/*\n", "foo/bar", true, kExclude},
    {"foo/*\n", "foo/bar/hello.c", false, kNone},
    {"doc/*.txt\n", "doc/notes.txt", false, kExclude},
    {"doc/*.txt\n", "doc/server/arch.txt", false, kNone},
    {"*\n", "a/b", false, kExclude},  // no '/': the name "b"
    // '?' and classes.
    {"?\n", "a", false, kExclude},
    {"?\n", "ab", false, kNone},
    {"[abc].txt\n", "b.txt", false, kExclude},
    {"[abc].txt\n", "d.txt", false, kNone},
    {"[!abc].txt\n", "d.txt", false, kExclude},
    {"[^abc].txt\n", "a.txt", false, kNone},
    {"[0-9][0-9].log\n", "42.log", false, kExclude},
    // "**" forms.
    {"**/foo\n", "foo", false, kExclude},
    {"**/foo\n", "x/y/foo", false, kExclude},
    {"**/foo/bar\n", "foo/bar", false, kExclude},
    {"**/foo/bar\n", "x/foo/bar", false, kExclude},
    {"**/foo/bar\n", "x/foo/baz", false, kNone},
    {"abc/**\n", "abc/x", false, kExclude},
    {"abc/**\n", "abc/x/y", true, kExclude},
    {"abc/**\n", "abc", true, kNone},
    {"a/**/b\n", "a/b", false, kExclude},
    {"a/**/b\n", "a/x/b", false, kExclude},
    {"a/**/b\n", "a/x/y/b", false, kExclude},
    {"a/**/b\n", "b", false, kNone},
    {"**\n", "anything/at/all", false, kExclude},
    {"**/build/\n", "x/build", true, kExclude},
    {"**/build/\n", "x/build", false, kNone},
    // Negation: the last matching pattern decides.
    {"*.log\n!keep.log\n", "a.log", false, kExclude},
    {"*.log\n!keep.log\n", "keep.log", false, kInclude},
    {"*.log\n!keep.log\n", "d/keep.log", false, kInclude},
    {"!keep.log\n*.log\n", "keep.log", false, kExclude},
    {"/*\n!/foo\n/foo/*\n!/foo/bar\n", "foo", true, kInclude},
    {"/*\n!/foo\n/foo/*\n!/foo/bar\n", "other", false, kExclude},
    {"/*\n!/foo\n/foo/*\n!/foo/bar\n", "foo/baz", false, kExclude},
    {"/*\n!/foo\n/foo/*\n!/foo/bar\n", "foo/bar", true, kInclude},
    {"\\!important\n", "!important", false, kExclude},
    {"\\!important\n", "important", false, kNone},
    {"!\n", "!", false, kNone},  // a lone '!' is nothing
    {"/\n", "a", true, kNone},   // a lone '/' is nothing
    // Trailing spaces are ignored unless escaped.
    {"foo   \n", "foo", false, kExclude},
    {"foo\\ \n", "foo ", false, kExclude},
    {"foo\\ \n", "foo", false, kNone},
    {"foo\\  \n", "foo ", false, kExclude},
    // '\' quotes the next character.
    {"\\*\n", "*", false, kExclude},
    {"\\*\n", "x", false, kNone},
    {"a\\?\n", "a?", false, kExclude},
    {"a\\?\n", "ab", false, kNone},
    // CRLF lines and a byte order mark.
    {"a.tmp\r\nb.tmp\r\n", "b.tmp", false, kExclude},
    {"\xEF\xBB\xBF*.bak\n", "x.bak", false, kExclude},
    // No newline at the end; case-sensitive.
    {"*.tmp", "x.tmp", false, kExclude},
    {"*.tmp", "x.TMP", false, kNone},
};

TEST(IgnoreRules, GitignoreCases) {
  for (const Case& c : kCases) {
    IgnoreRules rules = IgnoreRules::Parse(c.rules, "/r");
    EXPECT_EQ(rules.Match(std::string("/r/") + c.path, c.is_dir), c.expected)
        << "rules '" << c.rules << "', path '" << c.path << "'" << (c.is_dir ? " (folder)" : "");
  }
}

TEST(IgnoreRules, OnlyPathsBelowItsFolder) {
  IgnoreRules rules = IgnoreRules::Parse("*\n", "/r/a");
  EXPECT_EQ(rules.Match("/r/a/x", false), kExclude);
  EXPECT_EQ(rules.Match("/r/a", true), kNone);
  EXPECT_EQ(rules.Match("/r/ab/x", false), kNone);
  EXPECT_EQ(rules.Match("/r/b/x", false), kNone);
}

TEST(IgnoreRules, InTheRootFolder) {
  IgnoreRules rules = IgnoreRules::Parse("/tmp\n*.o\n", "/");
  EXPECT_EQ(rules.Match("/tmp", true), kExclude);
  EXPECT_EQ(rules.Match("/home/tmp", true), kNone);
  EXPECT_EQ(rules.Match("/home/a.o", false), kExclude);
}

TEST(IgnoreRules, EmptyWhenNothingButCommentsAndBlanks) {
  EXPECT_TRUE(IgnoreRules::Parse("# x\n\n  \n!\n/\n", "/r").empty());
  EXPECT_FALSE(IgnoreRules::Parse("x", "/r").empty());
}

}  // namespace
}  // namespace cairn::archiver
