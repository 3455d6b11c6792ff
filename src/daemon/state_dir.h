// Where the daemon keeps its own files: the state folder
// ($XDG_STATE_HOME/cairn, default ~/.local/state/cairn; the XDG base
// directory specification's place for state that should survive a restart
// but is not worth backing up) and the names of the files it holds for one
// repository and device.
// Thread-safety: pure functions (StateDir reads only what `getenv` returns).
#pragma once

#include <functional>
#include <string>

#include "base/status.h"

namespace cairn::daemon {

// $XDG_STATE_HOME/cairn when XDG_STATE_HOME is absolute (a relative value
// is ignored, as the specification requires), else `home`/.local/state/cairn;
// "" when neither is usable (no absolute `home`). The daemon's queue and run
// lock, the log file's default folder and the status socket's fallback all
// derive from it.
// `getenv` behaves like std::getenv.
std::string StateDir(const std::function<const char*(const char*)>& getenv,
                     const std::string& home);

// The stem of one repository and device's files in the state folder:
// "run-" + 16 hex digits of a stable hash of both (a location may hold
// '/' and ':', a device any character but '/').
std::string StateFileStem(const std::string& location, const std::string& device);

// Creates `dir` and its missing parents (new ones mode 0700: the queue names
// the user's files). IOError naming the folder when it cannot.
Status MakeStateDir(const std::string& dir);

}  // namespace cairn::daemon
