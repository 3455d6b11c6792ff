#include "base/glob_match.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cairn {
namespace {

constexpr size_t kNone = std::string_view::npos;

// One character of a text or pattern: a code point (or byte), or a byte that
// is not valid UTF-8, given a value above every code point so it equals only
// itself.
struct Unit {
  uint32_t value;
  size_t size;
};

constexpr uint32_t kRawByte = 0x110000;

// REQUIRES: i < s.size().
Unit Decode(std::string_view s, size_t i, const GlobOptions& o) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  if (!o.utf8 || b < 0x80) return {b, 1};
  size_t n;
  uint32_t v;
  uint32_t min;
  if ((b & 0xE0) == 0xC0) {
    n = 2, v = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3, v = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4, v = b & 0x07, min = 0x10000;
  } else {
    return {kRawByte + b, 1};
  }
  if (i + n > s.size()) return {kRawByte + b, 1};
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {kRawByte + b, 1};
    v = (v << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return {kRawByte + b, 1};
  return {v, n};
}

uint32_t Lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }
uint32_t Upper(uint32_t c) { return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c; }

bool Same(uint32_t a, uint32_t b, const GlobOptions& o) {
  return a == b || (o.ascii_case_insensitive && Lower(a) == Lower(b));
}

bool IsNegation(char c, const GlobOptions& o) { return c == '!' || (o.caret_negates && c == '^'); }

// If pattern[p] == '[' opens a class, returns the index of its closing ']'
// (the first ']' after the optional negation mark and an optional leading
// ']' member); otherwise kNone.
size_t ClassEnd(std::string_view pattern, size_t p, const GlobOptions& o) {
  size_t j = p + 1;
  if (j < pattern.size() && IsNegation(pattern[j], o)) ++j;
  if (j < pattern.size() && pattern[j] == ']') ++j;
  while (j < pattern.size() && pattern[j] != ']') ++j;
  return j < pattern.size() ? j : kNone;
}

// Whether `c` is a member of `set`, the text between '[' (and its negation
// mark) and ']'.
bool InClass(std::string_view set, uint32_t c, const GlobOptions& o) {
  auto in_range = [&](uint32_t lo, uint32_t hi) {
    if (lo <= c && c <= hi) return true;
    if (!o.ascii_case_insensitive) return false;
    uint32_t lower = Lower(c), upper = Upper(c);
    return (lo <= lower && lower <= hi) || (lo <= upper && upper <= hi);
  };
  size_t k = 0;
  while (k < set.size()) {
    Unit lo = Decode(set, k, o);
    k += lo.size;
    Unit hi = lo;
    if (k + 1 < set.size() && set[k] == '-') {  // a '-' last in the set is a member
      hi = Decode(set, k + 1, o);
      k += 1 + hi.size;
    }
    if (in_range(lo.value, hi.value)) return true;
  }
  return false;
}

// Matches the pattern element at pattern[p] (not '*') against one text
// character; on success sets *next to the index after the element.
bool MatchOne(std::string_view pattern, size_t p, Unit c, const GlobOptions& o, size_t* next) {
  if (pattern[p] == '?') {
    *next = p + 1;
    return true;
  }
  if (pattern[p] == '[') {
    size_t end = ClassEnd(pattern, p, o);
    if (end != kNone) {
      size_t start = p + 1;
      bool negate = IsNegation(pattern[start], o);
      if (negate) ++start;
      *next = end + 1;
      return InClass(pattern.substr(start, end - start), c.value, o) != negate;
    }
    // An unclosed '[' is a literal.
  }
  if (pattern[p] == '\\' && o.backslash_escapes && p + 1 < pattern.size()) ++p;
  Unit literal = Decode(pattern, p, o);
  *next = p + literal.size;
  return Same(literal.value, c.value, o);
}

// ---- The set-of-positions matcher (pathname and globstar) ------------------

// One element of a pattern.
enum class Kind : uint8_t {
  kLiteral,  // one character, `value`
  kAny,      // '?'
  kClass,    // [...]: `set` (without brackets and negation mark), `negate`
  kStar,     // a run of characters; `cross`: may include '/'
  kDirs,     // "**/": "" or any run ending in '/'
};

struct Token {
  Kind kind;
  bool negate = false;
  bool cross = false;
  uint32_t value = 0;
  std::string_view set = {};
};

// ClassEnd, with "\x" skipped as one member when escapes are on.
size_t EscapedClassEnd(std::string_view pattern, size_t p, const GlobOptions& o) {
  size_t j = p + 1;
  if (j < pattern.size() && IsNegation(pattern[j], o)) ++j;
  if (j < pattern.size() && pattern[j] == ']') ++j;
  while (j < pattern.size() && pattern[j] != ']') {
    if (o.backslash_escapes && pattern[j] == '\\' && j + 1 < pattern.size()) ++j;
    ++j;
  }
  return j < pattern.size() ? j : kNone;
}

// InClass, with "\x" standing for x when escapes are on.
bool EscapedInClass(std::string_view set, uint32_t c, const GlobOptions& o) {
  if (!o.backslash_escapes || set.find('\\') == std::string_view::npos) return InClass(set, c, o);
  auto next = [&](size_t& k) {
    if (set[k] == '\\' && k + 1 < set.size()) ++k;
    Unit u = Decode(set, k, o);
    k += u.size;
    return u.value;
  };
  size_t k = 0;
  while (k < set.size()) {
    uint32_t lo = next(k);
    uint32_t hi = lo;
    if (k + 1 < set.size() && set[k] == '-') {
      ++k;
      hi = next(k);
    }
    if (lo <= c && c <= hi) return true;
    if (o.ascii_case_insensitive &&
        ((lo <= Lower(c) && Lower(c) <= hi) || (lo <= Upper(c) && Upper(c) <= hi)))
      return true;
  }
  return false;
}

