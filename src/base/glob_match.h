// Shell-style glob matching: the one implementation behind `cairn find`
// (catalog), backup excludes and .cairnignore files (archiver), which differ
// only in the options below.
//
// Pattern syntax:
//   *       any run of characters, including none and including '/' (not
//           '/' with GlobOptions::pathname)
//   **      with GlobOptions::globstar, see below; otherwise the same as '*'
//   ?       exactly one character (not '/' with GlobOptions::pathname)
//   [abc]   one character from the set; ranges `[a-z]` (a range whose ends are
//           reversed matches nothing); negation `[!...]` (and `[^...]` with
//           GlobOptions::caret_negates); a ']' right after '[' (or after the
//           negation mark) is a member, and a '-' first or last is a member
//   \x      x literally, with GlobOptions::backslash_escapes; otherwise '\'
//           is an ordinary character
// A '[' with no closing ']' matches itself. The pattern must match the whole
// text. No pattern is invalid. With GlobOptions::pathname a class never
// matches '/', and with backslash_escapes "\]" inside a class is a member.
//
// GlobOptions::globstar gives "**" (two or more '*') git's meaning when it is
// a whole path component:
//   "**/" at the start of the pattern or right after a '/' matches zero or
//         more whole components, each with its '/': "" or any run that ends
//         in '/' ("**/b" matches "b" and "x/y/b"; "a/**/b" matches "a/b",
//         "a/x/b" and "a/x/y/b");
//   "**"  as the whole pattern or right after a '/' at its end matches any
//         run, '/' included ("a/**" matches "a/", "a/x" and "a/x/y", not
//         "a").
// Any other "**" ("a**b") is an ordinary '*' (which crosses '/' only without
// GlobOptions::pathname).
//
// "Character" is one UTF-8 code point with GlobOptions::utf8 (a byte that is
// not part of a valid UTF-8 sequence counts as one character of its own), or
// one byte without it.
//
// Cost: O(|pattern| x |text|) at worst (backtracking only to the last '*';
// with pathname, or globstar and a "**" in the pattern, a set of pattern
// positions is carried along the text, which allocates). Thread-safety: pure
// function.
#pragma once

#include <string_view>

namespace cairn {

struct GlobOptions {
  // ASCII letters match either case, in literals and in classes ("*.JPG"
  // matches "a.jpg", "[A-Z]" matches "q"); other characters compare exactly
  // (é does not match É).
  bool ascii_case_insensitive = false;
  // Characters are UTF-8 code points ("?" matches "é", two bytes); false:
  // bytes.
  bool utf8 = true;
  // "\x" matches x literally.
  bool backslash_escapes = false;
  // "[^...]" negates like "[!...]"; false: '^' is an ordinary member.
  bool caret_negates = false;
  // '*', '?' and classes never match '/' (git's WM_PATHNAME): a pattern's
  // components match the text's components one by one.
  bool pathname = false;
  // "**" as a whole component matches across '/' (see above).
  bool globstar = false;
};

// The defaults are Python's fnmatch.fnmatchcase on str (case-sensitive, code
// points, no escapes, only '!' negates).
inline constexpr GlobOptions kFnmatchGlob{};

// Backup exclude patterns (archiver/excludes.h): fnmatch plus "**".
inline constexpr GlobOptions kExcludeGlob{.globstar = true};

// .gitignore patterns (archiver/ignore_rules.h), as git's wildmatch with
// WM_PATHNAME: case-sensitive, '\' escapes, '!' or '^' negates a class,
// '*' stays within a component, "**" crosses. Characters are UTF-8 code
// points (git counts bytes: "?" matches "é" here, not in git).
inline constexpr GlobOptions kGitignoreGlob{
    .backslash_escapes = true, .caret_negates = true, .pathname = true, .globstar = true};

// Returns true if the whole of `text` matches `pattern`.
bool GlobMatch(std::string_view pattern, std::string_view text,
               const GlobOptions& options = kFnmatchGlob);

}  // namespace cairn
