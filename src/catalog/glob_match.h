// Shell-style glob matching on raw bytes, for `cairn find`.
//
// Pattern syntax:
//   *       any run of bytes, including none and including '/'
//   ?       exactly one byte
//   [abc]   one byte from the set; ranges `[a-z]`; negation `[!...]` or `[^...]`;
//           a ']' right after '[' (or after the negation mark) is a member
//   \x      the byte x literally
// An unterminated '[' matches itself. Letters match case-insensitively (ASCII
// only; other bytes compare exactly), so `*.JPG` matches "a.jpg".
// Thread-safety: pure function.
#pragma once

#include <string_view>

namespace cairn::catalog {

// Returns true if the whole of `text` matches `pattern`.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace cairn::catalog
