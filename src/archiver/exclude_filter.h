// ExcludeFilter: every rule that leaves a path out of backups, in one place,
// so that a backup's walk (archiver.cc) and the daemon's watcher (through
// engine::Session::Excluded) give the same answer for every path.
//
// A path is excluded when
//   1. a pattern matches it (BackupOptions::exclude_patterns; excludes.h),
//      or, for a folder, matches it with a '/' appended (".git/*" and
//      "/p/.git/": everything in it would be excluded, so the folder is left
//      out too); or, for anything but a folder, one of
//      EditorTemporaryPatterns() does (unless turned off);
//   2. the .cairnignore files of the folders above it say so (ignore_rules.h):
//      the deepest file with a matching pattern decides, and a '!' pattern
//      includes the path again;
//   3. it is a folder holding a CACHEDIR.TAG (https://bford.info/cachedir/):
//      a regular file (not a symlink) whose content begins with
//      "Signature: 8a477f597d28d172789f06886806bc55" (unless exclude_caches
//      is false). The whole folder is left out, the tag with it: a cache is
//      rebuilt by the program that made it, so restoring an empty folder
//      with a tag in it would bring nothing back, and a folder that is not
//      backed up needs no watch (caches are among the busiest folders);
//   4. or a folder above it is excluded (by any of these rules): an excluded
//      folder is not descended into, so nothing below it can be included
//      again.
// .cairnignore files apply below the folder that holds them whichever folder
// a backup starts from: backing up ~/Documents/a obeys ~/Documents's and
// ~'s .cairnignore, and a folder excluded from its ancestors' point of view
// is excluded as a root too. The .cairnignore files themselves are backed up
// (unless a rule excludes them). A .cairnignore that is a symlink, or that
// cannot be read, is not used (the walk warns about the latter); only its
// first 1 MiB is read.
//
// Files read are cached per folder and read again when their size, mtime,
// ctime or inode change, so the cost of a check is two lstat calls per
// folder above the path (Excluded) or per folder entered (the walk).
//
// Thread-safety: all methods may be called from several threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/ignore_rules.h"
#include "base/file_system.h"
#include "base/mutex.h"

namespace cairn::archiver {

inline constexpr std::string_view kIgnoreFileName = ".cairnignore";
inline constexpr std::string_view kCacheDirTagName = "CACHEDIR.TAG";
inline constexpr std::string_view kCacheDirSignature =
    "Signature: 8a477f597d28d172789f06886806bc55";

struct ExcludeOptions {
  std::vector<std::string> patterns = {};  // excludes.h
  bool exclude_caches = true;              // rule 3
  bool exclude_editor_temporaries = true;
};

enum class ExcludeReason { kNone, kPattern, kIgnoreFile, kCacheDir };

class ExcludeFilter {
 public:
  // The .cairnignore files in force at a folder: its own and its ancestors',
  // shallowest first (only folders that have one).
  using RuleChain = std::vector<std::shared_ptr<const IgnoreRules>>;

  // `fs` must outlive the filter. `warn` (optional) receives notices about
  // .cairnignore files that cannot be read.
  ExcludeFilter(ExcludeOptions options, FileSystem& fs,
                std::function<void(const std::string&)> warn = {});

  // Whether `path` (absolute) is excluded, by every rule above, walking from
  // "/" down. For front ends that filter paths themselves (the daemon's
  // watcher); `is_dir`: whether it is (or was) a folder. A `path` naming a
  // .cairnignore drops that file from the cache: a watcher asks about the
  // file when it changed, and the next question uses its new rules.
  ExcludeReason Excluded(std::string_view path, bool is_dir);

  // For a walk that descends folder by folder:
  // Rule 4 for `path`: checks every folder above it (not `path` itself) and
  // sets `chain` to the rules in force at its parent. Returns the reason
  // that excludes the first excluded folder above it, or kNone.
  ExcludeReason Ancestors(std::string_view path, RuleChain& chain);
  // Rules 1-3 for `path`, whose parent is not excluded and whose parent's
  // rules are `chain`.
  ExcludeReason Check(std::string_view path, bool is_dir, const RuleChain& chain);
  // The .cairnignore of `folder`, or null when it has none (or none that can
  // be read).
  std::shared_ptr<const IgnoreRules> RulesOf(const std::string& folder);

 private:
  // What a file looked like when read: read again when any of it changed.
  struct Stamp {
    int64_t mtime_ns = 0, ctime_ns = 0;
    uint64_t size = 0, inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct CachedRules {
    Stamp stamp;
    std::shared_ptr<const IgnoreRules> rules;  // null: could not be read
  };
  struct CachedTag {
    Stamp stamp;
    bool valid = false;
  };
  bool IsCacheDir(const std::string& folder);

  const ExcludeOptions options_;
  std::vector<std::string> editor_patterns_;  // for files only; empty when turned off
  FileSystem& fs_;
  const std::function<void(const std::string&)> warn_;
  Mutex mu_;
  // Only folders whose file exists are kept: the cache holds one entry per
  // .cairnignore and CACHEDIR.TAG seen, not one per folder.
  std::map<std::string, CachedRules, std::less<>> rules_ GUARDED_BY(mu_);
  std::map<std::string, CachedTag, std::less<>> tags_ GUARDED_BY(mu_);
};

}  // namespace cairn::archiver
