// Backup excludes: which paths a backup run skips (BackupOptions::exclude_patterns).
//
// The pattern language is Python's fnmatch, as in the original design
// (base/glob_match.h with its default options, kFnmatchGlob):
//   '*'      any run of characters, including '/' and the empty run;
//   '?'      exactly one character (one UTF-8 code point);
//   [abc]    one character of the set; ranges like [a-z]; [!abc] negates;
//            a ']' first in the set is literal; a '[' with no closing ']'
//            is literal;
//   anything else, including '\', matches itself. Matching is case-sensitive.
// Where a pattern is applied:
//   - a pattern without '/' (e.g. "*.tmp") matches if it matches the base
//     name (the part after the last '/') or the whole path;
//   - a pattern with '/' (e.g. ".git/*") matches if it matches any suffix of
//     the path that starts at a component boundary (the whole path, or just
//     after a '/'). So ".git/*" excludes "/home/u/p/.git/config" and
//     "/home/u/p/.git/objects/ab/cd", but not "/home/u/legit/file".
// Every pattern must match the whole of the string it is applied to.
// A directory can be tested with a trailing '/': ".git/*" matches
// "/home/u/p/.git/", which lets a walker skip the directory entirely.
// Empty patterns match nothing.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::archiver {

// Returns whether `absolute_path` is excluded by any of `patterns`.
// Cost: O(patterns x path length x pattern length) in the worst case; no
// allocation.
bool MatchesExclude(const std::vector<std::string>& patterns, std::string_view absolute_path);

}  // namespace cairn::archiver
