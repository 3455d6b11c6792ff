// Shell-style glob matching: the one implementation behind `cairn find`
// (catalog) and backup excludes (archiver), which differ only in the options
// below.
//
// Pattern syntax:
//   *       any run of characters, including none and including '/'
//   ?       exactly one character
//   [abc]   one character from the set; ranges `[a-z]` (a range whose ends are
//           reversed matches nothing); negation `[!...]` (and `[^...]` with
//           GlobOptions::caret_negates); a ']' right after '[' (or after the
//           negation mark) is a member, and a '-' first or last is a member
//   \x      x literally, with GlobOptions::backslash_escapes; otherwise '\'
//           is an ordinary character
// A '[' with no closing ']' matches itself. The pattern must match the whole
// text. No pattern is invalid.
//
// "Character" is one UTF-8 code point with GlobOptions::utf8 (a byte that is
// not part of a valid UTF-8 sequence counts as one character of its own), or
// one byte without it.
//
// Cost: O(|pattern| x |text|) at worst (backtracking only to the last '*');
// no allocation. Thread-safety: pure function.
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
};

// The defaults are Python's fnmatch.fnmatchcase on str (case-sensitive, code
// points, no escapes, only '!' negates).
inline constexpr GlobOptions kFnmatchGlob{};

// Returns true if the whole of `text` matches `pattern`.
bool GlobMatch(std::string_view pattern, std::string_view text,
               const GlobOptions& options = kFnmatchGlob);

}  // namespace cairn
