// Path helpers shared by the watchers: normalising a root, joining names,
// and the exclusion test (cairn's own folders and the caller's rules).
// Thread-safety: PathFilter is immutable after construction; its predicate
// is called on the caller's thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "watch/watcher.h"

namespace cairn::watch {

// `path` made absolute-normal: no "." or ".." components, no repeated or
// trailing '/' ("/" stays "/"). InvalidArgument for a relative or empty path.
Result<std::string> NormalizePath(std::string_view path);

// `dir` + "/" + `name`, without doubling the '/' of the root folder.
std::string JoinPath(std::string_view dir, std::string_view name);

// True when `path` is `prefix` or lies under it ("/a/b" is under "/a", not
// under "/a/" nor "/ab"). Both normalised.
bool IsSameOrUnder(std::string_view path, std::string_view prefix);

// The exclusion rules of one watcher.
class PathFilter {
 public:
  // Normalises the prefixes (ones that are not absolute are dropped: they
  // could never match).
  PathFilter(const std::vector<std::string>& excluded_prefixes, ExcludeFn exclude);

  // True when `path` is under an excluded prefix or the predicate says so.
  bool Excluded(std::string_view path, bool is_dir) const;

 private:
  std::vector<std::string> prefixes_;
  ExcludeFn exclude_;
};

}  // namespace cairn::watch
