#include "archiver/excludes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cairn::archiver {
namespace {

TEST(MatchesExclude, BaseNamePatterns) {
  const std::vector<std::string> p = {"*.tmp", "*.log"};
  EXPECT_TRUE(MatchesExclude(p, "/home/u/a.tmp"));
  EXPECT_TRUE(MatchesExclude(p, "/home/u/deep/dir/server.log"));
  EXPECT_FALSE(MatchesExclude(p, "/home/u/a.tmp.txt"));
  EXPECT_FALSE(MatchesExclude(p, "/home/u/tmp"));
  EXPECT_FALSE(MatchesExclude(p, "/home/u/logs/readme"));
}

TEST(MatchesExclude, PatternWithoutSlashAlsoMatchesWholePath) {
  // '*' crosses '/', as in fnmatch, so this one matches the full path.
  EXPECT_TRUE(MatchesExclude({"*/cache*"}, "/home/u/cache/x"));
  EXPECT_TRUE(MatchesExclude({"*cache*"}, "/home/u/.cache/thumbs/x.png"));
  EXPECT_FALSE(MatchesExclude({"cache"}, "/home/u/cache/x"));
  EXPECT_TRUE(MatchesExclude({"cache"}, "/home/u/cache"));
}

TEST(MatchesExclude, GitDirectoryAnywhere) {
  const std::vector<std::string> p = {".git/*"};
  EXPECT_TRUE(MatchesExclude(p, "/home/u/p/.git/config"));
  EXPECT_TRUE(MatchesExclude(p, "/home/u/p/.git/objects/ab/cdef"));
  EXPECT_TRUE(MatchesExclude(p, "/home/u/p/.git/"));  // the directory itself, for pruning
  EXPECT_FALSE(MatchesExclude(p, "/home/u/legit/file"));
  EXPECT_FALSE(MatchesExclude(p, "/home/u/p/.gitignore"));
  EXPECT_FALSE(MatchesExclude(p, "/home/u/p/x.git/config"));
}

TEST(MatchesExclude, AbsolutePatternAnchorsAtRoot) {
  EXPECT_TRUE(MatchesExclude({"/home/u/tmp/*"}, "/home/u/tmp/a/b"));
  EXPECT_FALSE(MatchesExclude({"/home/u/tmp/*"}, "/data/home/u/tmp/a"));
}

TEST(MatchesExclude, QuestionMarkAndClasses) {
  EXPECT_TRUE(MatchesExclude({"file?.txt"}, "/d/file1.txt"));
  EXPECT_FALSE(MatchesExclude({"file?.txt"}, "/d/file12.txt"));
  EXPECT_FALSE(MatchesExclude({"file?.txt"}, "/d/file.txt"));
  EXPECT_TRUE(MatchesExclude({"?.txt"}, "/d/\xc3\xa9.txt"));  // one character, two bytes
  EXPECT_TRUE(MatchesExclude({"[ab].bak"}, "/d/a.bak"));
  EXPECT_TRUE(MatchesExclude({"[ab].bak"}, "/d/b.bak"));
  EXPECT_FALSE(MatchesExclude({"[ab].bak"}, "/d/c.bak"));
  EXPECT_TRUE(MatchesExclude({"[!ab].bak"}, "/d/c.bak"));
  EXPECT_FALSE(MatchesExclude({"[!ab].bak"}, "/d/a.bak"));
  EXPECT_TRUE(MatchesExclude({"v[0-9]"}, "/d/v7"));
  EXPECT_FALSE(MatchesExclude({"v[0-9]"}, "/d/vx"));
  EXPECT_TRUE(MatchesExclude({"[]x]"}, "/d/]"));   // ']' first is literal
  EXPECT_TRUE(MatchesExclude({"a[b"}, "/d/a[b"));  // unclosed '[' is literal
  EXPECT_FALSE(MatchesExclude({"a[b"}, "/d/ab"));
}

TEST(MatchesExclude, Backtracking) {
  EXPECT_TRUE(MatchesExclude({"*a*b*c"}, "/d/xaxxbxxc"));
  EXPECT_FALSE(MatchesExclude({"*a*b*c"}, "/d/xaxxcxxb"));
  EXPECT_TRUE(MatchesExclude({"**.tmp"}, "/d/x.tmp"));
  EXPECT_FALSE(MatchesExclude({}, "/d/x.tmp"));
  EXPECT_FALSE(MatchesExclude({""}, "/d/x.tmp"));
}

TEST(MatchesExclude, CaseSensitive) {
  EXPECT_FALSE(MatchesExclude({"*.TMP"}, "/d/x.tmp"));
  EXPECT_FALSE(MatchesExclude({"[A-Z].bak"}, "/d/a.bak"));
}

TEST(MatchesExclude, BackslashIsOrdinary) {
  EXPECT_TRUE(MatchesExclude({"a\\*"}, "/d/a\\b"));
  EXPECT_FALSE(MatchesExclude({"a\\*"}, "/d/a*"));
}

TEST(MatchesExclude, DoubleStarCrossesFoldersAndMatchesNone) {
  EXPECT_TRUE(MatchesExclude({"**/build/"}, "/home/u/p/build/"));
  EXPECT_TRUE(MatchesExclude({"**/build/"}, "/build/"));
  EXPECT_FALSE(MatchesExclude({"**/build/"}, "/home/u/p/rebuild/"));
  EXPECT_FALSE(MatchesExclude({"**/build/"}, "/home/u/p/build"));  // a file named build
  EXPECT_TRUE(MatchesExclude({"photos/**/*.raw"}, "/home/u/photos/a.raw"));
  EXPECT_TRUE(MatchesExclude({"photos/**/*.raw"}, "/home/u/photos/2024/05/a.raw"));
  EXPECT_FALSE(MatchesExclude({"photos/**/*.raw"}, "/home/u/photos/2024/a.jpg"));
  EXPECT_FALSE(MatchesExclude({"photos/**/*.raw"}, "/home/u/myphotos/a.raw"));
  EXPECT_TRUE(MatchesExclude({"/home/u/tmp/**"}, "/home/u/tmp/a/b"));
  EXPECT_TRUE(MatchesExclude({"/home/u/tmp/**"}, "/home/u/tmp/"));
  EXPECT_FALSE(MatchesExclude({"/home/u/tmp/**"}, "/home/u/tmp"));
  // What '*' matched before, "**" still matches.
  EXPECT_TRUE(MatchesExclude({"**/cache*"}, "/home/u/cache/x"));
  EXPECT_TRUE(MatchesExclude({"a/**"}, "/x/a/b/c"));
}

TEST(MatchesExclude, EditorTemporaries) {
  const std::vector<std::string>& p = EditorTemporaryPatterns();
  EXPECT_TRUE(MatchesExclude(p, "/d/.notes.txt.swp"));
  EXPECT_TRUE(MatchesExclude(p, "/d/.notes.txt.swn"));
  EXPECT_TRUE(MatchesExclude(p, "/d/notes.txt~"));
  EXPECT_FALSE(MatchesExclude(p, "/d/4913"));  // vim's lives for an instant; a user's may not
  EXPECT_TRUE(MatchesExclude(p, "/d/.~lock.report.ods#"));
  EXPECT_TRUE(MatchesExclude(p, "/d/#notes#"));
  EXPECT_TRUE(MatchesExclude(p, "/d/.#notes"));
  EXPECT_TRUE(MatchesExclude(p, "/d/~$report.docx"));
  EXPECT_FALSE(MatchesExclude(p, "/d/notes.txt"));
  EXPECT_FALSE(MatchesExclude(p, "/d/.swp"));
  EXPECT_FALSE(MatchesExclude(p, "/d/notes.swp"));  // vim's are hidden: ".notes.swp"
  EXPECT_FALSE(MatchesExclude(p, "/d/.notes.swq"));
  EXPECT_FALSE(MatchesExclude(p, "/~dir/x"));
}

}  // namespace
}  // namespace cairn::archiver
