// The systemd user unit's template: packaging/systemd/cairn.service.in as
// it is in the source tree (with @CAIRN_BINDIR@ still in it), compiled in by
// src/daemon/CMakeLists.txt (a generated user_unit_template.cc), so that
// the unit `cairn setup` installs is always the one the package ships.
#pragma once

namespace cairn::daemon {
extern const char kUserUnitTemplate[];
}  // namespace cairn::daemon
