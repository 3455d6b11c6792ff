// IgnoreRules: one .cairnignore file, parsed, and the question it answers:
// does it exclude or re-include a path below the folder that holds it?
//
// The syntax is gitignore's (https://git-scm.com/docs/gitignore), for one
// file:
//   - blank lines match nothing; a line starting with '#' is a comment
//     ("\#" starts a pattern with '#'); a UTF-8 byte order mark at the start
//     of the file and a '\r' at the end of a line (CRLF files) are ignored;
//   - trailing spaces are ignored unless escaped ("a\ " ends with a space);
//   - a leading '!' negates: a path the pattern matches is included again
//     ("\!" starts a pattern with '!');
//   - a trailing '/' makes the pattern match folders only (and with them
//     everything below them);
//   - a '/' at the start or in the middle anchors the pattern to the folder
//     holding the file: it is matched against the path relative to that
//     folder ("/build", "doc/*.txt"); a pattern with no '/' but a trailing
//     one is matched against the name alone, at any depth ("*.o", "build/");
//   - '*' matches any run within one path component, '?' one character but
//     '/', "[a-z]", "[!a-z]" and "[^a-z]" a class; '\' quotes the next
//     character; "**/", "/**/" and "/**" cross folders (base/glob_match.h,
//     kGitignoreGlob). Case-sensitive, characters are UTF-8 code points;
//     POSIX classes ("[[:digit:]]") are not supported.
// The last pattern that matches a path decides (excluded, or included again
// with '!'); a path no pattern matches is undecided here (kNone).
// What git adds across files, ExcludeFilter (exclude_filter.h) does: a
// deeper folder's .cairnignore decides before a shallower one's, and a path
// under an excluded folder is excluded whatever its own patterns say ("a
// file cannot be re-included if a parent directory is excluded").
//
// Thread-safety: immutable after Parse; Match may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::archiver {

class IgnoreRules {
 public:
  enum class Verdict { kNone, kExclude, kInclude };

  // Parses the text of the .cairnignore held by `folder` (absolute, no
  // trailing '/' but for "/"). Every text parses.
  static IgnoreRules Parse(std::string_view text, std::string folder);

  // What these rules say of `path` (absolute, below folder()); `is_dir`:
  // whether it is a folder (for patterns ending in '/').
  Verdict Match(std::string_view path, bool is_dir) const;

  const std::string& folder() const { return folder_; }
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    std::string pattern;  // without '!', the leading '/' or the trailing '/'
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // matched against the relative path, not the name
  };
  std::string folder_;
  std::vector<Rule> rules_;
};

}  // namespace cairn::archiver
