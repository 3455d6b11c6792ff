// The level of a daemon log line: one enum for the daemon's hooks
// (daemon.h) and the log that writes them (log.h).
#pragma once

namespace cairn::daemon {

enum class LogLevel { kTrace, kDebug, kInfo, kWarning, kError, kCritical };

}  // namespace cairn::daemon
