// Atomic writes of the small private files cairn keeps: the settings file
// (and its .bak), the service's environment file.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cairn::config {

struct Owner {
  uid_t uid;
  gid_t gid;
};

// mkdir -p, each folder it makes 0700.
Status MakeFolders(const std::string& dir);

// Writes `data` to `path` through a temporary file in its folder, synced
// and renamed over it (the folder synced after), with exactly `mode` (and
// `owner`, when allowed). On failure the old file is untouched.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                           std::optional<Owner> owner);

// WriteFileAtomically with mode 0600, creating the folders (0700) first.
Status WritePrivateFile(const std::string& path, std::string_view text);

}  // namespace cairn::config
