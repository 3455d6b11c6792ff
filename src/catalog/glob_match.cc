#include "catalog/glob_match.h"

namespace cairn::catalog {
namespace {

unsigned char Lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }
unsigned char Upper(unsigned char c) { return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c; }

bool InRange(unsigned char c, unsigned char lo, unsigned char hi) { return lo <= c && c <= hi; }

// Parses the class starting at pattern[pos] == '[' and tests `c` against it.
// Returns the index just past the closing ']', or npos if the class is unterminated.
size_t MatchClass(std::string_view pattern, size_t pos, unsigned char c, bool* matched) {
  size_t i = pos + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  while (true) {
    if (i >= pattern.size()) return std::string_view::npos;
    unsigned char lo = static_cast<unsigned char>(pattern[i]);
    if (lo == ']' && !first) break;
    first = false;
    unsigned char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = static_cast<unsigned char>(pattern[i + 2]);
      i += 3;
    } else {
      i += 1;
    }
    if (InRange(c, lo, hi) || InRange(Lower(c), lo, hi) || InRange(Upper(c), lo, hi)) hit = true;
  }
  *matched = hit != negate;
  return i + 1;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  constexpr size_t npos = std::string_view::npos;
  size_t p = 0, t = 0;
  size_t star_p = npos, star_t = 0;  // where to resume after the last '*'
  while (t < text.size()) {
    bool advanced = false;
    if (p < pattern.size()) {
      unsigned char pc = static_cast<unsigned char>(pattern[p]);
      unsigned char tc = static_cast<unsigned char>(text[t]);
      if (pc == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p, ++t;
        advanced = true;
      } else if (pc == '[') {
        bool matched = false;
        size_t end = MatchClass(pattern, p, tc, &matched);
        if (end == npos) {
          if (tc == '[') {  // unterminated: a literal '['
            ++p, ++t;
            advanced = true;
          }
        } else if (matched) {
          p = end, ++t;
          advanced = true;
        }
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        if (Lower(static_cast<unsigned char>(pattern[p + 1])) == Lower(tc)) {
          p += 2, ++t;
          advanced = true;
        }
      } else if (Lower(pc) == Lower(tc)) {
        ++p, ++t;
        advanced = true;
      }
    }
    if (advanced) continue;
    if (star_p == npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace cairn::catalog
