// Installing `cairn run` as a systemd user service (`cairn setup`): the unit
// file's text, whether a user manager is there to take it, and running
// systemctl / loginctl.
//
// The unit is the shipped template (packaging/systemd/cairn.service.in,
// embedded at build time) with ExecStart naming the cairn that runs setup,
// so a cairn run from a build folder installs a unit that starts that
// build. A unit installed by the package or `cmake --install` in one of the
// system's user-unit folders is used as it is instead.
// Thread-safety: free functions; RunProgram forks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace cairn::daemon {

// The user unit's text with ExecStart= starting `binary`.
std::string UserUnitText(const std::string& binary);

// "" when a systemd user manager can be reached (systemd is the init system:
// `run_systemd_system` exists, and the user's manager has its private socket
// under $XDG_RUNTIME_DIR/systemd); else a sentence saying why not ("systemd
// is not running on this machine (a container or a build machine)").
// `getenv` behaves like std::getenv.
std::string UserManagerUnavailableReason(
    const std::function<const char*(const char*)>& getenv,
    const std::string& run_systemd_system = "/run/systemd/system");

// The folders where a package or `cmake --install` puts user units, under
// `root` ("" = the real /; tests pass a folder of their own).
std::vector<std::string> SystemUserUnitDirs(const std::string& root = "");
// The path of cairn.service in the first of `dirs` that has it, else "".
std::string FindInstalledUserUnit(const std::vector<std::string>& dirs);

struct ProgramResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string output;  // stdout and stderr together
};
// Runs argv (looked up in PATH), stdin from /dev/null, and waits for it.
// An error only when it could not be started at all.
Result<ProgramResult> RunProgram(const std::vector<std::string>& argv);

}  // namespace cairn::daemon
