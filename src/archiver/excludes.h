// Backup excludes: which paths a backup run skips by pattern
// (BackupOptions::exclude_patterns, the settings' backup.exclude_patterns),
// and the built-in patterns of editors' temporary files. The whole set of
// exclude rules (these, .cairnignore files, CACHEDIR.TAG) is applied by
// ExcludeFilter (exclude_filter.h).
//
// The pattern language is Python's fnmatch, as in the original design, plus
// "**" (base/glob_match.h with kExcludeGlob):
//   '*'      any run of characters, including '/' and the empty run;
//   '**'     as a whole path component: "**/" (at the start or after a '/')
//            matches no component or any number of them, so "**/build/"
//            matches "build/" and "a/b/build/", and "photos/**/*.raw"
//            matches "photos/a.raw" and "photos/2024/05/a.raw"; a "/**" at
//            the end matches '/' and anything after it. Elsewhere ("a**b")
//            it is '*'. Since '*' already crosses '/', "**" only adds the
//            empty-component match: every path a pattern excluded before
//            "**" was given a meaning is still excluded;
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
// A directory is also tested with a trailing '/': when ".git/*" matches
// "/home/u/p/.git/", everything in the folder would be excluded, and the
// folder itself is left out too (ExcludeFilter).
// Empty patterns match nothing.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::archiver {

// Returns whether `absolute_path` is excluded by any of `patterns`.
// Cost: O(patterns x path length x pattern length) in the worst case; no
// allocation unless a pattern holds "**".
bool MatchesExclude(const std::vector<std::string>& patterns, std::string_view absolute_path);

// A pattern that matches exactly `path` (its '*', '?' and '[' made literal:
// "[*]"), for excluding a known folder: add it and it + "/*".
std::string LiteralPattern(std::string_view path);

// Files editors keep beside the file being edited while it is open, as
// exclude patterns (applied like the user's but to files only, never to a
// folder, unless backup.exclude_editor_temporaries is false):
//   ".*.sw[a-p]", ".*.swx"  vim's swap files (".notes.txt.swp", then .swo,
//                           .swn, ... when several sessions edit one file;
//                           .swx is its test of the folder);
//   "*~"                    vim's and emacs's backup copies ("notes.txt~");
//   ".~lock.*#"             LibreOffice's and OpenOffice's lock files;
//   "#*#", ".#*"            emacs's auto-save files and lock links;
//   "~$*"                   Microsoft Office's owner files ("~$report.docx").
// What editors write only for the moment of a save (a temporary renamed
// over the file, a truncate and rewrite, vim's "4913" test of the folder)
// needs no pattern: the daemon backs up a path once it is quiet (design.md
// §17), when the temporary is gone. "4913" in particular is not a pattern: a
// file or folder of the user's may have that name (an invoice number).
const std::vector<std::string>& EditorTemporaryPatterns();

}  // namespace cairn::archiver
