// The one mapping from an errno value to a Status, for every caller that
// works on local files (the local backend, the archiver's reader, the
// restorer), so a full disk is NoSpace and a refused write PermissionDenied
// wherever it happens.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace cairn {

// Maps `err` (an errno value), from an attempt to `action` (a verb phrase
// such as "open", "write", "create folder", "list extended attributes of")
// the file at `path`, to a Status whose message says what failed and what
// to do:
//   ENOSPC         -> NoSpace           "disk full writing PATH: free some space and run again"
//   EDQUOT         -> NoSpace           "disk quota exceeded writing PATH: free ..."
//   EACCES, EPERM  -> PermissionDenied  "cannot ACTION PATH: Permission denied (check the
//                                        owner and mode of PATH and its folders)"
//   EROFS          -> PermissionDenied  "cannot ACTION PATH: ... (the file system is mounted
//                                        read-only)"
//   ENOENT         -> NotFound          "cannot ACTION PATH: No such file or directory"
//   EEXIST         -> AlreadyExists     "cannot ACTION PATH: File exists"
//   anything else  -> IOError           "cannot ACTION PATH: <strerror>"
// None is retryable: a local file system does not heal by itself.
// REQUIRES: err != 0.
Status ErrnoStatus(int err, std::string_view action, std::string_view path);

// strerror(err), thread-safe.
std::string ErrnoText(int err);

}  // namespace cairn
