// The restorer: writes a file or a folder as it was at a time (or one given
// version of a file) to its original place or under a target folder.
//
// Safety: every record's path must be absolute and normal (no "." or ".."
// components, no empty ones) and lie at or under the requested path;
// destinations are computed lexically and checked to stay under the target
// root; symlinks are created last and no file is written through a symlink
// in its parent chain (below the target root), so a crafted repository
// cannot make a restore write outside its target.
// Integrity: each restored file's SHA-256 is compared with the recorded one;
// a mismatch is an error and the file is removed.
// Order: folders, files (in parallel), hard links, symlinks and special
// files, then folder metadata deepest first (so mtimes stick).
// Errors: a path that cannot be restored is listed in RestoreSummary::errors
// and the restore goes on, except for a full disk: NoSpace stops it and is
// what RunRestore returns (files completed until then stay; the one being
// written is removed).
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/file_system.h"
#include "catalog/catalog.h"
#include "repo/repository.h"

namespace cairn::restorer {

struct RestoreProgress {
  uint64_t files_total = 0, files_done = 0, bytes_total = 0, bytes_done = 0;
};

struct RestoreOptions {
  std::string path;    // absolute path of the file or folder to restore
  std::string device;  // whose versions
  TimeNs at = catalog::kLatest;
  std::optional<int> version;  // 1-based, a single file
  std::string target;          // "" = in place; else re-rooted under this folder
  bool overwrite = false;
  unsigned threads = 0;
  std::function<void(const RestoreProgress&)> progress;
  // A stop request ends the restore before the next file; files already
  // written stay (each verified), and the restore returns Cancelled.
  std::stop_token stop;
  // Every access to the destination goes through it; null is
  // DefaultFileSystem(), the real one. Tests pass one that injects faults.
  // Must outlive the restore and be safe to use from many threads.
  FileSystem* fs = nullptr;
};

// What a restore reads: one file's version number `version` (1 = oldest),
// or the state at `at` of `path` and everything below it. Shared by the
// restore to a file system (RunRestore) and to a stream (stream.h).
struct Selection {
  std::string path;  // absolute
  std::string device;
  TimeNs at = catalog::kLatest;
  std::optional<int> version;
};

struct RestoreSummary {
  uint64_t files = 0, dirs = 0, links = 0, others = 0, bytes = 0;
  std::vector<std::string> errors;            // files not restored (partial)
  std::vector<std::string> skipped_existing;  // existed, no --overwrite
  uint64_t already_present = 0;  // existed with exactly the recorded content: left as is
  // Restored with their content verified, but some metadata could not be
  // applied (a mode or time refused; owners or extended attributes the
  // destination does not take): what and how many. Not a partial restore.
  std::vector<std::string> metadata_warnings;
  double seconds = 0;
};

// NotFound when the path has no version at that time (or no such version);
// NoSpace when the destination's disk filled up.
Result<RestoreSummary> RunRestore(repo::Repository& repo, catalog::Catalog& catalog,
                                  const RestoreOptions& options);

// Where a restore writes the record of `path`: `target + path` (re-rooted),
// or `path` itself in place (target "" or "/").
std::string Destination(const std::string& target, const std::string& path);

// What RunRestore would do with the same options, from the catalog alone
// (no pack is read, nothing is written; the destination is only lstat'ed).
struct PreviewSummary {
  // Where the requested path itself would be written (Destination).
  std::string target;
  // Regular files it would write and their bytes, folders it would create
  // or merge into, symlinks and hard links, special files (FIFOs; devices
  // as root). Records a restore refuses (paths not normal, or outside the
  // requested one) are not counted.
  uint64_t files = 0, bytes = 0, dirs = 0, links = 0, others = 0;
  // Destinations that exist already (lstat) as anything but a folder where
  // a file, hard link or symlink would go: what overwrite=true replaces. At
  // most `max_listed`, in path order; would_overwrite_count counts them
  // all. Without overwrite, RunRestore leaves each of them as it is: a
  // file whose content is exactly the recorded one is "already present"
  // (not an error), anything else is listed in skipped_existing (a partial
  // restore). This list does not read the files, so it includes those that
  // are already identical (a restore with overwrite leaves them alone too).
  std::vector<std::string> would_overwrite;
  uint64_t would_overwrite_count = 0;
};
// NotFound and InvalidArgument as RunRestore.
Result<PreviewSummary> PreviewRestore(catalog::Catalog& catalog, const RestoreOptions& options,
                                      size_t max_listed = 1000);

// The records `selection` names: the requested path's own record first, then
// (for a folder) every path below it as it was at `at`, sorted by path. For
// "/" with no record of its own, only the tree below it. NotFound when the
// path has no version then (saying so when it was deleted) or there is no
// such version number; InvalidArgument when a version number names a folder.
// The records are not checked for safety: callers refuse paths that are not
// normal or lie outside the requested one.
Result<std::vector<repo::VersionRecord>> SelectRecords(catalog::Catalog& catalog,
                                                       const Selection& selection);

// Lexical checks, exposed for tests: true when `path` is absolute, has no
// empty, "." or ".." components and no NUL.
bool IsNormalAbsolutePath(std::string_view path);
// True when `path` is `root` or lies below it (lexically; "/" holds every
// absolute path).
bool IsAtOrUnder(std::string_view path, std::string_view root);
// The rule every restore (to files or to a stream) applies to each record it
// selected for `requested`: a normal absolute path at or under it. A record
// that fails it is refused, never written.
bool IsRestorablePath(std::string_view path, std::string_view requested);

}  // namespace cairn::restorer
