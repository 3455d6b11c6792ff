// Changing a settings file the way a person would (issue 13, PUT /api/settings).
//
// yaml-cpp cannot write a document back with its comments, so the settings
// file's TEXT is edited: only the lines of the keys changed are touched, and
// comments, blank lines, the order of sections and keys and the other keys'
// formatting stay byte for byte.
//
// The YAML shapes handled are those settings files hold (see
// config/settings.example.yaml):
//   - block sections ("backup:" then keys indented by any consistent amount),
//     including empty ones ("repository:" with only comments under it) and
//     comment lines at any indentation between keys;
//   - scalar values, plain or quoted, with a comment after them
//     ("port: 5000  # the dashboard": the comment and the spaces before it
//     stay);
//   - lists in flow style ("[a, b]", even over several lines) and in block
//     style ("- a" lines below the key, indented or at the key's
//     indentation);
//   - sections written as a flow map ("web: {host: 127.0.0.1, port: 5000}",
//     even over several lines): a section changed is rewritten in block style
//     (its values keep their text; comments inside the braces are lost, one
//     after the closing brace stays on the section's line);
//   - a section given as "web: ~" or "web: {}".
// Anything else (a block scalar "|" whose lines start with '#', a document
// made of a single flow map, "---" markers with a section appended after
// them, ...) is caught by a check that re-reads the result: when any value
// other than the ones changed would read differently, or a changed one would
// not read as given, the edit is refused (Unsupported) instead of guessing.
//
// Thread-safety: EditSettingsText is a pure function. UpdateSettingsFile is safe to call
// concurrently for different files; two concurrent calls for the same file
// each write a whole, valid file, but the last rename wins (callers serialize
// them, e.g. the web server holds a mutex around it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "config/settings.h"

namespace cairn::config {

// One key's new value. `key` is "section.key" as in the settings file
// ("backup.exclude_patterns", "versioning.keep_daily", "web.port").
struct SettingChange {
  std::string key;
  // nullopt: remove the key (back to its default); a bool, a whole number, a
  // string, or a list of strings.
  std::optional<std::variant<bool, int64_t, std::string, std::vector<std::string>>> value;
};

// The settings file's text with `changes` applied in order (a later change of
// the same key wins), touching only the lines of the keys changed:
//   - a key present in its section is replaced in place: its value, including
//     a block list below it; a comment after the value stays. A key whose
//     value already reads as the one given (e.g. 'port: 5000' set to 5000, a
//     string written with other quotes) keeps its line unchanged, and so does
//     each item of a block list that stays (with its comment);
//   - a missing key is added to its section, with the section's indentation:
//     after the section's commented-out example of it ("  # keep_daily: 7")
//     when there is one, else after the section's last indented line;
//   - a missing section is appended at the end (after a blank line);
//   - nullopt removes the key's lines (a missing key: nothing to do);
//   - strings are quoted only when YAML needs it (or when, plain, they would
//     read as a number, a boolean or null, or differently in any way): "*.tmp",
//     ".git/*", "a: b", "#x", "yes", "010" are quoted; ~/Documents, 30d and
//     https://host/x are not. Double quotes, or single ones when the text has
//     '"' or '\'; control characters are escaped;
//   - lists are written in block style when the key's list was in block
//     style, else in flow style ("[a, b]"); an empty list is "[]";
//   - values are not checked here (ParseSettings does that; see
//     UpdateSettingsFile): a bool for a number is written as given.
// Errors:
//   InvalidArgument: a key that is not "section.key" or that the schema does
//     not know (named as ParseSettings names it, with the allowed keys);
//     `text` is not valid YAML, or not a mapping of sections.
//   Unsupported: a layout this editor cannot change safely (see above).
// `source_name` (usually the file's path) prefixes error messages.
Result<std::string> EditSettingsText(std::string_view text,
                                     const std::vector<SettingChange>& changes,
                                     std::string_view source_name = "");

// Applies `changes` to the settings file at `path` (a missing file counts as
// empty; its missing folders are created 0700):
//   1. edits the text (EditSettingsText);
//   2. validates the result with ParseSettings: a bad value is
//      InvalidArgument with the settings file's message naming the key (e.g.
//      "PATH: web.port: must be between 1 and 65535, got 70000 (line 3)"), and
//      nothing is written;
//   3. when the text changed: writes the previous text to `path + ".bak"`
//      (when the file existed; replacing an older .bak) and the new text to a
//      temporary file in the file's folder, fsyncs it and renames it over the
//      file, then fsyncs the folder. The file keeps its mode (and, when
//      allowed, its owner); .bak gets the same mode; a new file is 0600 (it
//      may hold secrets). When `path` is a symlink, its target is replaced and
//      the link kept.
// Returns the new settings as ParseSettings reads them (source: `path`).
// Errors: those of EditSettingsText and ParseSettings; IOError,
// PermissionDenied, NoSpace (ErrnoStatus) when the file cannot be read or
// written, InvalidArgument when it is larger than 1 MiB or a directory.
Result<Settings> UpdateSettingsFile(const std::string& path,
                                    const std::vector<SettingChange>& changes);

}  // namespace cairn::config