std::vector<Token> Tokenize(std::string_view pattern, const GlobOptions& o) {
  std::vector<Token> out;
  size_t p = 0;
  while (p < pattern.size()) {
    char ch = pattern[p];
    if (ch == '*') {
      size_t q = p;
      while (q < pattern.size() && pattern[q] == '*') ++q;
      bool whole_component = o.globstar && q - p >= 2 && (p == 0 || pattern[p - 1] == '/');
      if (whole_component && q < pattern.size() && pattern[q] == '/') {
        out.push_back({.kind = Kind::kDirs});
        p = q + 1;
        continue;
      }
      bool cross = !o.pathname || (whole_component && q == pattern.size());
      out.push_back({.kind = Kind::kStar, .cross = cross});
      p = q;
      continue;
    }
    if (ch == '?') {
      out.push_back({.kind = Kind::kAny});
      ++p;
      continue;
    }
    if (ch == '[') {
      size_t end = EscapedClassEnd(pattern, p, o);
      if (end != kNone) {
        size_t start = p + 1;
        bool negate = IsNegation(pattern[start], o);
        if (negate) ++start;
        out.push_back(
            {.kind = Kind::kClass, .negate = negate, .set = pattern.substr(start, end - start)});
        p = end + 1;
        continue;
      }
    }
    if (ch == '\\' && o.backslash_escapes && p + 1 < pattern.size()) ++p;
    Unit u = Decode(pattern, p, o);
    out.push_back({.kind = Kind::kLiteral, .value = u.value});
    p += u.size;
  }
  return out;
}

// Positions are 2 * token index (before the token) and 2 * index + 1 (inside
// a kDirs, after at least one character of it); 2 * tokens.size() accepts.
class PositionSet {
 public:
  explicit PositionSet(const std::vector<Token>& tokens)
      : tokens_(&tokens), on_(2 * tokens.size() + 2, 0) {}
  bool Has(size_t s) const { return on_[s] != 0; }
  void Clear() { std::fill(on_.begin(), on_.end(), 0); }
  // Adds `s` and what it reaches without consuming a character. Transitions
  // that consume nothing only go forward, so one call settles them.
  void Add(size_t s) {
    if (on_[s]) return;
    on_[s] = 1;
    if (s % 2 != 0 || s / 2 >= tokens_->size()) return;
    const Token& t = (*tokens_)[s / 2];
    if (t.kind == Kind::kStar) Add(s + 2);
    if (t.kind == Kind::kDirs) {
      Add(s + 1);  // inside
      Add(s + 2);  // empty
    }
  }
  bool Empty() const { return std::find(on_.begin(), on_.end(), 1) == on_.end(); }

 private:
  const std::vector<Token>* tokens_;
  std::vector<uint8_t> on_;
};

bool MatchPositions(std::string_view pattern, std::string_view text, const GlobOptions& o) {
  const std::vector<Token> tokens = Tokenize(pattern, o);
  const size_t accept = 2 * tokens.size();
  PositionSet now(tokens), next(tokens);
  now.Add(0);
  for (size_t t = 0; t < text.size();) {
    Unit c = Decode(text, t, o);
    t += c.size;
    const bool slash = c.value == '/';
    next.Clear();
    for (size_t s = 0; s < accept; ++s) {
      if (!now.Has(s)) continue;
      const Token& tok = tokens[s / 2];
      if (s % 2 == 1) {  // inside "**/"
        next.Add(s);
        if (slash) next.Add(s + 1);
        continue;
      }
      switch (tok.kind) {
        case Kind::kLiteral:
          if (Same(tok.value, c.value, o)) next.Add(s + 2);
          break;
        case Kind::kAny:
          if (!(slash && o.pathname)) next.Add(s + 2);
          break;
        case Kind::kClass:
          if (!(slash && o.pathname) && EscapedInClass(tok.set, c.value, o) != tok.negate)
            next.Add(s + 2);
          break;
        case Kind::kStar:
          if (tok.cross || !slash) next.Add(s);
          break;
        case Kind::kDirs:
          break;  // through its inside position
      }
    }
    std::swap(now, next);
    if (now.Empty()) return false;
  }
  return now.Has(accept);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, const GlobOptions& options) {
  if (options.pathname || (options.globstar && pattern.find("**") != std::string_view::npos))
    return MatchPositions(pattern, text, options);
  size_t p = 0;
  size_t t = 0;
  size_t star_p = kNone;  // the pattern index after the last '*' seen
  size_t star_t = 0;      // where the text resumes if we backtrack to it
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;  // a trailing '*' takes the rest
      star_p = p;
      star_t = t;
      continue;
    }
    Unit c = Decode(text, t, options);
    size_t next;
    if (p < pattern.size() && MatchOne(pattern, p, c, options, &next)) {
      p = next;
      t += c.size;
      continue;
    }
    // Backtracking to the most recent '*' only is complete, because '*'
    // matches any run: let it take one more character.
    if (star_p == kNone) return false;
    star_t += Decode(text, star_t, options).size;
    t = star_t;
    p = star_p;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace cairn
